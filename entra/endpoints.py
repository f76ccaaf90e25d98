"""Microsoft Entra ID's endpoints at the hub's root, per directory, as MSAL asks for them: OpenID Connect
discovery, the signing keys, instance discovery, user realm discovery, the token endpoint and device
authorization. Sign-in errors take Entra's shape: {error, error_description "AADSTS<code>: ...",
error_codes, timestamp, trace_id, correlation_id}, 401 for a client that failed to authenticate, 400
otherwise. Tools post forms without a CSRF token: these views are exempt, and none reads a cookie."""

from __future__ import annotations

import base64
import binascii
import uuid
from urllib.parse import unquote, urlsplit

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from entra import signin
from entra.services import SignInFailed
from hub import access_tokens, clock
from hub.ids import parse_uuid
from projects.models import PrincipalType, User

# No parameter of a sign-in is longer than a refresh token (about 90 characters) or a scope list; a
# longer value is refused before it reaches a lookup.
MAX_PARAMETER_CHARS = 4096
FORM_PARAMETERS = (
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "scope",
    "resource",
    "username",
    "password",
    "refresh_token",
    "device_code",
)


def base_url(request: HttpRequest) -> str:
    """The hub as this request reached it (http or https, by whichever name): every URL it hands out."""
    return f"{request.scheme}://{request.get_host()}"


def _correlation_id(request: HttpRequest) -> str:
    given = parse_uuid(request.headers.get("client-request-id", "")[:64])
    return str(given or uuid.uuid4())


def sign_in_error(request: HttpRequest, failure: SignInFailed) -> JsonResponse:
    now = clock.now()
    timestamp = f"{now:%Y-%m-%d %H:%M:%S}Z"
    trace_id, correlation_id = str(uuid.uuid4()), _correlation_id(request)
    body = {
        "error": failure.error,
        "error_description": (
            f"AADSTS{failure.aadsts}: {failure.description} Trace ID: {trace_id} Correlation ID: {correlation_id} "
            f"Timestamp: {timestamp}"
        ),
        "error_codes": [failure.aadsts],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{base_url(request)}/error?code={failure.aadsts}",
    }
    return JsonResponse(body, status=401 if failure.error == "invalid_client" else 400)


