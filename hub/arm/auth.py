from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from rest_framework import authentication, exceptions

from hub import access_tokens, clock
from hub.arm.errors import ArmError
from hub.ids import parse_uuid
from hub.models import ApiToken

# The tenant a subscription belongs to (None if there is no such subscription): projects, which owns
# subscriptions, provides it at start-up (ProjectsConfig.ready).
SubscriptionTenantReader = Callable[[str], object]
_subscription_tenant: SubscriptionTenantReader | None = None


def provide_subscription_tenant_reader(reader: SubscriptionTenantReader) -> None:
    global _subscription_tenant
    _subscription_tenant = reader


# The DRF error code of an expired token; hub.arm.errors answers it with ARM's code of the same name.
EXPIRED = "ExpiredAuthenticationToken"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`, as the Azure SDKs and az send it: a personal API token, or an
    access token (JWT) from the hub's Microsoft Entra ID endpoints, for ARM's audience on the ARM API and
    Graph's on /v1.0. Either way the caller is a user row (a person or a service principal) and the
    same role checks apply."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise exceptions.AuthenticationFailed(
                "The 'Authorization' header must be 'Bearer <token>'. Create a token in the portal "
                "(user menu > API tokens) or with 'manage.py create_api_token EMAIL'."
            )
        secret = secret.strip()
        if access_tokens.looks_like_jwt(secret):
            return self.authenticate_jwt(request, secret)
        token = ApiToken.authenticate(secret)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(
                "The access token is invalid or has been revoked. Create a new one in the portal "
                "(user menu > API tokens)."
            )
        now = clock.now()
        if token.is_expired(now):
            raise exceptions.AuthenticationFailed(
                f"The access token expiry UTC time '{token.expires_at:%m/%d/%Y %H:%M:%S}' is earlier than current UTC "
                f"time '{now:%m/%d/%Y %H:%M:%S}'. Create a new token in the portal (user menu > API tokens) or with "
                "'manage.py create_api_token EMAIL --days N'.",
                code=EXPIRED,
            )
        token.touch()
        return (token.user, token)

    def authenticate_jwt(self, request, secret: str):
        try:
            token = access_tokens.verify(secret, audiences=audiences_for(request))
        except access_tokens.TokenRejected as rejected:
            code = EXPIRED if rejected.expired else None
            raise exceptions.AuthenticationFailed(rejected.message, code=code) from None
        user = (
            get_user_model()
            .objects.filter(
                object_id=parse_uuid(token.object_id), tenant_id=parse_uuid(token.tenant_id), is_active=True
            )
            .first()
        )
        if user is None:
            raise exceptions.AuthenticationFailed(
                "The principal the access token was issued to no longer exists in its directory. Sign in again."
            )
        return (user, token)

    def authenticate_header(self, request):
        return 'Bearer error="invalid_token"'


def audiences_for(request) -> tuple[str, ...]:
    """Graph (/v1.0) takes tokens for Graph, under its Azure names or the hub's own URL (the cloud
    metadata's microsoftGraphResourceId, where az sends Graph calls); the ARM API takes ARM's."""
    if request.path.startswith("/v1.0/"):
        return (*access_tokens.GRAPH_AUDIENCES, f"{request.scheme}://{request.get_host()}/")
    return access_tokens.ARM_AUDIENCES


def check_token_tenant(request, subscription_id) -> None:
    """A token from one directory used on another directory's subscription: Azure answers 401
    InvalidAuthenticationTokenTenant, naming the authority to get a token from, before it looks at what
    the caller may see there. Personal API tokens belong to no issuer and are not concerned."""
    token = request.auth
    if not isinstance(token, access_tokens.AccessToken) or subscription_id is None or _subscription_tenant is None:
        return
    owner = _subscription_tenant(subscription_id)
    if owner is None or str(owner) == str(token.tenant_id):
        return
    base = token.issuer.removesuffix(f"/{token.tenant_id}/v2.0")
    raise ArmError(
        401,
        "InvalidAuthenticationTokenTenant",
        f"The access token is from the wrong issuer '{token.issuer}'. It must match the tenant "
        f"'{access_tokens.issuer_url(base, owner)}' associated with this subscription. Please use the authority "
        f"(URL) '{base}/{owner}' to get the token. Note, if the subscription is transferred to another tenant "
        "there is no impact to the services, but information about new tenant could take time to propagate (up "
        "to an hour). If you just transferred your subscription and see this error message, please try back later.",
    )
