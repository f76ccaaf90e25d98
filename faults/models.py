"""One injected fault. Its scope is an ARM-style resource id (kinds.ScopeKind names which sort),
stored lowercased so lookups compare the way ARM compares ids."""

from __future__ import annotations

import random
import uuid
from datetime import datetime

from django.conf import settings
from django.db import models

from faults.kinds import KINDS, FaultKind, ScopeKind


class FaultState(models.TextChoices):
    SCHEDULED = "Scheduled", "Scheduled"
    ACTIVE = "Active", "Active"
    ENDED = "Ended", "Ended"
    CLEARED = "Cleared", "Cleared"


class FaultQuerySet(models.QuerySet):
    def in_force(self, now: datetime):
        """Started, not ended, not cleared (probability aside)."""
        return self.filter(cleared_at__isnull=True, starts_at__lte=now).filter(
            models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=now)
        )


class Fault(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    tenant = models.ForeignKey("projects.Tenant", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=[(slug, kind.label) for slug, kind in KINDS.items()])
    scope_kind = models.CharField(max_length=20, choices=list(ScopeKind.LABELS.items()))
    scope = models.CharField(max_length=400)
    parameters = models.JSONField(default=dict)
    probability = models.FloatField(default=1.0)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    injected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    injected_at = models.DateTimeField()
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)

    objects = FaultQuerySet.as_manager()

    class Meta:
        ordering = ["-injected_at"]
        indexes = [models.Index(fields=["kind", "scope"])]

    def __str__(self) -> str:
        return f"{self.description.label} on {self.scope}"

    @property
    def description(self) -> FaultKind:
        return KINDS[self.kind]

    def state(self, now: datetime) -> str:
        if self.cleared_at is not None:
            return FaultState.CLEARED
        if self.starts_at > now:
            return FaultState.SCHEDULED
        if self.ends_at is not None and self.ends_at <= now:
            return FaultState.ENDED
        return FaultState.ACTIVE

    def strikes(self) -> bool:
        """Whether this occurrence is hit, by the fault's probability (1.0: always)."""
        return self.probability >= 1.0 or random.random() < self.probability  # noqa: S311 (not security)
