"""The one clock every time-dependent rule reads.

An emulator control can move it forward (key expiry, heartbeat health, RPO) so that a test or a demo
can make days pass without waiting. The offset lives in the database so every process agrees on it;
it is cached for a second because some callers read the clock in loops.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.apps import apps
from django.utils import timezone

_CACHE_SECONDS = 1.0
MAX_ADVANCE = timedelta(days=3650)
MAX_OFFSET_SECONDS = 50 * 365 * 86400.0
_cached: tuple[float, float] | None = None  # (monotonic time read, offset seconds)


def _offset_row():
    # Through the app registry, not an import: hub.models reads this clock (token expiry).
    return apps.get_model("hub", "EmulatorClock")


def offset() -> timedelta:
    global _cached
    EmulatorClock = _offset_row()

    if _cached is None or time.monotonic() - _cached[0] > _CACHE_SECONDS:
        row = EmulatorClock.objects.filter(pk=1).values_list("offset_seconds", flat=True).first()
        _cached = (time.monotonic(), row or 0.0)
    return timedelta(seconds=_cached[1])


def now() -> datetime:
    return timezone.now() + offset()


def reset() -> datetime:
    """Back to the wall clock: rules measured against the emulated time see time go back."""
    global _cached
    EmulatorClock = _offset_row()

    EmulatorClock.objects.update_or_create(pk=1, defaults={"offset_seconds": 0.0})
    _cached = None
    return now()


def parse_duration(text: str) -> timedelta:
    """'5d', '12h', '90m', '30s' or a combination such as '1d12h'."""
    import re

    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([dhms])", text.strip().lower())
    if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s+", "", text.strip().lower()):
        raise ValueError(f"'{text}' is not a duration: use e.g. 5d, 12h, 90m, 30s or 1d12h")
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    total = timedelta()
    for number, unit in parts:
        total += timedelta(**{units[unit]: min(float(number), 10**7)})
    if total > MAX_ADVANCE:
        raise ValueError(f"'{text}' is too far: the clock moves at most {MAX_ADVANCE.days} days at a time")
    return total


def advance(delta: timedelta) -> datetime:
    """Move the emulator's clock forward (never back) and return the new time."""
    global _cached
    from django.db.models import F

    EmulatorClock = _offset_row()

    seconds = min(max(delta.total_seconds(), 0.0), MAX_ADVANCE.total_seconds())
    EmulatorClock.objects.get_or_create(pk=1)
    EmulatorClock.objects.filter(pk=1).update(offset_seconds=F("offset_seconds") + seconds)
    # However many advances, emulated time stays within what datetimes can hold.
    EmulatorClock.objects.filter(pk=1, offset_seconds__gt=MAX_OFFSET_SECONDS).update(offset_seconds=MAX_OFFSET_SECONDS)
    _cached = None
    return now()
