"""The project's Key Vault key, as the process server uses it: wrapKey for its data keys, and, inside
the hub only, unwrapKey to read the batches it uploaded. The key itself never leaves the hub."""

from __future__ import annotations

import base64
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, transaction

from hub import secrets
from hub.arm.errors import ArmError
from projects.models import MigrationResource
from replication import fault_effects
from replication.models import KeyVaultKey

KEY_NAME = "migrate-replication"
_PURPOSE = "key vault key"
_WRAP_AAD = b"migrate-hub data key"
NONCE_BYTES = 12


def _vault_key(project) -> KeyVaultKey:
    key = KeyVaultKey.objects.filter(project=project).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            return KeyVaultKey.objects.create(
                project=project, encrypted_key=secrets.encrypt(os.urandom(32), purpose=_PURPOSE)
            )
    except IntegrityError:  # made by a concurrent first request
        return KeyVaultKey.objects.get(project=project)


def vault_name(project) -> str:
    vault = project.migration_resource(MigrationResource.Kind.KEY_VAULT)
    return vault.name if vault else project.name


def key_id(project) -> str:
    return f"https://{vault_name(project).lower()}.vault.azure.net/keys/{KEY_NAME}/{_vault_key(project).pk}"


@functools.lru_cache(maxsize=64)
def _cipher(encrypted_key: str) -> AESGCM:
    return AESGCM(secrets.decrypt(encrypted_key, purpose=_PURPOSE))


def wrap_key(project, data_key: bytes) -> tuple[str, str]:
    """(key id, wrapped key as base64) for a 32-byte data key."""
    if len(data_key) != 32:
        raise ArmError(400, "BadParameter", "The data key to wrap must be 32 bytes (AES-256), base64-encoded.", "value")
    # An injected keyVaultAccessRevoked fault: Key Vault's 403, and the process server makes no new key.
    fault_effects.check_wrap_key(project, vault_name(project))
    nonce = os.urandom(NONCE_BYTES)
    wrapped = nonce + _cipher(_vault_key(project).encrypted_key).encrypt(nonce, data_key, _WRAP_AAD)
    return key_id(project), base64.b64encode(wrapped).decode()


@functools.lru_cache(maxsize=256)
def _unwrap_cached(encrypted_key: str, wrapped: bytes) -> bytes:
    return _cipher(encrypted_key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_AAD)


_encrypted_keys: dict = {}  # project id -> its key, as stored (made once, never replaced)


def unwrap_key(project, wrapped_b64: str) -> bytes:
    """The data key; asked for every uploaded batch, twice (storing it, applying it), so the project's
    stored key is kept per process rather than read each time."""
    encrypted_key = _encrypted_keys.get(project.pk)
    if encrypted_key is None:
        if len(_encrypted_keys) > 10_000:
            _encrypted_keys.clear()
        encrypted_key = _encrypted_keys[project.pk] = _vault_key(project).encrypted_key
    try:
        return _unwrap_cached(encrypted_key, base64.b64decode(wrapped_b64))
    except (InvalidTag, ValueError) as error:
        raise ArmError(
            400,
            "KeyUnwrapFailed",
            "The batch's data key was not wrapped by this project's Key Vault key: the process server must wrap "
            "its data keys through keyvault/wrapkey.",
        ) from error
