"""The webhook signature, as the Standard Webhooks specification (standardwebhooks.com) defines it:
Event Grid itself proves a webhook's sender by other means (a secret in the URL, or an Entra token),
and a shared-key HMAC is what receivers of a test rig can check with the standard library.

Headers: `webhook-id` (the delivery), `webhook-timestamp` (Unix seconds) and `webhook-signature`
("v1," + base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}"). The key is the bytes after a
`whsec_` prefix, base64-decoded; a key set without that prefix is used as its UTF-8 bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from hub import secrets as hub_secrets

PREFIX = "whsec_"
PURPOSE = "event subscription signing key"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def key_bytes(secret: str) -> bytes:
    if secret.startswith(PREFIX):
        try:
            return base64.b64decode(secret[len(PREFIX) :], validate=True)
        except ValueError:
            pass
    return secret.encode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key_bytes(secret), signed, hashlib.sha256).digest()).decode()


def verify(secret: str, message_id: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does: any of the header's space-separated signatures matches (constant time)."""
    expected = signature(secret, message_id, int(timestamp), body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())


def seal(secret: str) -> str:
    return hub_secrets.encrypt(secret.encode(), purpose=PURPOSE)


def unseal(sealed: str) -> str:
    return hub_secrets.decrypt(sealed, purpose=PURPOSE).decode()
