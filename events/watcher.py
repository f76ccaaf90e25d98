"""Turns the state sources of jobs.event_sources (replication state and health) into events.

Every round it asks each source for the resources in the resource groups that have a subscription,
compares each resource's values with the last ones seen (ObservedResourceState) and publishes one
event per changed value. A resource seen for the first time is news only if it was created after the
scope's first subscription; older ones are just noted, so subscribing does not replay history. A
value that changes and changes back between two rounds is not seen: these are states, not a log."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from events import publishing
from events.models import EventSubscription, ObservedResourceState
from jobs import event_sources

logger = logging.getLogger(__name__)

# The event each watched value announces, and the data key its previous value goes under.
STATE_EVENT_TYPES = {
    "migrationState": ("Microsoft.Migrate.ReplicationStateChanged", "previousMigrationState"),
    "health": ("Microsoft.Migrate.ReplicationHealthChanged", "previousHealth"),
}


def watch_once() -> int:
    """One round over every state source; returns how many events it published."""
    subscriptions = list(EventSubscription.objects.active())
    if not subscriptions:
        return 0
    by_scope: dict[tuple[str, str], list[EventSubscription]] = {}
    for subscription in subscriptions:
        by_scope.setdefault((str(subscription.subscription_id), subscription.resource_group_name.lower()), []).append(
            subscription
        )
    published = 0
    for name, source in event_sources.state_sources().items():
        try:
            observed = list(source(set(by_scope)))
        except Exception:
            logger.exception("The %s state source failed; trying again next round", name)
            continue
        known = dict(
            ObservedResourceState.objects.filter(subject__in=[state.subject for state in observed]).values_list(
                "subject", "values"
            )
        )
        for state in observed:
            previous = known.get(state.subject)
            if previous == state.values:
                continue
            candidates = by_scope[(state.subscription_id, state.resource_group_name.lower())]
            published += _changed(state, previous, candidates)
    return published


def _changed(state: event_sources.ObservedState, previous: dict | None, candidates) -> int:
    """Publish what changed, under the resource's row lock: two workers watching at once agree on
    who publishes (the second finds the values already noted)."""
    count = 0
    try:
        with transaction.atomic():
            row = ObservedResourceState.objects.select_for_update().filter(subject=state.subject).first()
            if row is not None:
                previous = row.values
                if previous == state.values:
                    return 0
                row.values, row.seen_at = state.values, timezone.now()
                row.save(update_fields=["values", "seen_at"])
            else:
                first_subscribed = min(candidate.created_at for candidate in candidates)
                previous = {} if state.created_at >= first_subscribed else dict(state.values)
                ObservedResourceState.objects.create(subject=state.subject, values=state.values)
            for key, value in state.values.items():
                if key not in STATE_EVENT_TYPES or previous.get(key) == value:
                    continue
                event_type, previous_key = STATE_EVENT_TYPES[key]
                event = publishing.record(
                    candidates,
                    subscription_id=state.subscription_id,
                    resource_group_name=state.resource_group_name,
                    event_type=event_type,
                    subject=state.subject,
                    data={**state.data, **state.values, previous_key: previous.get(key)},
                )
                count += event is not None
    except IntegrityError:
        return 0  # another watcher noted it first, and published
    return count
