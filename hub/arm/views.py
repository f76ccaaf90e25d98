"""The base view every ARM handler derives from, and the response helpers they share."""

from __future__ import annotations

import uuid

from django.conf import settings
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.arm import auth
from hub.arm.bodies import json_object
from hub.arm.errors import ArmError

# Methods that change something: ARM checks the caller's RBAC action for them before the resource
# provider sees the request. A POST is an action (`.../{action}/action`), so it must always declare one.
ACTION_METHODS = ("post",)


class ArmView(APIView):
    """An ARM endpoint: bearer-token authentication, api-version required (any value), ARM headers.

    Before the handler runs, in ARM's order: `resolve_scope` finds the subscription and resource group
    the URL names (404 for what the caller may not see); the permission the class declares for the
    method in `permissions` is checked there (`authorize`, 403), as ARM checks RBAC before the resource
    provider sees a request; then `resolve_parents` looks up the resources above the handler's own.

    `permissions` maps a method name to what `authorize` checks (projects.access.Permission), or to a
    callable of the route's keywords that returns one. A class that serves POST without declaring its
    permission is refused when it is defined: an action open to every reader cannot be written."""

    permissions: dict = {}
    # Methods this view answers without any permission, on purpose (the catch-all 404 view).
    unchecked_methods: frozenset[str] = frozenset()
    # The OpenAPI document's operation group (the part of an operation id before `_`), set per route
    # when one class serves several resource types (hub.arm.schema.ArmAutoSchema).
    operation_group: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.permissions and cls.authorize is ArmView.authorize:
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__} declares permissions but no scope to check them at: derive "
                "it from projects.arm.scopes.ScopeView, or implement authorize()."
            )
        for method in ACTION_METHODS:
            served = callable(getattr(cls, method, None))
            if served and method not in cls.permissions and method not in cls.unchecked_methods:
                raise TypeError(
                    f"{cls.__module__}.{cls.__qualname__} serves {method.upper()} but declares no permission for it: "
                    f"add permissions = {{'{method}': <projects.access.Permission>}}."
                )

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not request.query_params.get("api-version"):
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if self._serves(request.method):
            auth.check_token_tenant(request, kwargs.get("subscription_id"))
            self.resolve_scope(request, **kwargs)
            permission = self.permissions.get(request.method.lower())
            if permission is not None:
                self.authorize(request, permission(kwargs) if callable(permission) else permission)
            self.resolve_parents(request, **kwargs)

    def _serves(self, method: str) -> bool:
        # A method the view does not serve stays 405 whatever the path names; OPTIONS is DRF's own.
        name = method.lower()
        return name != "options" and name in self.http_method_names and hasattr(self, name)

    def resolve_scope(self, request, **route) -> None:
        """Look up the subscription and resource group `route` (the URL's keywords) names."""

    def authorize(self, request, permission) -> None:
        """Check `permission` at the scope `resolve_scope` found; an ArmError (403) stops the request."""
        raise ArmError(
            403,
            "AuthorizationFailed",
            f"The client may not perform '{request.method}' on '{request.path}': this endpoint has no scope "
            "to check the permission at.",
        )

    def resolve_parents(self, request, **route) -> None:
        """Look up the parents `route` (the URL's keywords) names; an ArmError stops the request."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # A handler may name the request itself (Site Recovery names the job a 202 started).
        response["x-ms-request-id"] = getattr(response, "arm_request_id", None) or str(uuid.uuid4())
        correlation = request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        response["x-ms-correlation-request-id"] = correlation
        if request.headers.get("x-ms-client-request-id"):
            response["x-ms-client-request-id"] = request.headers["x-ms-client-request-id"]
        return response


def absolute_url(request, path: str) -> str:
    """An absolute URL on this hub, carrying the caller's api-version (ARM emits absolute links)."""
    api_version = request.query_params.get("api-version", "")
    return request.build_absolute_uri(f"{path}?api-version={api_version}")


def accepted(request, *, location: str, azure_async_operation: str | None = None) -> Response:
    """202 for a long-running operation; the client polls `location` (and the async-operation URL)."""
    headers = {
        "Location": absolute_url(request, location),
        "Retry-After": str(settings.ARM_RETRY_AFTER_SECONDS),
    }
    if azure_async_operation:
        headers["Azure-AsyncOperation"] = absolute_url(request, azure_async_operation)
    return Response(status=202, headers=headers)


def arm_time(moment) -> str | None:
    """A moment as ARM bodies carry it: ISO 8601, or null when there is none."""
    return moment.isoformat() if moment else None


def put_answer(body: dict, created: bool) -> Response:
    """ARM's answer to a PUT: 201 when it created the resource, 200 when it changed one that was there."""
    return Response(body, status=201 if created else 200)


def arm_list(items: list[dict]) -> Response:
    return Response({"value": items})


def existence(lookup) -> Response:
    """HEAD of a resource: 204 when `lookup()` finds it, else its error's status with no body."""
    try:
        lookup()
    except ArmError as error:
        return Response(status=error.status)
    return Response(status=204)


def deletion(lookup, delete) -> Response:
    """ARM's DELETE: 200 once `delete(lookup())` is done; 204 when `lookup()` finds nothing (raises an
    ArmError), as deleting what is not there succeeds."""
    try:
        resource = lookup()
    except ArmError:
        return Response(status=204)
    delete(resource)
    return Response(status=200)


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """Validate a request body; a failure names each offending field, ARM-style."""
    serializer = serializer_class(data=json_object(data))
    if serializer.is_valid():
        return serializer.validated_data
    details = []
    for field, messages in _flatten(serializer.errors):
        details.append({"code": "InvalidParameter", "target": field, "message": f"'{field}': {messages}"})
    first = details[0]
    if first["target"] == "location" and "required" in first["message"]:
        raise ArmError(
            400,
            "LocationRequired",
            "The location property is required for this definition.",
            target="location",
        )
    raise ArmError(400, "InvalidRequestContent", first["message"], target=first["target"], details=details)


def _flatten(errors, prefix: str = ""):
    for field, value in errors.items():
        name = f"{prefix}{field}" if field != "non_field_errors" else prefix.rstrip(".") or "body"
        if isinstance(value, dict):
            yield from _flatten(value, f"{name}.")
        else:
            yield name, " ".join(str(message) for message in value)


class NotFoundView(ArmView):
    """Any ARM path no handler serves: 404 in the ARM envelope, after authentication."""

    unchecked_methods = frozenset({"post"})  # nothing is done: every caller learns the path is not served

    def _not_found(self, request, *args, **kwargs):
        raise ArmError(
            404,
            "InvalidResourceType",
            f"The resource type or path '{request.path}' is not served by this hub. "
            "See /api/schema/ for the resources it emulates.",
        )

    get = put = post = patch = delete = head = _not_found
