"""The ARM error envelope for what the SDKs cannot send: no token, bad JSON, missing fields."""

from __future__ import annotations

import pytest
import requests

from tests.hubs import CONTOSO, unique

pytestmark = pytest.mark.live
RG_PATH = f"/subscriptions/{CONTOSO}/resourcegroups"


def test_no_token_is_401(live_hub):
    response = requests.get(f"{live_hub.url}{RG_PATH}", params={"api-version": "2025-04-01"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"


def test_an_unknown_token_is_401(live_hub):
    response = requests.get(
        f"{live_hub.url}{RG_PATH}",
        params={"api-version": "2025-04-01"},
        headers={"Authorization": "Bearer mhub_not-a-real-token"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_api_version_is_required(live_hub):
    response = live_hub.api("GET", RG_PATH, params={})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


def test_malformed_json_is_400(live_hub):
    response = live_hub.api(
        "PUT", f"{RG_PATH}/{unique('rg')}", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidRequestContent"


def test_missing_location_names_the_field(live_hub):
    response = live_hub.api("PUT", f"{RG_PATH}/{unique('rg')}", json={"tags": {}})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "LocationRequired",
        "message": "The location property is required for this definition.",
        "target": "location",
    }


def test_a_wrongly_typed_field_is_named(live_hub):
    response = live_hub.api("PUT", f"{RG_PATH}/{unique('rg')}", json={"location": "westeurope", "tags": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["target"] == "tags"


def test_an_unknown_path_is_an_arm_404(live_hub):
    response = live_hub.api("GET", f"/subscriptions/{CONTOSO}/providers/Microsoft.Nothing/things")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "InvalidResourceType"


def test_the_openapi_document_covers_the_api(live_hub):
    import requests as plain

    schema = plain.get(f"{live_hub.url}/api/schema/?format=json", timeout=10).json()
    paths = {path.lower() for path in schema["paths"]}
    assert "/subscriptions/{subscription_id}/resourcegroups/{resource_group_name}" in paths
    assert any(path.endswith("/registertool") for path in paths)
