"""From an announcement (jobs.event_sources) to an Event and its deliveries: rows only, in the
caller's transaction. Nothing here calls out or waits, so a receiver that is down or slow never slows
the job or the replication that announced it; the delivery threads do the rest."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from events.models import Event, EventDelivery, EventSubscription
from hub import clock
from jobs.event_sources import PublishedEvent
from projects.models import MigrationResource

RELATIVE_TO_VAULT = ("replicationJobs/",)


def group_id(subscription_id: str, resource_group_name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group_name}"


def subscribers(subscription_id: str, resource_group_name: str):
    return EventSubscription.objects.active().filter(
        subscription_id=subscription_id, resource_group_name__iexact=resource_group_name
    )


def on_event_published(sender, event: PublishedEvent, **kwargs) -> None:
    candidates = list(subscribers(event.subscription_id, event.resource_group_name))
    if not candidates:
        return  # the common case: one indexed query, nothing written
    base = group_id(event.subscription_id, event.resource_group_name)
    subject = f"{base}/{event.subject}"
    if event.subject.startswith(RELATIVE_TO_VAULT):
        # Site Recovery's jobs belong to the vault (replicationJobs below it), when the group has one.
        vault = MigrationResource.objects.filter(
            resource_group__subscription_id=event.subscription_id,
            resource_group__name__iexact=event.resource_group_name,
            kind=MigrationResource.Kind.RECOVERY_SERVICES_VAULT,
        ).first()
        if vault is not None:
            subject = f"{vault.arm_id}/{event.subject}"
    record(
        candidates,
        subscription_id=event.subscription_id,
        resource_group_name=event.resource_group_name,
        event_type=event.event_type,
        subject=subject,
        data=event.data,
    )


def record(
    candidates, *, subscription_id: str, resource_group_name: str, event_type: str, subject: str, data: dict
) -> Event | None:
    """The event and a delivery to each candidate subscription whose filter it passes; None when none does."""
    matching = [candidate for candidate in candidates if candidate.matches(event_type, subject)]
    if not matching:
        return None
    event = Event.objects.create(
        subscription_id=subscription_id,
        resource_group_name=resource_group_name,
        topic=group_id(subscription_id, resource_group_name),
        subject=subject,
        event_type=event_type,
        event_time=clock.now(),
        data=data,
    )
    now = timezone.now()
    EventDelivery.objects.bulk_create(
        EventDelivery(
            event=event,
            event_subscription=subscription,
            due_at=now,
            expires_at=now + timedelta(minutes=subscription.event_ttl_minutes),
        )
        for subscription in matching
    )
    return event
