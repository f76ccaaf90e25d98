"""Secrets the hub must read back (guest credentials, Key Vault keys) are kept encrypted with
AES-256-GCM under a master key derived from SECRET_KEY; the purpose is bound as associated data, so
a value encrypted for one use cannot be decrypted for another."""

from __future__ import annotations

import base64
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

NONCE_BYTES = 12


class SecretUnreadable(Exception):
    """The value was encrypted under another SECRET_KEY or for another purpose, or was altered."""


@functools.cache
def _master_key(secret_key: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"migrate-hub master key").derive(
        secret_key.encode()
    )
    return AESGCM(derived)


def encrypt(plaintext: bytes, *, purpose: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _master_key(settings.SECRET_KEY).encrypt(nonce, plaintext, purpose.encode())
    return base64.b64encode(nonce + sealed).decode()


def decrypt(token: str, *, purpose: str) -> bytes:
    try:
        raw = base64.b64decode(token)
        return _master_key(settings.SECRET_KEY).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
    except (InvalidTag, ValueError) as error:
        raise SecretUnreadable(
            f"Cannot decrypt a stored {purpose}: SECRET_KEY changed or the value was altered."
        ) from error
