from __future__ import annotations

from rest_framework import authentication, exceptions

from hub import clock
from hub.models import ApiToken

# The DRF error code of an expired token; hub.arm.errors answers it with ARM's code of the same name.
EXPIRED = "ExpiredAuthenticationToken"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <personal API token>`, as the Azure SDKs send it."""

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
        token = ApiToken.authenticate(secret.strip())
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

    def authenticate_header(self, request):
        return 'Bearer error="invalid_token"'
