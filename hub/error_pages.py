"""What the hub answers when Django itself refuses a request (400, 403, 404, 413, 500, CSRF failure).

Under the API prefixes the answer is the ARM error envelope, as every other API error; elsewhere a
portal page in the Azure portal's style. Neither names a setting, a path on disk or a traceback: the
hub's log has the detail."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.template import loader

from hub.arm.paths import ARM_ROOTS

# First path segments served as JSON APIs: ARM, Microsoft Graph's sliver, the appliance API, and the
# OpenAPI document.
API_ROOTS = (*ARM_ROOTS, "v1.0", "appliance-api", "api")


def is_api_path(path: str) -> bool:
    return path.lstrip("/").split("/", 1)[0].lower() in API_ROOTS


def _answer(request, status: int, code: str, message: str, title: str, page_message: str = "") -> HttpResponse:
    if is_api_path(request.path):
        return JsonResponse({"error": {"code": code, "message": message}}, status=status)
    # Rendered without the request's context: a failing context processor must not fail the error page.
    context = {"status": status, "title": title, "message": page_message or message}
    return HttpResponse(loader.get_template("error.html").render(context), status=status)


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return request_too_large(request)
    return _answer(
        request,
        400,
        "BadRequest",
        "The request could not be understood. Check its address, headers and content, then try again.",
        "Bad request",
    )


def request_too_large(request):
    return _answer(
        request,
        413,
        "RequestEntityTooLarge",
        "The request content is larger than the hub accepts; send less.",
        "Request too large",
    )


def permission_denied(request, exception=None):
    return _answer(
        request,
        403,
        "AuthorizationFailed",
        "You do not have permission to do this. Ask an Owner of the subscription for a role that allows it.",
        "Access denied",
    )


def page_not_found(request, exception=None):
    return _answer(
        request,
        404,
        "NotFound",
        f"Nothing is served at '{request.path}'. Check the address; the API's paths are listed at /api/schema/.",
        "The resource was not found",
        "It does not exist, or your account has no role that lets you see it. Check the address, or ask the "
        "subscription owner for access.",
    )


def server_error(request):
    return _answer(
        request,
        500,
        "InternalServerError",
        "The hub hit an unexpected error and changed nothing. Try again; if it happens again, the hub's log says why.",
        "Something went wrong",
    )


def csrf_failure(request, reason: str = ""):
    return _answer(
        request,
        403,
        "CsrfVerificationFailed",
        "The form was out of date or came from another site. Go back, reload the page and submit it again.",
        "Your session needs refreshing",
    )
