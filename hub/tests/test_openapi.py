"""The OpenAPI document (/api/schema/) promises only what the hub serves: every documented operation is
routed to a view that answers its method, each ARM operation requires api-version (and its view
refuses a request without one), and every operation names its security and the ARM error envelope."""

from __future__ import annotations

import re

import pytest
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator

from hub.arm.views import ArmView

METHODS = ("get", "put", "post", "patch", "delete", "head")


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def view_class(path: str):
    # Any value stands for a path parameter; the routes take strings.
    concrete = re.sub(r"\{[^}]+\}", "x1", path)
    return resolve(concrete).func.view_class


def test_every_documented_operation_is_routed_to_a_view_that_serves_it(document):
    documented = list(operations(document))
    assert len(documented) > 80
    for path, method, _ in documented:
        try:
            view = view_class(path)
        except Resolver404:
            pytest.fail(f"{method.upper()} {path} is documented but not routed")
        assert callable(getattr(view, method, None)), f"{method.upper()} {path}: {view.__name__} does not serve it"
        assert method in view.http_method_names


def test_every_arm_operation_requires_api_version_and_no_other_claims_to(document):
    for path, method, operation in operations(document):
        api_version = [p for p in operation.get("parameters", []) if p["name"] == "api-version"]
        if issubclass(view_class(path), ArmView):
            assert api_version == [
                {
                    "in": "query",
                    "name": "api-version",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": api_version[0]["description"],
                }
            ], f"{method.upper()} {path}"
        else:
            # Graph takes no api-version: the document must not say it does.
            assert path.startswith("/v1.0/") and not api_version, f"{method.upper()} {path}"


def test_every_operation_names_its_security_and_the_error_envelope(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["azure_auth"]["type"] == "oauth2"
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    envelope = document["components"]["schemas"]["ErrorResponse"]
    assert envelope["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    ids = set()
    for path, method, operation in operations(document):
        assert operation["security"] == [{"azure_auth": ["user_impersonation"]}, {"bearer": []}], path
        default = operation["responses"]["default"]["content"]["application/json"]["schema"]
        assert default == {"$ref": "#/components/schemas/ErrorResponse"}, f"{method.upper()} {path}"
        assert operation["operationId"] not in ids, "operation ids are distinct without numeral suffixes"
        ids.add(operation["operationId"])


def test_bodies_are_typed_components_not_free_form_objects(document):
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema is not None:
                assert "$ref" in schema, f"{method.upper()} {path} {status}: {schema}"
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body is not None:
            assert "$ref" in body, f"{method.upper()} {path} request: {body}"


def test_what_the_hub_does_not_serve_is_not_documented(document):
    paths = document["paths"]
    vm = next(p for p in paths if p.endswith("/microsoft.compute/virtualmachines/{vm_name}"))
    nic = next(p for p in paths if p.endswith("/microsoft.network/networkinterfaces/{nic_name}"))
    assert set(paths[vm]) - {"parameters"} == {"get"}
    assert set(paths[nic]) - {"parameters"} == {"get"}
    assert not [p for p in paths if p.endswith("/{action}") or "replication" in p and "pause" in p]
    assert not [p for p in paths if p.startswith("/appliance-api/")], "the appliance's protocol is docs/api.md's"
