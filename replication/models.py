"""Machines and their data. So far: the registration keys that let a replication appliance register."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

REGISTRATION_KEY_VALIDITY = timedelta(days=5)


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
