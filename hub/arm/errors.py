"""The ARM error envelope: {"error": {"code", "message", "target", "details"}}."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.response import Response

from hub import db_conflicts


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, target: str | None = None, details=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details or []
        # What the portal shows: the same text unless a gate words it for a person (access.AccessDenied).
        self.portal_message = message

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        if self.details:
            error["details"] = self.details
        return {"error": error}


def found(resource, code: str, message: str):
    """`resource` as a lookup returned it, unless it is None: then ARM's 404 with `code` and `message`."""
    if resource is None:
        raise ArmError(404, code, message)
    return resource


MISSING_AUTHORIZATION = (
    "Authentication failed. The 'Authorization' header is missing. "
    "Send 'Authorization: Bearer <token>' with a personal API token."
)
UNPARSABLE = "The request content was invalid and could not be parsed"
UNSUPPORTED_MEDIA_TYPE = "The content media type is not supported. Send application/json."
RETRYABLE = "The request conflicted with another one being served at the same time and was not applied. Retry it."


def as_arm_error(exc, method: str) -> ArmError | None:
    """The ARM error a DRF exception stands for; None for anything else (Django handles it)."""
    if isinstance(exc, ArmError):
        return exc
    if isinstance(exc, exceptions.NotAuthenticated):
        return ArmError(401, "AuthenticationFailed", MISSING_AUTHORIZATION)
    if isinstance(exc, exceptions.AuthenticationFailed):
        expired = exc.get_codes() == "ExpiredAuthenticationToken"  # hub.arm.auth.EXPIRED
        return ArmError(401, "ExpiredAuthenticationToken" if expired else "InvalidAuthenticationToken", str(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return ArmError(400, "InvalidRequestContent", f"{UNPARSABLE}: {exc.detail}")
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return ArmError(415, "UnsupportedMediaType", UNSUPPORTED_MEDIA_TYPE)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return ArmError(405, "MethodNotAllowed", f"The method '{method}' is not allowed on this resource.")
    if isinstance(exc, exceptions.PermissionDenied):
        return ArmError(403, "AuthorizationFailed", str(exc.detail))
    if isinstance(exc, exceptions.APIException):
        return ArmError(exc.status_code, exc.default_code.title().replace("_", ""), str(exc.detail))
    if db_conflicts.is_transient(exc):
        # A deadlock or serialization failure the server rolled back: nothing was kept, the caller retries.
        return ArmError(503, "RetryableError", RETRYABLE)
    return None


def arm_exception_handler(exc, context):
    """DRF exception handler: every failure leaves the API as an ARM error envelope."""
    error = as_arm_error(exc, context["request"].method)
    if error is None:
        return None
    headers = {}
    if error.code == "RetryableError":
        headers["Retry-After"] = str(db_conflicts.RETRY_AFTER_SECONDS)
    if error.status == 401:
        # A plain challenge: no claims, so azure-core does not try continuous access evaluation.
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return Response(error.body(), status=error.status, headers=headers)
