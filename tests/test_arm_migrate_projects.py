"""Azure Migrate projects: generic-resource calls through azure-mgmt-resource, and the Migrate REST
surface (there is no Python SDK for Microsoft.Migrate, so those calls go over plain HTTP)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from tests.azure_clients import resource_client
from tests.hubs import CONTOSO, unique

pytestmark = pytest.mark.live
API_VERSION = "2018-09-01-preview"


def project_id(group: str, name: str) -> str:
    return f"/subscriptions/{CONTOSO}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects/{name}"


@pytest.fixture
def client(live_hub):
    return resource_client(live_hub, "admin@contoso.com", CONTOSO)


def test_a_project_made_by_generic_resource_put_gets_the_migration_tool(live_hub, client, group):
    name = unique("proj")[:24]
    resource_id = project_id(group, name)
    created = client.resources.begin_create_or_update_by_id(
        resource_id, {"location": "westeurope", "tags": {"wave": "1"}}, api_version=API_VERSION
    ).result()
    assert (created.id, created.type, created.location) == (
        resource_id,
        "Microsoft.Migrate/migrateProjects",
        "westeurope",
    )
    assert client.resources.check_existence_by_id(resource_id, api_version=API_VERSION) is True
    assert client.resources.get_by_id(resource_id.lower(), api_version=API_VERSION).name == name
    assert resource_id in [r.id for r in client.resources.list_by_resource_group(group)]

    solutions = live_hub.api("GET", f"{resource_id}/solutions").json()["value"]
    assert solutions == [], "no tool until one is registered"
    registered = live_hub.api("POST", f"{resource_id}/registerTool", json={"tool": "ServerMigration"})
    assert registered.status_code == 200 and registered.json() == {"isRegistered": True}

    solutions = live_hub.api("GET", f"{resource_id}/solutions").json()["value"]
    assert [s["name"] for s in solutions] == ["Servers-Migration-ServerMigration"]
    assert solutions[0]["properties"]["tool"] == "ServerMigration"
    assert solutions[0]["properties"]["purpose"] == "Migration"
    single = live_hub.api("GET", f"{resource_id}/solutions/Servers-Migration-ServerMigration")
    assert single.status_code == 200
    project = live_hub.api("GET", resource_id).json()
    assert project["properties"]["registeredTools"] == ["ServerMigration"]

    by_group = live_hub.api(
        "GET", f"/subscriptions/{CONTOSO}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects"
    )
    assert [p["name"] for p in by_group.json()["value"]] == [name]
    by_subscription = live_hub.api("GET", f"/subscriptions/{CONTOSO}/providers/Microsoft.Migrate/migrateProjects")
    assert name in [p["name"] for p in by_subscription.json()["value"]]

    client.resources.begin_delete_by_id(resource_id, api_version=API_VERSION).result()
    with pytest.raises(ResourceNotFoundError):
        client.resources.get_by_id(resource_id, api_version=API_VERSION)


def test_put_replaces_and_keeps_the_location(live_hub, group):
    path = project_id(group, unique("p")[:24])
    assert live_hub.api("PUT", path, json={"location": "westeurope", "tags": {"a": "1"}}).status_code == 201
    again = live_hub.api("PUT", path, json={"location": "West Europe", "tags": {"b": "2"}})
    assert again.status_code == 200 and again.json()["tags"] == {"b": "2"}
    moved = live_hub.api("PUT", path, json={"location": "eastus"})
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "InvalidResourceLocation"


@pytest.mark.parametrize(
    ("name", "body", "code", "target"),
    [
        ("bad_name!", {"location": "westeurope"}, "InvalidResourceName", "name"),
        ("ab", {"location": "westeurope"}, "InvalidResourceName", "name"),
        ("good-name", {"location": "centralindia"}, "LocationNotAvailableForResourceType", "location"),
        ("good-name", {}, "LocationRequired", "location"),
    ],
)
def test_invalid_projects_are_refused_and_not_created(live_hub, group, name, body, code, target):
    path = project_id(group, name)
    response = live_hub.api("PUT", path, json=body)
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["target"]) == (code, target)
    assert live_hub.api("GET", path).status_code == 404


def test_an_unknown_tool_is_refused(live_hub, group):
    path = project_id(group, unique("p")[:24])
    live_hub.api("PUT", path, json={"location": "westeurope"})
    response = live_hub.api("POST", f"{path}/registerTool", json={"tool": "Nonsense"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidTool"


def test_a_project_in_an_unknown_group_is_not_found(live_hub):
    response = live_hub.api("PUT", project_id("rg-does-not-exist", "proj-1"), json={"location": "westeurope"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceGroupNotFound"


def test_deleting_a_group_deletes_its_projects(live_hub, client, group):
    path = project_id(group, unique("p")[:24])
    live_hub.api("PUT", path, json={"location": "westeurope"})
    client.resource_groups.begin_delete(group).result()
    assert live_hub.api("GET", path).status_code == 404


def test_a_contributor_can_create_and_a_reader_cannot(live_hub, group):
    path = project_id(group, unique("p")[:24])
    assert live_hub.api("PUT", path, email="migrator@contoso.com", json={"location": "northeurope"}).status_code == 201
    refused = live_hub.api("POST", f"{path}/registerTool", email="viewer@contoso.com", json={"tool": "ServerMigration"})
    assert refused.status_code == 403
    assert "Microsoft.Migrate/migrateProjects/registerTool/action" in refused.json()["error"]["message"]
    assert live_hub.api("GET", path, email="viewer@contoso.com").status_code == 200
