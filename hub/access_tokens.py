"""Access tokens as Microsoft Entra ID issues them: RS256 JWTs signed by the hub's signing key, with the
claims Azure's carry (aud, iss, tid, oid, upn or appid, idtyp, iat/nbf/exp). The sign-in endpoints
(entra) issue them; the ARM API and Graph (hub.arm.auth) verify them. Both live here, on the platform
layer, so verifying needs nothing of the directory but the user row the token names.

Times come from hub.clock, not the wall clock, so moving the emulator's clock expires tokens as it
expires everything else."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from hub import clock
from hub import secrets as hub_secrets
from hub.models import SigningKey

ALGORITHM = "RS256"
KEY_PURPOSE = "token signing key"
# Entra gives access tokens a lifetime chosen at random between 60 and 90 minutes.
MIN_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS = 3600, 5400
# A bearer token longer than this is refused before it is parsed: a JWT of ours is about 1.5 KB.
MAX_TOKEN_CHARS = 16_000

# The resources a token may be for, as a client names them (scope "<resource>/.default").
ARM_AUDIENCES = ("https://management.core.windows.net/", "https://management.azure.com/")
GRAPH_AUDIENCES = ("https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000")


def same_audience(a: str, b: str) -> bool:
    """Entra treats a resource with and without its trailing slash as one, and hosts case-insensitively."""
    return a.rstrip("/").lower() == b.rstrip("/").lower()


class TokenRejected(Exception):
    """Why a bearer JWT is not accepted; `expired` tells ExpiredAuthenticationToken from the rest."""

    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.message = message
        self.expired = expired


@dataclass(frozen=True)
class AccessToken:
    """A verified token's claims: what request.auth holds for a JWT caller."""

    claims: dict

    @property
    def tenant_id(self) -> str:
        return self.claims["tid"]

    @property
    def object_id(self) -> str:
        return self.claims["oid"]

    @property
    def issuer(self) -> str:
        return self.claims["iss"]


def looks_like_jwt(value: str) -> bool:
    """A JWT's compact form: three base64url parts, the first a JSON object ("eyJ" = '{"')."""
    return value.startswith("eyJ") and value.count(".") == 2


def issuer_url(base_url: str, tenant_id) -> str:
    return f"{base_url.rstrip('/')}/{tenant_id}/v2.0"


# -- the signing key --------------------------------------------------------------------------------

_lock = threading.Lock()
_signing: tuple[str, rsa.RSAPrivateKey] | None = None
_public_keys: dict[str, rsa.RSAPublicKey] = {}


def _kid_of(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")[:27]


def _load(row: SigningKey) -> rsa.RSAPrivateKey | None:
    try:
        pem = hub_secrets.decrypt(row.private_key, purpose=KEY_PURPOSE)
    except hub_secrets.SecretUnreadable:
        return None  # made under another SECRET_KEY: it can neither sign nor be trusted
    return serialization.load_pem_private_key(pem, password=None)


def _create_key() -> tuple[str, rsa.RSAPrivateKey]:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kid = _kid_of(private_key.public_key())
    SigningKey.objects.create(kid=kid, private_key=hub_secrets.encrypt(pem, purpose=KEY_PURPOSE))
    return kid, private_key


def signing_key() -> tuple[str, rsa.RSAPrivateKey]:
    """(kid, private key): the newest readable key, made on first use. Checked against the database on
    each call (issuing is rare), so a process never signs with a key the others cannot find."""
    global _signing
    with _lock:
        if _signing is not None and SigningKey.objects.filter(kid=_signing[0]).exists():
            return _signing
        for row in SigningKey.objects.all()[:10]:
            private_key = _load(row)
            if private_key is not None:
                _signing = (row.kid, private_key)
                break
        else:
            _signing = _create_key()
        _public_keys[_signing[0]] = _signing[1].public_key()
        return _signing


def _public_key(kid: str) -> rsa.RSAPublicKey | None:
    if kid in _public_keys:
        return _public_keys[kid]
    row = SigningKey.objects.filter(kid=kid).first()
    private_key = _load(row) if row else None
    if private_key is None:
        return None
    _public_keys[kid] = private_key.public_key()
    return _public_keys[kid]


def jwks() -> dict:
    """The JSON Web Key Set of every key that may have signed a live token."""
    signing_key()
    keys = []
    for row in SigningKey.objects.all()[:10]:
        public_key = _public_key(row.kid)
        if public_key is None:
            continue
        jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
        keys.append({"kty": "RSA", "use": "sig", "kid": row.kid, "x5t": row.kid, "n": jwk["n"], "e": jwk["e"]})
    return {"keys": keys}


# -- issuing ----------------------------------------------------------------------------------------


def lifetime_seconds() -> int:
    return MIN_LIFETIME_SECONDS + secrets.randbelow(MAX_LIFETIME_SECONDS - MIN_LIFETIME_SECONDS + 1)


def sign(claims: dict) -> str:
    kid, private_key = signing_key()
    return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"typ": "JWT", "kid": kid, "x5t": kid})


