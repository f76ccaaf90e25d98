"""Appliance registration keys: issue a signed key file, and verify one with a message that says
exactly what is wrong with it (expired, changed after download, or unknown)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from django.conf import settings

from hub import clock, tls
from hub.arm.errors import ArmError
from hub.arm.parsers import json_too_deep
from hub.ids import parse_uuid, sha256_hex
from projects import access
from replication.models import REGISTRATION_KEY_VALIDITY, RegistrationKey

KEY_FORMAT = "migratehub-registration-key/1"


def _signing_key() -> bytes:
    return hashlib.sha256(f"registration-keys:{settings.SECRET_KEY}".encode()).digest()


def _signature(payload: dict) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hmac.new(_signing_key(), canonical, hashlib.sha256).digest()).decode()


def registration_key_issue(*, user, project, hub_url: str, vault) -> tuple[RegistrationKey, str]:
    """Registering an appliance creates an Azure AD app, so the user must be allowed to register
    applications (issue 3's gate). Returns the key and the file's text."""
    access.authorize_app_registration(user)
    access.authorize(user, access.REGISTER_APPLIANCE, project.subscription, project.resource_group.name)
    secret = secrets.token_urlsafe(32)
    issued = clock.now()
    key = RegistrationKey.objects.create(
        project=project,
        created_by=user,
        issued_at=issued,
        expires_at=issued + REGISTRATION_KEY_VALIDITY,
        secret_hash=sha256_hex(secret),
    )
    payload = {
        "format": KEY_FORMAT,
        "keyId": str(key.pk),
        "hub": hub_url.rstrip("/"),
        "subscriptionId": str(project.subscription.pk),
        "resourceGroup": project.resource_group.name,
        "project": project.name,
        "vaultId": vault.arm_id,
        "targetRegion": project.target_region,
        "issuedAt": key.issued_at.isoformat(),
        "expiresAt": key.expires_at.isoformat(),
        "secret": secret,
    }
    # A key fetched over https names an https hub: the appliance must trust the hub's own authority,
    # which it learns from the key (its user brought the key from the hub, as they would the CA).
    authority = tls.authority_to_trust(settings.TLS_DIR, settings.TLS_CERT_FILE)
    if authority and payload["hub"].startswith("https://"):
        payload["hubCertificateAuthority"] = authority
    return key, json.dumps({**payload, "signature": _signature(payload)}, indent=2) + "\n"


def key_file_name(project, key: RegistrationKey) -> str:
    """The key file's name, as the portal's download and the API's certificate call it."""
    return f"{project.name}_{key.issued_at:%Y-%m-%d}.MigrateHubKey"


def registration_key_verify(text: str) -> RegistrationKey:
    try:
        if json_too_deep(text.encode()):
            raise ValueError("not a key file, and not for the decoder's recursion either")
        document = json.loads(text)
        signature = document.pop("signature")
        key_id = document["keyId"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ArmError(
            400,
            "InvalidRegistrationKey",
            "This is not a Migrate Hub registration key file. Download the key again from Discover > Install a "
            "replication appliance.",
        ) from None
    if document.get("format") != KEY_FORMAT:
        raise ArmError(400, "InvalidRegistrationKey", f"Unsupported key format {document.get('format')!r}.")
    if not hmac.compare_digest(str(signature).encode("utf-8", "surrogatepass"), _signature(document).encode()):
        raise ArmError(
            400,
            "RegistrationKeyTampered",
            "The registration key was changed after it was downloaded: its signature does not match its contents. "
            "Download a new key.",
        )
    keys = RegistrationKey.objects.select_related("project__resource_group__subscription")
    key = keys.filter(pk=parse_uuid(key_id)).first()
    if key is None or not hmac.compare_digest(key.secret_hash, sha256_hex(str(document.get("secret", "")))):
        raise ArmError(
            400,
            "RegistrationKeyUnknown",
            "This hub did not issue this registration key, or its project was deleted. Download a new key.",
        )
    if key.is_expired(clock.now()):
        raise ArmError(
            400,
            "RegistrationKeyExpired",
            f"The registration key expired on {key.expires_at:%Y-%m-%d %H:%M} UTC: keys are valid for five days "
            "after they are downloaded. Download a new key.",
        )
    return key
