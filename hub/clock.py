"""The one clock every time-dependent rule reads.

An emulator control can move it forward (key expiry, heartbeat health, RPO) so that a test or a demo
can make days pass without waiting. The offset lives in the database so every process agrees on it;
it is cached for a second because some callers read the clock in loops.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.utils import timezone

_CACHE_SECONDS = 1.0
_cached: tuple[float, float] | None = None  # (monotonic time read, offset seconds)


def offset() -> timedelta:
    global _cached
    from hub.models import EmulatorClock

    if _cached is None or time.monotonic() - _cached[0] > _CACHE_SECONDS:
        row = EmulatorClock.objects.filter(pk=1).values_list("offset_seconds", flat=True).first()
        _cached = (time.monotonic(), row or 0.0)
    return timedelta(seconds=_cached[1])


def now() -> datetime:
    return timezone.now() + offset()


def advance(delta: timedelta) -> datetime:
    """Move the emulator's clock forward (never back) and return the new time."""
    global _cached
    from django.db.models import F

    from hub.models import EmulatorClock

    seconds = max(delta.total_seconds(), 0.0)
    EmulatorClock.objects.get_or_create(pk=1)
    EmulatorClock.objects.filter(pk=1).update(offset_seconds=F("offset_seconds") + seconds)
    _cached = None
    return now()
