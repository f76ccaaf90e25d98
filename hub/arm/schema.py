"""The OpenAPI document (/api/schema/): what every ARM operation declares, added here once.

`ArmAutoSchema` (DRF's DEFAULT_SCHEMA_CLASS) gives each operation of an `ArmView` the required
`api-version` query parameter, and every documented operation the ARM error envelope as its `default`
response; the views declare only their own bodies with `extend_schema`. The hooks keep the document
to the APIs tools call with an Azure login (ARM and the Graph sliver) and give operations that one
view serves at several scopes distinct ids. The security schemes (Entra ID's OAuth2 as Azure's own
specifications declare it, and a plain bearer token) apply to every operation through
SPECTACULAR_SETTINGS (hub/settings.py). docs/api.md describes these conventions."""

from __future__ import annotations

import re
from collections import defaultdict

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers

from hub.arm.views import ArmView, arm_time

# Graph (Microsoft Graph's /v1.0) is called with the same bearer tokens, but takes no api-version.
GRAPH_PREFIX = "/v1.0/"
ERROR_DESCRIPTION = "An ARM error envelope: the status says which kind (400, 401, 403, 404, 409, 413, ...)."

API_VERSION = OpenApiParameter(
    "api-version",
    str,
    OpenApiParameter.QUERY,
    required=True,
    description="The API version to use for this operation (any non-empty value is accepted).",
)

LONG_RUNNING_HEADERS = {
    "Location": {"schema": {"type": "string"}, "description": "Where to poll: 202 while it runs, then the result."},
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait between polls."},
    "Azure-AsyncOperation": {
        "schema": {"type": "string"},
        "description": "Site Recovery's operation status to poll (replicationOperationStatus), when there is one.",
    },
}


class ErrorEntry(serializers.Serializer):
    code = serializers.CharField(help_text="A machine-readable code, e.g. InvalidParameter.")
    message = serializers.CharField()
    target = serializers.CharField(required=False, help_text="The property or parameter at fault.")


class ErrorDetail(ErrorEntry):
    details = ErrorEntry(many=True, required=False, help_text="One entry per problem, when there are several.")


class ErrorResponse(serializers.Serializer):
    """ARM's error envelope (Azure's common-types ErrorResponse)."""

    error = ErrorDetail()


class ArmAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with ARM's conventions.

    A view that serves one class of resource for several resource types sets `operation_group` per
    route (an `as_view` keyword) to name its operations' group, the part of the id before `_`."""

    def _is_arm(self) -> bool:
        return isinstance(self.view, ArmView)

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_arm():  # ArmView.initial refuses a request without it (400 MissingApiVersionParameter)
            parameters.append(API_VERSION)
        return parameters

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            # Here, not in get_operation_id, which extend_schema(operation_id=...) replaces.
            group, _, name = operation["operationId"].partition("_")
            group = getattr(self.view, "operation_group", None) or group
            if name:
                operation["operationId"] = f"{group}_{name}"
            # Azure's specifications group operations by the part of their id before `_`.
            operation["tags"] = [group]
            accepted = operation["responses"].get("202")
            if accepted is not None:  # hub.arm.views.accepted: a long-running operation to poll
                accepted.setdefault("headers", {}).update(LONG_RUNNING_HEADERS)
            error = self.resolve_serializer(ErrorResponse, "response")
            operation["responses"]["default"] = {
                "description": ERROR_DESCRIPTION,
                "content": {"application/json": {"schema": error.ref}},
            }
        return operation


