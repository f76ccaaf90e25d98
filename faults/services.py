"""Injecting, clearing and asking about faults: the one way in for every other app."""

from __future__ import annotations

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
    return Fault.objects.create(
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
    return bool(
        Fault.objects.filter(pk=fault.pk, cleared_at__isnull=True).update(cleared_at=clock.now(), cleared_by=cleared_by)
    )


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
