"""Every JSON endpoint (ARM, Graph, the appliance API) refuses, as an ARM envelope and before decoding,
a body nested too deep or too large; unrouted API paths are JSON 404s."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from hub.models import ApiToken

CONTOSO = "11111111-1111-1111-1111-111111111111"
DEEP = "[" * 50_000 + "]" * 50_000
JSON_ENDPOINTS = [
    ("put", f"/subscriptions/{CONTOSO}/resourcegroups/rg-bounds?api-version=2025-04-01"),
    ("patch", f"/subscriptions/{CONTOSO}/resourcegroups/rg-migrate?api-version=2025-04-01"),
    ("post", "/appliance-api/v1/registration-keys/verify"),
    ("post", "/appliance-api/v1/appliances/register"),
]


@pytest.fixture
def client(db):
    call_command("seed_demo", verbosity=0)
    _, secret = ApiToken.issue(get_user_model().objects.get(email="admin@contoso.com"), "bounds")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}", raise_request_exception=False)


def error_of(response) -> dict:
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)["error"]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize("body", [DEEP, '{"a":' * 50_000 + "1" + "}" * 50_000, '{"tags": ' + "[" * 65 + "]" * 65 + "}"])
def test_deep_nesting_is_400_invalid_request_content(client, method, path, body):
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidRequestContent"
    assert "64 levels" in error_of(response)["message"]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize("body", ['{"location": "westeurope"', "[NaN]", '{"a": "\\u0000"}', '{"a": "\\ud800"}'])
def test_malformed_json_is_400(client, method, path, body):
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidRequestContent"


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_an_oversized_body_is_413_in_the_envelope(client, method, path):
    body = json.dumps({"location": "westeurope", "tags": {"t": "x" * 3_000_000}})
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "RequestEntityTooLarge"


@pytest.mark.parametrize(
    "path", ["/v1.0/nothing", "/v1.0/users/a/b/c", "/appliance-api/v9/x", "/appliance-api", "/providers/x/y"]
)
def test_unrouted_api_paths_are_json_404s(client, path):
    response = client.get(path + "?api-version=1")
    assert response.status_code == 404
    assert isinstance(error_of(response)["code"], str)


def test_a_nul_in_the_path_or_query_is_400_not_a_database_error(client):
    for path in (f"/subscriptions/{CONTOSO}/resourcegroups/a%00b?api-version=1", "/v1.0/users/x?q=%00"):
        response = client.get(path)
        assert response.status_code == 400
        assert isinstance(error_of(response)["code"], str)
