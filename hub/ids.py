"""Identifiers from the outside world: parse, never trust."""

from __future__ import annotations

import hashlib
import uuid


def parse_uuid(value) -> uuid.UUID | None:
    """A UUID, or None for anything that is not one (so a lookup finds nothing instead of raising)."""
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def sha256_hex(secret: str) -> str:
    """How secrets (API tokens, key and appliance credentials) are stored: a lookup by this digest of a
    long random secret leaks nothing useful through timing, so no separate comparison is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()
