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

    @property
    def components_text(self) -> str:
        """One line per component; read through Python, not the template's `.items` (a component could
        be called "items")."""
        return "\n".join(f"{name}: {status}" for name, status in self.components.items())

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


class DiscoveredServerQuerySet(models.QuerySet):
    def discovered(self, now):
        """Reported by an agent and past the discovery delay (Azure takes up to 15 minutes)."""
        return self.filter(discovered_at__isnull=False, discovered_at__lte=now)


class DiscoveredServer(models.Model):
    """A machine whose mobility agent registered through an appliance; one per machine identity."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    project = models.ForeignKey("projects.MigrateProject", on_delete=models.CASCADE, related_name="discovered_servers")
    appliance = models.ForeignKey(Appliance, on_delete=models.CASCADE, related_name="servers")
    machine_id = models.CharField(max_length=128)
    name = models.CharField(max_length=255)
    os_type = models.CharField(max_length=20)
    os_name = models.CharField(max_length=120)
    os_version = models.CharField(max_length=60, blank=True)
    architecture = models.CharField(max_length=20, blank=True)
    cores = models.PositiveIntegerField()
    memory_mb = models.PositiveIntegerField()
    firmware = models.CharField(max_length=10, default="BIOS")
    nics = models.JSONField(default=list)
    disks = models.JSONField(default=list)
    agent_version = models.CharField(max_length=40, blank=True)
    agent_connected = models.BooleanField(default=True)
    agent_status = models.CharField(max_length=300, blank=True)
    agent_last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(default=timezone.now)
    discovered_at = models.DateTimeField(null=True, blank=True)

    objects = DiscoveredServerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "machine_id"], name="one_server_per_machine")]

    def __str__(self) -> str:
        return self.name

    @property
    def total_disk_gb(self) -> float:
        return round(sum(disk.get("sizeBytes", 0) for disk in self.disks) / 1024**3, 1)

    @property
    def ip_addresses(self) -> list[str]:
        return [ip for nic in self.nics for ip in nic.get("ipAddresses", [])]