def arm_and_graph_only(endpoints):
    """Preprocessing hook: the document describes what tools call with an Azure login: ARM operations
    (ArmView, which require api-version) and Graph. The appliance API (the on-premises programs'
    protocol, docs/api.md), Entra ID's sign-in endpoints and the portal stay out."""
    return [
        (path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
        if issubclass(getattr(callback, "cls", object), ArmView) or path.startswith(GRAPH_PREFIX)
    ]


_PARAMETER = re.compile(r"^\{(\w+)\}$")


def _parent(path: str) -> str:
    """The name of the parent a path hangs from: the last path parameter before its own collection
    (`resource_group_name` for `.../resourcegroups/{resource_group_name}/providers/x/y/{name}`)."""
    segments = path.strip("/").split("/")
    if segments and _PARAMETER.match(segments[-1]):
        segments = segments[:-1]
    for segment in reversed(segments):
        match = _PARAMETER.match(segment)
        if match:
            return match.group(1)
    return "Tenant"


def _camel(parameter: str) -> str:
    stem = re.sub(r"_(id|name)$", "", parameter)
    return "".join(part.capitalize() for part in stem.split("_"))


def distinct_operation_ids(result, generator, request, public):
    """Postprocessing hook: one view served at several scopes (a subscription and each of its resource
    groups; a vault and each fabric) would give its operations one id. Each gets `By<parent>` instead,
    as Azure names them (`VirtualNetworks_ListBySubscription`, `..._ListByResourceGroup`). Ids still
    shared after that are left to drf-spectacular, whose warning fails `make lint`."""
    operations = defaultdict(list)
    for path, methods in result["paths"].items():
        for method, operation in methods.items():
            operations[operation["operationId"]].append((path, method))
    for operation_id, places in operations.items():
        if len(places) == 1:
            continue
        suffixes = [f"By{_camel(_parent(path))}" for path, _ in places]
        if len(set(suffixes)) < len(suffixes):
            continue
        for (path, method), suffix in zip(places, suffixes, strict=True):
            result["paths"][path][method]["operationId"] = f"{operation_id}{suffix}"
    return result


def arm_list_of(item):
    """ARM's list answer for `item` (an `arm_resource`): `{"value": [...], "nextLink": "<next page>"}`."""
    return inline_serializer(
        f"{type(item).__name__}List",
        {
            "value": type(item)(many=True),
            "nextLink": serializers.CharField(required=False, allow_null=True, help_text="The next page, if any."),
        },
    )


def tags_field():
    return serializers.DictField(child=serializers.CharField(), required=False, allow_null=True)


def arm_resource(name: str, properties: dict | serializers.Serializer | None = None, *, tracked: bool = True, **fields):
    """The response shape of an ARM resource named `name` in the document: `id`, `name`, `type`, for a
    tracked resource `location` and `tags`, then `fields`, then `properties` (its own component,
    `{name}Properties`, when given as a dict of fields)."""
    body = {
        "id": serializers.CharField(help_text="The resource's ARM id."),
        "name": serializers.CharField(),
        "type": serializers.CharField(),
    }
    if tracked:
        body["location"] = serializers.CharField()
        body["tags"] = tags_field()
    body.update(fields)
    if isinstance(properties, dict):
        properties = inline_serializer(f"{name}Properties", properties)
    if properties is not None:
        body["properties"] = properties
    return inline_serializer(name, body)


def create_or_update(operation_id: str, request, resource):
    """The OpenAPI declaration of an ARM PUT: 201 and the resource when the PUT created it, 200 and the
    resource when it changed one that was there (hub.arm.views.put_answer)."""
    return extend_schema(operation_id=operation_id, request=request, responses={200: resource, 201: resource})


def proxy_resource(name: str, properties: dict | serializers.Serializer | None = None, **fields):
    """An ARM proxy resource's shape (common-types' ProxyResource): a resource below another, with no
    `location` or `tags` of its own."""
    return arm_resource(name, properties, tracked=False, **fields)


def free_form(**kwargs):
    """A nested object whose members the document leaves open (see docs/api.md for them)."""
    return serializers.DictField(required=False, allow_null=True, **kwargs)


def free_form_list(**kwargs):
    return serializers.ListField(child=serializers.DictField(), required=False, **kwargs)


class Time(serializers.DateTimeField):
    """A moment as ARM bodies carry it (hub.arm.views.arm_time)."""

    def to_representation(self, value):
        return arm_time(value)


def members(shape: serializers.Serializer, **objects) -> dict:
    """The members of `shape` (a response shape the document declares) whose fields name a `source`:
    `<object>.<dotted path>`, read from the keyword `objects` and written as the field writes it; null
    stays null, and so does an empty value where the field is nullable but may not be blank. A member
    is then declared once, for the document and the body; the writer adds the rest."""
    body = {}
    for name, field in type(shape)._declared_fields.items():
        if field.source is None:
            continue
        first, *path = field.source.split(".")
        value = objects[first]
        for attribute in path:
            value = None if value is None else getattr(value, attribute)
        blank = value == "" and field.allow_null and not getattr(field, "allow_blank", True)
        body[name] = None if value is None or blank else field.to_representation(value)
    return body
