"""Event subscriptions, the events they receive, and the delivery log.

An Event is written once, by the publisher, in the transaction of the change it reports. For each
subscription it matches, an EventDelivery row is written beside it: the outbox of that webhook. The
delivery threads (events.delivery) claim due rows, POST, and record every attempt; a delivery ends
Delivered, or DeadLettered when its attempts or its time to live run out. Rows are never deleted by
delivery: the log is the dead-letter destination."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from hub.scopes import visibility_q

# Event Grid's limits on a subscription's retry policy, and its defaults.
MAX_DELIVERY_ATTEMPTS = 30
MAX_TTL_MINUTES = 1440


class ProvisioningState(models.TextChoices):
    # Event Grid's: a new webhook is Creating until it answers the validation handshake.
    CREATING = "Creating", "Creating"
    SUCCEEDED = "Succeeded", "Succeeded"
    FAILED = "Failed", "Failed"


class EventSubscriptionQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(visibility_q(user, subscription_field="subscription", rg_field="resource_group_name"))

    def active(self):
        """The ones whose endpoint passed the validation handshake: only they receive events."""
        return self.filter(provisioning_state=ProvisioningState.SUCCEEDED)


class EventSubscription(models.Model):
    """A webhook subscription on a scope: a resource group, or an Azure Migrate project or Recovery
    Services vault in one. It receives the events of its resource group that pass its filter."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    subscription = models.ForeignKey("projects.Subscription", on_delete=models.CASCADE, related_name="+")
    resource_group_name = models.CharField(max_length=90)
    # The ARM id of the scope, as created (the resource group's, the project's or the vault's).
    scope_id = models.CharField(max_length=600)
    name = models.CharField(max_length=64)
    endpoint_url = models.URLField(max_length=2000)
    # The HMAC key of the webhook signature, encrypted (hub.secrets); shown once, at creation.
    secret_encrypted = models.TextField()
    secret_hint = models.CharField(max_length=8)  # its first characters, so a person can tell keys apart
    included_event_types = models.JSONField(default=list, blank=True)  # empty: every type
    subject_begins_with = models.CharField(max_length=600, blank=True)
    subject_ends_with = models.CharField(max_length=600, blank=True)
    subject_case_sensitive = models.BooleanField(default=False)
    max_delivery_attempts = models.PositiveSmallIntegerField(default=MAX_DELIVERY_ATTEMPTS)
    event_ttl_minutes = models.PositiveIntegerField(default=MAX_TTL_MINUTES)
    labels = models.JSONField(default=list, blank=True)
    # The validation handshake (events.delivery): a SubscriptionValidationEvent whose validationCode
    # the endpoint must echo as validationResponse, retried a few times before the subscription fails.
    provisioning_state = models.CharField(
        max_length=20, choices=ProvisioningState.choices, default=ProvisioningState.CREATING
    )
    validation_code = models.CharField(max_length=64, blank=True)
    validation_attempts = models.PositiveSmallIntegerField(default=0)
    validation_due_at = models.DateTimeField(null=True, blank=True)
    validation_claimed_until = models.DateTimeField(null=True, blank=True)
    validation_error = models.CharField(max_length=400, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = EventSubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "subscription",
                models.functions.Lower("scope_id"),
                models.functions.Lower("name"),
                name="unique_event_subscription_per_scope",
            )
        ]
        indexes = [models.Index(fields=["subscription", "resource_group_name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def arm_id(self) -> str:
        return f"{self.scope_id}/providers/Microsoft.EventGrid/eventSubscriptions/{self.name}"

    def matches(self, event_type: str, subject: str) -> bool:
        """Event Grid's filter: the event type among the included ones (all when none), and the
        subject's beginning and end (case-insensitive unless asked otherwise)."""
        if self.included_event_types and event_type.lower() not in {t.lower() for t in self.included_event_types}:
            return False
        begins, ends = self.subject_begins_with, self.subject_ends_with
        if not self.subject_case_sensitive:
            subject, begins, ends = subject.lower(), begins.lower(), ends.lower()
        return subject.startswith(begins) and subject.endswith(ends)


class Event(models.Model):
    """One event, in the Event Grid schema's fields."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    subscription = models.ForeignKey("projects.Subscription", on_delete=models.CASCADE, related_name="+")
    resource_group_name = models.CharField(max_length=90)
    topic = models.CharField(max_length=600)
    subject = models.CharField(max_length=1000)
    event_type = models.CharField(max_length=120)
    event_time = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict)
    data_version = models.CharField(max_length=10, default="1.0")

    class Meta:
        ordering = ["-event_time"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.subject}"

    @property
    def subject_tail(self) -> str:
        """The end of the subject, which tells events apart (the rest names the resource group)."""
        parts = self.subject.rsplit("/", 2)
        return "…/" + "/".join(parts[-2:]) if len(parts) == 3 else self.subject

    def as_event_grid(self) -> dict:
        """The event as Event Grid's schema has it (metadataVersion is Event Grid's own, "1")."""
        return {
            "id": str(self.id),
            "topic": self.topic,
            "subject": self.subject,
            "eventType": self.event_type,
            "eventTime": self.event_time.isoformat().replace("+00:00", "Z"),
            "data": self.data,
            "dataVersion": self.data_version,
            "metadataVersion": "1",
        }


class DeliveryState(models.TextChoices):
    PENDING = "Pending", "Pending"
    RETRYING = "Retrying", "Retrying"
    DELIVERED = "Delivered", "Delivered"
    DEAD_LETTERED = "DeadLettered", "Dead-lettered"


class EventDelivery(models.Model):
    """One event to one subscription's webhook: its outbox row and its line in the delivery log."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    event_subscription = models.ForeignKey(EventSubscription, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=20, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Real time, not hub.clock: delivery is about the machine and its receivers, not emulated days.
    due_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=400, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    dead_lettered_at = models.DateTimeField(null=True, blank=True)
    dead_letter_reason = models.CharField(max_length=40, blank=True)  # Event Grid's: MaxDeliveryAttemptsExceeded

    class Meta:
        ordering = ["-event__event_time", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "event_subscription"], name="one_delivery_per_subscription")
        ]
        indexes = [models.Index(fields=["state", "due_at"])]

    def __str__(self) -> str:
        return f"{self.event} -> {self.event_subscription} ({self.state})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(EventDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class ObservedResourceState(models.Model):
    """The last state the watcher saw of a resource (jobs.event_sources state sources): a change from
    it is an event."""

    subject = models.CharField(max_length=1000, unique=True)
    values = models.JSONField(default=dict)
    seen_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.subject
