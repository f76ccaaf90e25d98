"""The ARM error envelope: {"error": {"code", "message", "target", "details"}}."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.response import Response


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


def arm_exception_handler(exc, context):
    """DRF exception handler: every failure leaves the API as an ARM error envelope."""
    headers = {}
    if isinstance(exc, ArmError):
        error = exc
    elif isinstance(exc, exceptions.NotAuthenticated):
        error = ArmError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing. "
            "Send 'Authorization: Bearer <token>' with a personal API token.",
        )
    elif isinstance(exc, exceptions.AuthenticationFailed):
        error = ArmError(401, "InvalidAuthenticationToken", str(exc.detail))
    elif isinstance(exc, exceptions.ParseError):
        error = ArmError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be parsed: {exc.detail}",
        )
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        error = ArmError(415, "UnsupportedMediaType", "The content media type is not supported. Send application/json.")
    elif isinstance(exc, exceptions.MethodNotAllowed):
        error = ArmError(
            405,
            "MethodNotAllowed",
            f"The method '{context['request'].method}' is not allowed on this resource.",
        )
    elif isinstance(exc, exceptions.PermissionDenied):
        error = ArmError(403, "AuthorizationFailed", str(exc.detail))
    elif isinstance(exc, exceptions.APIException):
        error = ArmError(exc.status_code, exc.default_code.title().replace("_", ""), str(exc.detail))
    else:
        return None
    if error.status == 401:
        # A plain challenge: no claims, so azure-core does not try continuous access evaluation.
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return Response(error.body(), status=error.status, headers=headers)
