"""Sign-in at the hub's Microsoft Entra ID endpoints: the OAuth 2.0 grants MSAL (inside az and
azure-identity) uses, each answering tokens or SignInFailed with Entra's error and AADSTS code.

A directory segment of the URL names a tenant by id or domain; `organizations` and `common` name none,
and the directory is then the signing-in user's. Tokens are issued by hub.access_tokens."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from django.db import transaction

from entra.models import Application, DeviceCode, RefreshToken
from entra.services import SignInFailed, authenticate_client
from hub import access_tokens, clock
from hub.ids import parse_uuid, sha256_hex
from projects.models import PrincipalType, Tenant, User

# Directory segments that name no tenant: a user's own directory is found from the user.
MULTI_TENANT = ("organizations", "common")
# Public clients Microsoft registers in every directory: the Azure CLI (also azure-identity's default
# for user credentials) and Azure PowerShell. They sign users in without a secret.
PUBLIC_CLIENTS = {
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46": "Microsoft Azure CLI",
    "1950a258-227b-4e31-a9cf-717495945fc2": "Microsoft Azure PowerShell",
}
# Scopes of OpenID Connect itself, not of a resource.
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_POLL_SECONDS = 5
GRAPH_RESOURCE = "https://graph.microsoft.com"


@dataclass(frozen=True)
class Directory:
    """The directory segment of a sign-in URL: a tenant, or None for `organizations` / `common`."""

    segment: str
    tenant: Tenant | None


def find_directory(segment: str) -> Directory | None:
    """The directory the URL names, or None when there is none by that id or domain."""
    if segment.lower() in MULTI_TENANT:
        return Directory(segment.lower(), None)
    tenant_id = parse_uuid(segment)
    if tenant_id is not None:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
    else:
        tenant = Tenant.objects.filter(domain__iexact=segment[:200]).first()
    return Directory(segment, tenant) if tenant else None


def unknown_tenant(segment: str) -> SignInFailed:
    return SignInFailed(
        "invalid_request",
        90002,
        f"Tenant '{segment[:200]}' not found. Check to make sure you have the correct tenant ID and are signing into "
        "the correct cloud.",
    )


# -- scopes and resources -------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """What a token is for: its audience, and the scopes granted, as Entra answers them."""

    audience: str
    scope: str


def resource_for(base_url: str, scope: str, resource: str = "", *, client_credentials: bool = False) -> Resource:
    """The resource a request's `scope` (v2.0) or `resource` (v1) names: ARM under Azure's names or the hub's
    own URL, or Graph. Only OpenID scopes (or none) mean Graph, as Entra does."""
    if resource:
        requested = [f"{resource.rstrip('/')}/.default"]
        audience = resource
    else:
        if not scope.strip():
            raise SignInFailed(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        requested = [s for s in scope.split() if s.lower() not in OIDC_SCOPES]
        if not requested:
            return Resource(GRAPH_RESOURCE, "openid profile offline_access User.Read")
        resources = {s.rsplit("/", 1)[0] if "/" in s else s for s in requested}
        if len(resources) > 1:
            raise SignInFailed(
                "invalid_scope",
                28000,
                f"Provided value for the input parameter scope '{scope[:500]}' is not valid because it contains "
                "more than one resource. Request one resource's scopes per token.",
            )
        audience = resources.pop()
        if client_credentials and not all(s.endswith("/.default") for s in requested):
            raise SignInFailed(
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope[:500]} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
    known = (*access_tokens.ARM_AUDIENCES, *access_tokens.GRAPH_AUDIENCES, base_url)
    if not any(access_tokens.same_audience(audience, allowed) for allowed in known):
        raise SignInFailed(
            "invalid_resource",
            500011,
            f"The resource principal named {audience[:500]} was not found in the tenant. The hub serves tokens for "
            f"Azure Resource Manager ({', '.join(access_tokens.ARM_AUDIENCES)} or {base_url}) and Microsoft Graph "
            f"({GRAPH_RESOURCE}).",
        )
    # As Entra answers: the delegated permission, then the scopes asked for.
    granted = " ".join(dict.fromkeys([f"{audience}/user_impersonation", *requested]))
    return Resource(audience, granted)


# -- tokens ---------------------------------------------------------------------------------------


def _client_info(user: User) -> str:
    """MSAL's account key: base64url JSON of the object id (uid) and the tenant id (utid)."""
    raw = json.dumps({"uid": str(user.object_id), "utid": str(user.tenant_id)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _subject(user: User) -> dict:
    subject = {"oid": str(user.object_id), "name": user.display_name or user.email}
    if user.is_service_principal:
        subject["app"] = True
    else:
        subject["upn"] = user.email
    return subject


def app_token(base_url: str, principal: User, client_id: str, resource: Resource) -> dict:
    """The answer to any sign-in: an access token for the resource."""
    lifetime = access_tokens.lifetime_seconds()
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_tokens.issue_access_token(
            base_url=base_url,
            tenant_id=principal.tenant_id,
            audience=resource.audience,
            client_id=client_id,
            subject=_subject(principal),
            lifetime=lifetime,
        ),
    }


def user_tokens(base_url: str, user: User, client_id: str, resource: Resource) -> dict:
    """A user's sign-in adds a refresh token, an id token and MSAL's client_info to the access token."""
    return {
        **app_token(base_url, user, client_id, resource),
        "scope": resource.scope,
        "refresh_token": RefreshToken.issue(user, client_id),
        "id_token": access_tokens.issue_id_token(
            base_url=base_url, tenant_id=user.tenant_id, client_id=client_id, subject=_subject(user)
        ),
        "client_info": _client_info(user),
    }


# -- the grants -----------------------------------------------------------------------------------


def _require(params: dict, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise SignInFailed(
            "invalid_request", 900144, f"The request body must contain the following parameter: '{name}'."
        )
    return value


def check_public_client(client_id: str, directory: Directory, user: User | None = None) -> None:
    """Users sign in through Microsoft's public clients or an application of their own directory."""
    if client_id.lower() in PUBLIC_CLIENTS:
        return
    app_id = parse_uuid(client_id)
    tenant_id = user.tenant_id if user else (directory.tenant.pk if directory.tenant else None)
    applications = Application.objects.filter(app_id=app_id) if app_id else Application.objects.none()
    if tenant_id is not None:
        applications = applications.filter(tenant_id=tenant_id)
    if not applications.exists():
        raise SignInFailed(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id[:100]}' was not found in the directory "
            f"'{directory.tenant.domain if directory.tenant else directory.segment}'. Use the Azure CLI's client id "
            "(04b07795-8ddb-461a-bbee-02f9e1bf7b46) or register the application in this directory.",
        )


def _check_user_directory(user: User, directory: Directory) -> None:
    if directory.tenant is not None and user.tenant_id != directory.tenant.pk:
        raise SignInFailed(
            "invalid_grant",
            50020,
            f"User account '{user.email}' does not exist in tenant '{directory.tenant.display_name}' and cannot access "
            "the application. Sign in at the user's own directory (or 'organizations').",
        )


def client_credentials(base_url: str, directory: Directory, params: dict) -> dict:
    client_id = _require(params, "client_id")
    if params.get("client_assertion"):
        raise SignInFailed(
            "invalid_client",
            700027,
            "Client assertions (certificate credentials) are not supported by this hub; sign in with a client secret.",
        )
    secret = _require(params, "client_secret")
    if directory.tenant is None:
        raise SignInFailed(
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials. "
            "Sign in at your directory's URL (its tenant id or domain) rather than 'common' or 'organizations'.",
        )
    resource = resource_for(base_url, params.get("scope", ""), params.get("resource", ""), client_credentials=True)
    principal = authenticate_client(directory.tenant.pk, client_id, secret)
    return app_token(base_url, principal, client_id, resource)


def password(base_url: str, directory: Directory, params: dict) -> dict:
    """Resource owner password credentials, as `az login -u -p` sends them."""
    client_id = _require(params, "client_id")
    username = _require(params, "username")
    given_password = _require(params, "password")
    resource = resource_for(base_url, params.get("scope", ""), params.get("resource", ""))
    user = User.objects.select_related("tenant").filter(email__iexact=username[:254], is_active=True).first()
    if user is None or user.principal_type != PrincipalType.USER or user.tenant_id is None:
        where = directory.tenant.domain if directory.tenant else username.rpartition("@")[2][:200]
        raise SignInFailed(
            "invalid_grant",
            50034,
            f"The user account {username[:254]} does not exist in the {where} directory. To sign into this "
            "application, the account must be added to the directory.",
        )
    _check_user_directory(user, directory)
    if not user.check_password(given_password):
        raise SignInFailed("invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
    check_public_client(client_id, directory, user)
    return user_tokens(base_url, user, client_id, resource)


def refresh_token(base_url: str, directory: Directory, params: dict) -> dict:
    client_id = _require(params, "client_id")
    value = _require(params, "refresh_token")
    row = RefreshToken.find(value)
    if row is None:
        raise SignInFailed(
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid: the refresh token is not one this hub issued, or it "
            "was revoked. Sign in again.",
        )
    if row.client_id.lower() != client_id.lower():
        raise SignInFailed(
            "invalid_grant",
            700005,
            "Provided Authorization Code is intended to use against other tenant or client: the refresh token was "
            "issued to another application. Sign in again with this client.",
        )
    if clock.now() >= row.expires_at:
        raise SignInFailed(
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity. The token was issued on "
            f"{row.created_at:%Y-%m-%dT%H:%M:%S}Z and was inactive for {(clock.now() - row.created_at).days} days. "
            "Sign in again.",
        )
    user = row.user
    if not user.is_active:
        raise SignInFailed("invalid_grant", 50057, "The user account is disabled. Ask an administrator to enable it.")
    _check_user_directory(user, directory)
    resource = resource_for(base_url, params.get("scope", ""), params.get("resource", ""))
    return user_tokens(base_url, user, client_id, resource)


def start_device_code(base_url: str, directory: Directory, params: dict) -> dict:
    """The device authorization answer: the codes and where a person enters the user code."""
    client_id = _require(params, "client_id")
    check_public_client(client_id, directory)
    scope = params.get("scope", "")
    resource_for(base_url, scope, params.get("resource", ""))  # refuse a bad scope now, not at redemption
    row, device_code = DeviceCode.start(client_id=client_id, scope=scope[:2000], tenant=directory.tenant)
    verification_uri = f"{base_url.rstrip('/')}/devicelogin"
    expires_in = int((row.expires_at - row.created_at).total_seconds())
    return {
        "user_code": row.user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": expires_in,
        "interval": DEVICE_POLL_SECONDS,
        "message": (
            f"To sign in, use a web browser to open the page {verification_uri} and enter the code {row.user_code} "
            "to authenticate."
        ),
    }


def device_code(base_url: str, directory: Directory, params: dict) -> dict:
    """Redeem a device code: pending until a person confirms it at /devicelogin, then tokens once."""
    client_id = _require(params, "client_id")
    value = _require(params, "device_code")
    row = DeviceCode.objects.filter(device_code_hash=sha256_hex(value)).first()
    if row is None or row.client_id.lower() != client_id.lower():
        raise SignInFailed(
            "invalid_grant",
            70000,
            "The provided value for the input parameter 'device_code' is not valid. Start a new device code sign-in.",
        )
    now = clock.now()
    if row.declined:
        raise SignInFailed("authorization_declined", 70000, "The user declined the device code sign-in.")
    if row.is_expired(now):
        raise SignInFailed(
            "expired_token",
            70020,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired. "
            "Start a new device code sign-in.",
        )
    if row.approved_by_id is None:
        raise SignInFailed(
            "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling."
        )
    with transaction.atomic():
        claimed = DeviceCode.objects.filter(pk=row.pk, redeemed_at__isnull=True).update(redeemed_at=now)
        if claimed != 1:
            raise SignInFailed(
                "invalid_grant", 70000, "The device code was already redeemed. Start a new device code sign-in."
            )
        resource = resource_for(base_url, row.scope)
        user = User.objects.get(pk=row.approved_by_id)
        return user_tokens(base_url, user, client_id, resource)


GRANTS = {
    "client_credentials": client_credentials,
    "password": password,
    "refresh_token": refresh_token,
    DEVICE_CODE_GRANT: device_code,
    "device_code": device_code,  # the short name some clients send
}


def token(base_url: str, directory: Directory, params: dict) -> dict:
    grant_type = _require(params, "grant_type")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise SignInFailed(
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type[:100]}'. The hub supports "
            "client_credentials, password, refresh_token and device_code.",
        )
    return grant(base_url, directory, params)


# -- the device code page ---------------------------------------------------------------------------


class DeviceCodeProblem(Exception):
    """Why a code typed at /devicelogin cannot be confirmed, in words for the person."""


def pending_device_code(user: User, typed: str) -> DeviceCode:
    """The pending sign-in a person's typed code names, if they may confirm it."""
    code = DeviceCode.normalize_user_code(typed)
    row = DeviceCode.objects.filter(user_code=code).first() if code else None
    if row is None or row.redeemed_at is not None or row.declined:
        raise DeviceCodeProblem("That code wasn't recognized. Check the code the app shows and try again.")
    if row.is_expired(clock.now()):
        raise DeviceCodeProblem("That code has expired. Start the sign-in again in the app to get a new code.")
    if row.tenant_id is not None and row.tenant_id != user.tenant_id:
        raise DeviceCodeProblem(
            "That code is for another directory. Sign in with an account of the directory the app asked for."
        )
    return row


def decide_device_code(user: User, typed: str, *, approve: bool) -> DeviceCode:
    """Confirm (or decline) a pending device code sign-in for `user`; the tool's next poll gets the answer."""
    if user.is_service_principal:
        raise DeviceCodeProblem("Only people confirm device code sign-ins.")
    row = pending_device_code(user, typed)
    changes = {"approved_by": user} if approve else {"declined": True}
    updated = DeviceCode.objects.filter(
        pk=row.pk, approved_by__isnull=True, declined=False, redeemed_at__isnull=True
    ).update(**changes)
    if updated != 1:
        raise DeviceCodeProblem("That code was already used. Start the sign-in again in the app to get a new code.")
    return row
