"""The ARM error envelope for what the SDKs cannot send: no token, bad JSON, missing fields."""

from __future__ import annotations

import uuid

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


def test_a_refused_tool_leaves_no_project_behind(live_hub):
    group = unique("rg-tools")
    live_hub.api("PUT", f"{RG_PATH}/{group}", json={"location": "westeurope"})
    path = f"/subscriptions/{CONTOSO}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects/half"
    for tools in (["Cloudamize"], "ServerMigration"):
        response = live_hub.api("PUT", path, json={"location": "westeurope", "properties": {"registeredTools": tools}})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["target"].startswith("properties.registeredTools")
        assert live_hub.api("GET", path).status_code == 404


def test_odd_query_values_are_answered_not_crashed_on(live_hub):
    assert live_hub.api("GET", RG_PATH, params={"api-version": "1", "$top": "²"}).status_code == 200
    bad_filter = live_hub.api(
        "GET",
        f"/subscriptions/{CONTOSO}/providers/Microsoft.Authorization/roleAssignments",
        params={"api-version": "1", "$filter": "principalId eq '------------------------------------'"},
    )
    assert bad_filter.status_code == 400 and bad_filter.json()["error"]["code"] == "InvalidFilter"
    too_long = live_hub.api("PUT", f"{RG_PATH}/{unique('rg')}", json={"location": "westeurope", "managedBy": "x" * 500})
    assert too_long.status_code == 400 and too_long.json()["error"]["target"] == "managedBy"


def test_a_resource_group_role_lists_only_its_own_groups_assignments(live_hub):
    other = unique("rg-other")
    live_hub.api("PUT", f"{RG_PATH}/{other}", json={"location": "westeurope"})
    viewer = live_hub.api("GET", "/v1.0/users/viewer@contoso.com", params={}).json()["id"]
    live_hub.api(
        "PUT",
        f"/subscriptions/{CONTOSO}/resourceGroups/{other}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
        json={"properties": {"roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7", "principalId": viewer}},
    )
    listed = live_hub.api(
        "GET",
        f"/subscriptions/{CONTOSO}/providers/Microsoft.Authorization/roleAssignments",
        email="netadmin@contoso.com",
    ).json()["value"]
    scopes = {a["properties"]["scope"] for a in listed}
    assert not any(other in scope for scope in scopes), "netadmin sees only rg-migrate"
    assert any(scope.endswith("/resourceGroups/rg-migrate") for scope in scopes)
