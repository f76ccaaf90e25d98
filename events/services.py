"""Creating, changing and deleting event subscriptions: what the ARM API and the portal both call.
Input is checked here once, so both refuse the same things in the same words."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from events import delivery, signing
from events.models import MAX_DELIVERY_ATTEMPTS, MAX_TTL_MINUTES, EventSubscription, ProvisioningState
from projects.access import Permission

WRITE_EVENT_SUBSCRIPTION = Permission(
    ("Microsoft.EventGrid/eventSubscriptions/write",), "create or change event subscriptions"
)
DELETE_EVENT_SUBSCRIPTION = Permission(("Microsoft.EventGrid/eventSubscriptions/delete",), "delete event subscriptions")

# The events the hub publishes (docs/api.md "Events out" describes each one's data).
EVENT_TYPES = (
    "Microsoft.Migrate.JobStarted",
    "Microsoft.Migrate.JobSucceeded",
    "Microsoft.Migrate.JobFailed",
    "Microsoft.Migrate.JobCancelled",
    "Microsoft.Migrate.ReplicationStateChanged",
    "Microsoft.Migrate.ReplicationHealthChanged",
)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9-]{3,64}$")
MIN_SECRET_LENGTH = 16


class InvalidSubscription(Exception):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field_name = field_name
        self.message = message


@dataclass
class SubscriptionSpec:
    """What a person or a client asked for."""

    endpoint_url: str
    secret: str | None = None  # None: the hub makes one (and shows it once)
    included_event_types: list[str] = field(default_factory=list)
    subject_begins_with: str = ""
    subject_ends_with: str = ""
    subject_case_sensitive: bool = False
    max_delivery_attempts: int = MAX_DELIVERY_ATTEMPTS
    event_ttl_minutes: int = MAX_TTL_MINUTES
    labels: list[str] = field(default_factory=list)

    def check(self) -> None:
        try:
            parts = urlsplit(self.endpoint_url or "")
            port_ok = parts.port is None or parts.port > 0
        except ValueError:  # a malformed IPv6 host or port
            parts, port_ok = urlsplit(""), False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            # Event Grid wants https; the emulator also takes http, for receivers on a test rig.
            raise InvalidSubscription("endpointUrl", "The endpoint URL must be an absolute http or https URL.")
        known = {event_type.lower(): event_type for event_type in EVENT_TYPES}
        unknown = [t for t in self.included_event_types if t.lower() not in known]
        if unknown:
            raise InvalidSubscription(
                "includedEventTypes",
                f"Unknown event type '{unknown[0]}'. The hub publishes: {', '.join(EVENT_TYPES)}.",
            )
        self.included_event_types = [known[t.lower()] for t in self.included_event_types]
        if not 1 <= self.max_delivery_attempts <= MAX_DELIVERY_ATTEMPTS:
            raise InvalidSubscription(
                "maxDeliveryAttempts", f"maxDeliveryAttempts must be from 1 to {MAX_DELIVERY_ATTEMPTS}."
            )
        if not 1 <= self.event_ttl_minutes <= MAX_TTL_MINUTES:
            raise InvalidSubscription(
                "eventTimeToLiveInMinutes", f"eventTimeToLiveInMinutes must be from 1 to {MAX_TTL_MINUTES}."
            )
        if self.secret is not None and len(self.secret) < MIN_SECRET_LENGTH:
            raise InvalidSubscription(
                "webhook-secret", f"The signing secret must be at least {MIN_SECRET_LENGTH} characters long."
            )


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name or ""):
        raise InvalidSubscription(
            "name", "Event subscription names are 3 to 64 characters: letters, digits and hyphens."
        )


def event_subscription_put(
    *, subscription, resource_group_name: str, scope_id: str, name: str, spec: SubscriptionSpec, created_by
) -> tuple[EventSubscription, bool, str | None]:
    """Create or replace the subscription `name` on the scope. Returns it, whether it is new, and the
    signing secret when the hub made one (the only time it is shown). A replacement keeps the secret
    unless a new one is given."""
    check_name(name)
    spec.check()
    with transaction.atomic():
        existing = (
            EventSubscription.objects.select_for_update()
            .filter(subscription=subscription, scope_id__iexact=scope_id, name__iexact=name)
            .first()
        )
        shown = None
        if spec.secret is None and existing is None:
            spec.secret = shown = signing.new_secret()
        target = existing or EventSubscription(
            subscription=subscription,
            resource_group_name=resource_group_name,
            scope_id=scope_id,
            name=name,
            created_by=created_by,
        )
        if spec.secret is not None:
            target.secret_encrypted = signing.seal(spec.secret)
            target.secret_hint = spec.secret[:8] if spec.secret.startswith(signing.PREFIX) else spec.secret[:3]
        if existing is None or existing.endpoint_url != spec.endpoint_url:
            # A new endpoint must prove it wants the events before it gets any (Event Grid's handshake).
            target.provisioning_state = ProvisioningState.CREATING
            target.validation_code = str(uuid.uuid4()).upper()
            target.validation_attempts, target.validation_error = 0, ""
            target.validation_due_at, target.validation_claimed_until = timezone.now(), None
        target.endpoint_url = spec.endpoint_url
        target.included_event_types = spec.included_event_types
        target.subject_begins_with = spec.subject_begins_with
        target.subject_ends_with = spec.subject_ends_with
        target.subject_case_sensitive = spec.subject_case_sensitive
        target.max_delivery_attempts = spec.max_delivery_attempts
        target.event_ttl_minutes = spec.event_ttl_minutes
        target.labels = spec.labels
        target.updated_at = timezone.now()
        target.save()
    if target.provisioning_state == ProvisioningState.CREATING:
        # The first handshake now, as Event Grid's create does, so that a PUT to a live endpoint
        # answers Succeeded; the delivery threads retry a failed one.
        delivery.validate_now(target.pk)
        target.refresh_from_db()
    return target, existing is None, shown


def event_subscription_delete(*, event_subscription: EventSubscription) -> None:
    """Its deliveries go with it: a deleted subscription's webhook gets nothing more."""
    event_subscription.delete()
