from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from hub import clock
from hub.ids import sha256_hex

TOKEN_PREFIX = "mhub_"
# A token's lifetime is chosen when it is made: 90 days unless said, at most two years.
DEFAULT_TOKEN_DAYS = 90
MIN_TOKEN_DAYS, MAX_TOKEN_DAYS = 1, 730


def token_lifetime_problem(days) -> str:
    """Why `days` is not a token lifetime, or "" when it is one."""
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_TOKEN_DAYS <= days <= MAX_TOKEN_DAYS:
        return f"A token lives {MIN_TOKEN_DAYS} to {MAX_TOKEN_DAYS} days (default {DEFAULT_TOKEN_DAYS}); got {days!r}."
    return ""


def hash_token(token: str) -> str:
    return sha256_hex(token)


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A personal API token: the bearer credential the ARM API accepts. Only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    # The first characters, kept so a user can tell tokens apart without the secret.
    hint = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # After this moment (by hub.clock) the token is refused with ExpiredAuthenticationToken.
    expires_at = models.DateTimeField()

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, user, name: str, days: int = DEFAULT_TOKEN_DAYS) -> tuple[ApiToken, str]:
        """Create a token valid for `days` and return it with its secret, which is never shown again."""
        problem = token_lifetime_problem(days)
        if problem:
            raise ValueError(problem)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = clock.now()
        token = cls.objects.create(
            user=user,
            name=name,
            hint=secret[: len(TOKEN_PREFIX) + 4],
            token_hash=hash_token(secret),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        return token, secret

    @classmethod
    def authenticate(cls, secret: str) -> ApiToken | None:
        """The unrevoked token with this secret, expired or not (the caller says which it is)."""
        return cls.objects.active().select_related("user").filter(token_hash=hash_token(secret)).first()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def is_expired(self, now) -> bool:
        return now >= self.expires_at

    @property
    def status(self) -> str:
        """What the token list says of it."""
        if not self.is_active:
            return "Revoked"
        return "Expired" if self.is_expired(clock.now()) else "Active"

    def touch(self) -> None:
        """Record use, at most once a minute, so reads do not each cost a write."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)

    def revoke(self) -> None:
        ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


class EmulatorClock(models.Model):
    """One row: how far the emulator's clock runs ahead of the wall clock (see hub.clock)."""

    offset_seconds = models.FloatField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Emulator clock +{self.offset_seconds:.0f} s"


class SigningKey(models.Model):
    """An RSA key that signs the hub's access tokens (Entra's JWTs), published by its kid in the JWKS.
    The private key is kept encrypted (hub.secrets); the newest readable row signs, every row verifies,
    so two processes that each made one at first start both stay valid."""

    kid = models.CharField(max_length=64, unique=True)
    private_key = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Signing key {self.kid}"
