"""App registrations (applications) with their client secrets. An application's service principal,
the principal that holds roles, is a projects.User row of type ServicePrincipal, so role assignments,
access checks and scoping treat it exactly as they treat a user."""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models

from hub import clock
from hub.ids import sha256_hex

# What the portal offers for a client secret's lifetime (Entra's recommendation is 180 days).
SECRET_LIFETIME_DAYS = {
    90: "90 days (3 months)",
    180: "180 days (6 months)",
    365: "365 days (12 months)",
    545: "545 days (18 months)",
    730: "730 days (24 months)",
}
DEFAULT_SECRET_DAYS = 180
# As Entra's, a secret's first characters are shown so it can be told apart; the rest never again.
SECRET_HINT_CHARS = 3
MAX_SECRETS_PER_APPLICATION = 20


class Application(models.Model):
    """An app registration: its object id (id) and the application (client) id tools sign in with."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    app_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey("projects.Tenant", on_delete=models.CASCADE, related_name="applications")
    display_name = models.CharField(max_length=120)
    # The service principal, made with the application and deleted with it (deleting the principal
    # deletes its role assignments, so they stop applying at once).
    service_principal = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="application"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["display_name", "created_at"]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.app_id})"


class ClientSecret(models.Model):
    """A password credential of an application. Only its SHA-256 is kept."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="client_secrets")
    key_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(max_length=120, blank=True)
    hint = models.CharField(max_length=8)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.display_name or 'secret'} ({self.hint}…)"

    @classmethod
    def new_secret(cls) -> str:
        # Entra's secrets are 40 characters with '~' at the fourth place; tools only need them opaque.
        body = secrets.token_urlsafe(30)[:37]
        return f"{body[:3]}8Q~{body[3:]}"

    @classmethod
    def issue(
        cls, application: Application, *, display_name: str = "", days: int = DEFAULT_SECRET_DAYS, expires_at=None
    ):
        """Add a secret valid for `days` (or until `expires_at`, as Graph's addPassword names it) and
        return it with its value, which is never shown again."""
        value = cls.new_secret()
        now = clock.now()
        row = cls.objects.create(
            application=application,
            display_name=display_name,
            hint=value[:SECRET_HINT_CHARS],
            secret_hash=sha256_hex(value),
            created_at=now,
            expires_at=expires_at or now + timedelta(days=days),
        )
        return row, value

    def matches(self, value: str) -> bool:
        return hmac.compare_digest(self.secret_hash, sha256_hex(value))

    def is_expired(self, now) -> bool:
        return now >= self.expires_at
