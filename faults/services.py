"""Injecting, clearing and asking about faults: the one way in for every other app."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction

from faults.kinds import KINDS
from faults.models import Fault
from hub import clock

MAX_DURATION = timedelta(days=30)


class FaultRejected(ValueError):
    """Bad input for a fault; the message says what to do."""


@transaction.atomic
def inject(
    *,
    tenant,
    injected_by,
    kind: str,
    scope: str,
    scope_kind: str,
    starts_at: datetime | None = None,
    duration: timedelta | None = None,
    probability: float = 1.0,
    parameters: dict | None = None,
    fault_id=None,
) -> Fault:
    description = KINDS.get(kind)
    if description is None:
        raise FaultRejected(f"Unknown fault kind {kind!r}; choose one of {', '.join(KINDS)}.")
    if scope_kind not in description.scope_kinds:
        raise FaultRejected(
            f"{description.label} is scoped to {' or '.join(description.scope_kinds)}, not {scope_kind}."
        )
    scope = (scope or "").strip().lower()
    if not scope.startswith("/") or len(scope) > 400:
        raise FaultRejected("The scope must be a resource id that starts with '/' (at most 400 characters).")
    if not 0 < probability <= 1:
        raise FaultRejected("Probability must be above 0 and at most 1.")
    if probability < 1 and not description.probability_means:
        raise FaultRejected(
            f"{description.label} is a state, not an event that happens now and then: it takes no probability. "
            "Leave the probability out (or give 1)."
        )
    if duration is not None and not timedelta(0) < duration <= MAX_DURATION:
        raise FaultRejected(
            "Duration must be above zero and at most 30 days; leave it out for a fault that lasts until cleared."
        )
    try:
        cleaned = description.clean_parameters(parameters)
    except ValueError as error:
        raise FaultRejected(str(error)) from None
    now = clock.now()
    starts_at = starts_at or now
    if starts_at > now + MAX_DURATION:
        raise FaultRejected("A fault may start at most 30 days from now.")
    forget_in_force(on_commit_too=True)
    return Fault.objects.create(
        **({"id": fault_id} if fault_id is not None else {}),
        tenant=tenant,
        kind=kind,
        scope_kind=scope_kind,
        scope=scope,
        parameters=cleaned,
        probability=probability,
        starts_at=starts_at,
        ends_at=starts_at + duration if duration is not None else None,
        injected_by=injected_by,
        injected_at=now,
    )


def clear(fault: Fault, *, cleared_by) -> bool:
    """Ends the fault now; False when it was already cleared (a conditional update: no lost race)."""
    cleared = Fault.objects.filter(pk=fault.pk, cleared_at__isnull=True).update(
        cleared_at=clock.now(), cleared_by=cleared_by
    )
    forget_in_force(on_commit_too=True)
    return bool(cleared)


# The faults in force, read at most once a second per moment asked about: every upload, and every
# server's health on a page of thousands, asks. Faults are few, so all of them (every kind, every tenant)
# are read in one query. A fault injected or cleared in this process is seen at once; in another, within
# a second.
IN_FORCE_REUSED_FOR = 1.0  # seconds
_in_force_seen: dict = {}  # moment asked about (None: the hub's now) -> (monotonic time read, by kind)


def in_force_by_kind(now: datetime | None = None) -> dict[str, dict[str, Fault]]:
    """{kind: {scope: fault}} of the faults in force at `now` (None: now by the hub's clock), probability
    not rolled; of two faults of a kind on one scope, the one started last."""
    seen = _in_force_seen.get(now)
    if seen is None or time.monotonic() - seen[0] > IN_FORCE_REUSED_FOR:
        if len(_in_force_seen) > 32:
            _in_force_seen.clear()
        by_kind: dict = {}
        for fault in Fault.objects.in_force(now or clock.now()).order_by("starts_at"):
            by_kind.setdefault(fault.kind, {})[fault.scope] = fault
        seen = _in_force_seen[now] = (time.monotonic(), by_kind)
    return seen[1]


def forget_in_force(*, on_commit_too: bool = False) -> None:
    """Read the faults in force again next time: now, and (a change being made) once it commits, so
    that no read in between keeps the old ones."""
    _in_force_seen.clear()
    if on_commit_too:
        transaction.on_commit(_in_force_seen.clear)


def in_force_on(scope: str, kinds: Iterable[str]) -> list[Fault]:
    """The faults of these kinds in force now on `scope`, from the once-a-second read."""
    by_kind = in_force_by_kind()
    return [by_kind[kind][scope] for kind in kinds if scope in by_kind.get(kind, {})]


def active_for(scopes: Iterable[str], *, kinds: Iterable[str] | None = None) -> list[Fault]:
    """Faults in force on any of these scopes now (probability not rolled: callers roll per occurrence
    with `fault.strikes()`, or pass the probability on to the appliance)."""
    wanted = [scope.lower() for scope in scopes if scope]
    if not wanted:
        return []
    rows = Fault.objects.in_force(clock.now()).filter(scope__in=wanted)
    if kinds is not None:
        rows = rows.filter(kind__in=list(kinds))
    return list(rows)


def active(kind: str, scopes: Iterable[str]) -> Fault | None:
    """The fault of this kind that strikes now on one of these scopes, or None."""
    for fault in active_for(scopes, kinds=[kind]):
        if fault.strikes():
            return fault
    return None
