"""App registrations (applications) with their client secrets. An application's service principal,
the principal that holds roles, is a projects.User row of type ServicePrincipal, so role assignments,
access checks and scoping treat it exactly as they treat a user."""

from __future__ import annotations

import hmac
import secrets
import string
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
        # Entra's secrets are 40 characters with '~' at the fourth place; tools only need them opaque. The
        # first character is alphanumeric: one starting with '-' reads as an option to az's argument parser.
        first = secrets.choice(string.ascii_letters + string.digits)
        body = secrets.token_urlsafe(30)[:36]
        return f"{first}{body[:2]}8Q~{body[2:]}"

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


# Sign-in: Entra keeps a refresh token usable for 90 days; a device code for 15 minutes.
REFRESH_TOKEN_DAYS = 90
DEVICE_CODE_MINUTES = 15
# Letters and digits a person cannot confuse when typing a device code from another screen.
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
USER_CODE_LENGTH = 9


class RefreshToken(models.Model):
    """A refresh token, bound to the user and the client it was issued to. Only its SHA-256 is kept."""

    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    client_id = models.CharField(max_length=36)
    created_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Refresh token of {self.user_id} for {self.client_id}"

    @classmethod
    def issue(cls, user, client_id: str) -> str:
        """A new refresh token's value (never shown again); the user's lapsed ones are cleared meanwhile."""
        now = clock.now()
        cls.objects.filter(user=user, expires_at__lte=now).delete()
        value = f"0.{secrets.token_urlsafe(64)}"
        cls.objects.create(
            token_hash=sha256_hex(value),
            user=user,
            client_id=client_id,
            created_at=now,
            expires_at=now + timedelta(days=REFRESH_TOKEN_DAYS),
        )
        return value

    @classmethod
    def find(cls, value: str):
        # A lookup by the digest of a long random value: nothing useful leaks through its timing.
        return cls.objects.select_related("user").filter(token_hash=sha256_hex(value)).first()


class DeviceCode(models.Model):
    """A pending device code sign-in (`az login --use-device-code`): the tool polls with the device code
    while a person signed in to the portal enters the user code at /devicelogin and confirms."""

    device_code_hash = models.CharField(max_length=64, unique=True)
    user_code = models.CharField(max_length=USER_CODE_LENGTH, unique=True)
    client_id = models.CharField(max_length=36)
    scope = models.CharField(max_length=2000)
    # The directory the tool asked at; None for `organizations` / `common` (any directory's user).
    tenant = models.ForeignKey("projects.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    declined = models.BooleanField(default=False)
    redeemed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Device code {self.user_code}"

    @classmethod
    def start(cls, *, client_id: str, scope: str, tenant) -> tuple[DeviceCode, str]:
        """A new device code sign-in and the device code's value (kept only hashed)."""
        now = clock.now()
        cls.objects.filter(expires_at__lte=now - timedelta(days=1)).delete()
        device_code = secrets.token_urlsafe(48)
        for _ in range(5):
            user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
            if not cls.objects.filter(user_code=user_code).exists():
                break
        row = cls.objects.create(
            device_code_hash=sha256_hex(device_code),
            user_code=user_code,
            client_id=client_id,
            scope=scope,
            tenant=tenant,
            created_at=now,
            expires_at=now + timedelta(minutes=DEVICE_CODE_MINUTES),
        )
        return row, device_code

    @staticmethod
    def normalize_user_code(typed: str) -> str:
        """What a person typed, as stored: upper case, without the spaces and dashes they may add."""
        return "".join(ch for ch in (typed or "")[:40].upper() if ch.isalnum())

    def is_expired(self, now) -> bool:
        return now >= self.expires_at
