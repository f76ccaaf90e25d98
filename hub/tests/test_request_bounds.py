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


def _read_body(path: str, chunks: list[bytes]) -> bytes:
    """The body hub.asgi's handler hands the request for `path`, received in `chunks`."""
    import asyncio

    from django.conf import settings

    from hub.asgi import SyncChainASGIHandler, _body_kept_in_memory

    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)
    ]

    async def receive():
        return messages.pop(0)

    async def read():
        kept = next((limit for prefix, limit in settings.IN_MEMORY_BODIES.items() if path.startswith(prefix)), 0)
        token = _body_kept_in_memory.set(kept)
        try:
            body = await SyncChainASGIHandler.read_body(SyncChainASGIHandler.__new__(SyncChainASGIHandler), receive)
        finally:
            _body_kept_in_memory.reset(token)
        return body

    body = asyncio.run(read())
    assert not messages, "the whole body was received"
    return body.read()


def test_appliance_api_bodies_are_kept_in_memory_up_to_a_bound(settings):
    """A replication batch is not spooled to a temporary file (hub/asgi.py); past the bound the rest is
    received and dropped, so the view's own limit (below the bound) still refuses it
    (replication/tests/test_input_bounds.py checks the bound against the batch view's)."""
    settings.IN_MEMORY_BODIES = {"/appliance-api/": 1000}
    batch = "/appliance-api/v1/appliances/a/replication/batches"
    assert _read_body(batch, [b"a" * 600, b"b" * 300, b""]) == b"a" * 600 + b"b" * 300
    assert _read_body(batch, [b"a" * 600, b"b" * 600, b"c" * 600]) == b"a" * 600 + b"b" * 400
    assert _read_body("/subscriptions/x", [b"a" * 1200, b"b"]) == b"a" * 1200 + b"b", "elsewhere as Django does"