def issue_access_token(*, base_url: str, tenant_id, audience: str, client_id: str, subject: dict, lifetime: int) -> str:
    """An access token for `subject`: {"oid", "name", and "upn" for a user or "app": True for an
    application's service principal}."""
    now = int(clock.now().timestamp())
    is_app = subject.get("app", False)
    claims = {
        "aud": audience,
        "iss": issuer_url(base_url, tenant_id),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": client_id,
        "azp": client_id,
        "appidacr": "1" if is_app else "0",
        "idtyp": "app" if is_app else "user",
        "oid": subject["oid"],
        "sub": subject["oid"],
        "tid": str(tenant_id),
        "name": subject.get("name", ""),
        "uti": secrets.token_urlsafe(16),
        "ver": "2.0",
    }
    if not is_app:
        claims.update(upn=subject["upn"], unique_name=subject["upn"], scp="user_impersonation")
    return sign(claims)


def issue_id_token(*, base_url: str, tenant_id, client_id: str, subject: dict) -> str:
    """The OpenID Connect id token of a user's sign-in: MSAL builds its account (username, home account)
    from it."""
    now = int(clock.now().timestamp())
    return sign(
        {
            "aud": client_id,
            "iss": issuer_url(base_url, tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + MIN_LIFETIME_SECONDS,
            "name": subject.get("name", ""),
            "oid": subject["oid"],
            "preferred_username": subject["upn"],
            "sub": subject["oid"],
            "tid": str(tenant_id),
            "ver": "2.0",
        }
    )


# -- verifying --------------------------------------------------------------------------------------


def verify(token: str, *, audiences: tuple[str, ...]) -> AccessToken:
    """The claims of a token the hub signed for one of `audiences`, or TokenRejected saying why not."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRejected("The access token is too long to be one the hub issued.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise TokenRejected("The access token is not a well-formed JWT.") from error
    kid = header.get("kid")
    public_key = _public_key(kid) if isinstance(kid, str) and len(kid) <= 64 else None
    if public_key is None or header.get("alg") != ALGORITHM:
        raise TokenRejected("The access token's signing key is not one this hub publishes; get a new token.")
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            # Times are checked below against hub.clock; audience and issuer with Azure's messages.
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
                "require": ["exp", "iss", "aud", "tid", "oid"],
            },
        )
    except jwt.PyJWTError as error:
        raise TokenRejected("The access token signature is invalid.") from error
    tenant_id = claims["tid"]
    if not isinstance(tenant_id, str) or not re.fullmatch(
        rf"https?://[^/\s]+/{re.escape(tenant_id)}/v2\.0", str(claims["iss"])
    ):
        raise TokenRejected(f"The access token is from an issuer the hub does not trust: '{claims['iss']}'.")
    audience = claims["aud"]
    if not isinstance(audience, str) or not any(same_audience(audience, allowed) for allowed in audiences):
        allowed = "', '".join(audiences)
        raise TokenRejected(
            f"The access token has been obtained for wrong audience or resource '{audience}'. It should exactly "
            f"match with one of the allowed audiences '{allowed}'."
        )
    now = clock.now()
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= now.timestamp():
        expired_at = _utc(claims["exp"]) if isinstance(claims["exp"], int | float) else "?"
        raise TokenRejected(
            f"The access token expiry UTC time '{expired_at}' is earlier than current UTC time "
            f"'{now:%m/%d/%Y %H:%M:%S}'. Get a new token (az account get-access-token, or sign in again).",
            expired=True,
        )
    return AccessToken(claims)


def _utc(timestamp: float) -> str:
    try:
        return f"{datetime.fromtimestamp(timestamp, UTC):%m/%d/%Y %H:%M:%S}"
    except (OverflowError, OSError, ValueError):
        return str(timestamp)