def _form(request: HttpRequest) -> dict:
    """The sign-in parameters of a form post, bounded; client credentials from HTTP Basic too."""
    try:
        form = request.POST
    except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent, MultiPartParserError) as error:
        raise SignInFailed(
            "invalid_request", 90015, "The request body is too large or malformed for a sign-in: send a form."
        ) from error
    params = {}
    for name in FORM_PARAMETERS:
        value = form.get(name, "")
        if len(value) > MAX_PARAMETER_CHARS:
            raise SignInFailed(
                "invalid_request", 90015, f"The parameter '{name}' is too long (over {MAX_PARAMETER_CHARS} characters)."
            )
        params[name] = value
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and credentials:
        # RFC 6749 2.3.1: client id and secret, each form-urlencoded, as HTTP Basic credentials.
        try:
            decoded = base64.b64decode(credentials[:MAX_PARAMETER_CHARS], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as error:
            raise SignInFailed(
                "invalid_client", 7000218, "The Authorization header's Basic credentials are malformed."
            ) from error
        client_id, _, secret = decoded.partition(":")
        params["client_id"] = params["client_id"] or unquote(client_id)
        params["client_secret"] = params["client_secret"] or unquote(secret)
    return params


def _directory_or_error(request: HttpRequest, tenant: str):
    directory = signin.find_directory(tenant[:200])
    if directory is None:
        return None, sign_in_error(request, signin.unknown_tenant(tenant))
    return directory, None


def _sign_in_step(request: HttpRequest, tenant: str, step, headers: dict):
    """A POST of the sign-in flow: `step(base_url, directory, form)`'s answer, or Entra's error for it."""
    directory, error = _directory_or_error(request, tenant)
    if error:
        return error
    try:
        answer = step(base_url(request), directory, _form(request))
    except SignInFailed as failure:
        return sign_in_error(request, failure)
    return JsonResponse(answer, headers=headers)


@csrf_exempt
@require_POST
def token(request: HttpRequest, tenant: str):
    return _sign_in_step(request, tenant, signin.token, {"Cache-Control": "no-store", "Pragma": "no-cache"})


@csrf_exempt
@require_POST
def device_authorization(request: HttpRequest, tenant: str):
    return _sign_in_step(request, tenant, signin.start_device_code, {"Cache-Control": "no-store"})


def _endpoint_segment(directory: signin.Directory) -> str:
    # Entra names a directory by its id in the endpoints it hands out, however it was asked for.
    return str(directory.tenant.pk) if directory.tenant else directory.segment


@require_GET
def openid_configuration(request: HttpRequest, tenant: str, version: str = "v2.0"):
    directory, error = _directory_or_error(request, tenant)
    if error:
        return error
    base, segment = base_url(request), _endpoint_segment(directory)
    issuer_tenant = str(directory.tenant.pk) if directory.tenant else "{tenantid}"
    oauth = f"{base}/{segment}/oauth2/v2.0" if version == "v2.0" else f"{base}/{segment}/oauth2"
    keys = f"{base}/{segment}/discovery/v2.0/keys" if version == "v2.0" else f"{base}/{segment}/discovery/keys"
    host = request.get_host()
    return JsonResponse(
        {
            "token_endpoint": f"{oauth}/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "jwks_uri": keys,
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": access_tokens.issuer_url(base, issuer_tenant),
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{oauth}/authorize",
            "device_authorization_endpoint": f"{oauth}/devicecode",
            "end_session_endpoint": f"{oauth}/logout",
            "grant_types_supported": [
                "client_credentials",
                "password",
                "refresh_token",
                signin.DEVICE_CODE_GRANT,
            ],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nbf",
                "name",
                "oid",
                "tid",
                "upn",
                "appid",
                "idtyp",
                "preferred_username",
                "ver",
            ],  # fmt: skip
            "tenant_region_scope": None,
            "cloud_instance_name": host,
            "cloud_graph_host_name": host,
            "msgraph_host": host,
            "rbac_url": base,
        }
    )


@require_GET
def keys(request: HttpRequest, tenant: str):
    directory, error = _directory_or_error(request, tenant)
    if error:
        return error
    return JsonResponse(access_tokens.jwks())


@require_GET
def instance_discovery(request: HttpRequest):
    """Where MSAL finds a directory's OpenID configuration, given its authorize endpoint."""
    base, host = base_url(request), request.get_host()
    metadata = [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]
    authorize = request.GET.get("authorization_endpoint", "")[:MAX_PARAMETER_CHARS]
    if not authorize:
        return JsonResponse({"api-version": "1.1", "metadata": metadata})
    try:
        parts = urlsplit(authorize)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = urlsplit("")
    segment = parts.path.strip("/").split("/", 1)[0]
    if parts.netloc.lower() != host.lower() or not segment:
        failure = SignInFailed(
            "invalid_instance",
            50049,
            f"Unknown or invalid instance: '{authorize[:500]}' is not an authority of this hub ({host}).",
        )
        return sign_in_error(request, failure)
    return JsonResponse(
        {
            "tenant_discovery_endpoint": f"{base}/{segment}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": metadata,
        }
    )


@require_GET
def user_realm(request: HttpRequest, username: str):
    """Whether an account signs in here (Managed) or at a federated provider: MSAL asks before a
    username/password sign-in. Every account of the hub is Managed."""
    username = username[:254]
    user = (
        User.objects.select_related("tenant")
        .filter(email__iexact=username, principal_type=PrincipalType.USER, is_active=True)
        .first()
    )
    host = request.get_host()
    if user is None or user.tenant is None:
        return JsonResponse({"ver": "1.0", "account_type": "Unknown", "cloud_instance_name": host})
    return JsonResponse(
        {
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": user.tenant.domain,
            "cloud_instance_name": host,
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        }
    )
