"""Machines and their data. So far: the registration keys that let a replication appliance register."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

REGISTRATION_KEY_VALIDITY = timedelta(days=5)
APPLIANCE_WARNING_AFTER = timedelta(minutes=15)
APPLIANCE_CRITICAL_AFTER = timedelta(hours=1)


class RegistrationKey(models.Model):
    """A downloaded appliance registration key. The file carries a secret; only its hash is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey("projects.MigrateProject", on_delete=models.CASCADE, related_name="registration_keys")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    secret_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"Registration key {self.pk} for {self.project}"

    def is_expired(self, now) -> bool:
        return now >= self.expires_at


class Appliance(models.Model):
    """A replication appliance (configuration server + process server) registered with a project's vault."""

    class State(models.TextChoices):
        REGISTERED = "Registered", "Registered: finalize registration"
        FINALIZING = "Finalizing", "Finalizing registration"
        FINALIZED = "Finalized", "Connected"

    class Health(models.TextChoices):
        NORMAL = "Normal"
        WARNING = "Warning"
        CRITICAL = "Critical"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey("projects.MigrateProject", on_delete=models.CASCADE, related_name="appliances")
    registration_key = models.ForeignKey(RegistrationKey, null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=80)
    fqdn = models.CharField(max_length=255, blank=True)
    ip_addresses = models.JSONField(default=list, blank=True)
    listen = models.CharField(max_length=120, blank=True)
    version = models.CharField(max_length=40, blank=True)
    host = models.JSONField(default=dict, blank=True)
    components = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.REGISTERED)
    credential_hash = models.CharField(max_length=64, unique=True)
    registered_at = models.DateTimeField(default=timezone.now)
    finalized_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["registered_at"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_appliance_name")]

    def __str__(self) -> str:
        return self.name

    def health(self, now) -> str:
        """Azure's rule: no heartbeat for 15 minutes is a warning; we call an hour critical."""
        if self.last_heartbeat_at is None:
            return self.Health.CRITICAL
        silence = now - self.last_heartbeat_at
        if silence > APPLIANCE_CRITICAL_AFTER:
            return self.Health.CRITICAL
        if silence > APPLIANCE_WARNING_AFTER:
            return self.Health.WARNING
        return self.Health.NORMAL
