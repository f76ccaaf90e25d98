"""Role assignments and definitions through azure-mgmt-authorization's client, unmodified."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.azure_clients import authorization_client
from tests.hubs import CONTOSO, unique

pytestmark = pytest.mark.live
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
SUB_PATH = f"/subscriptions/{CONTOSO}"


def principal_id(hub, email: str) -> str:
    """The user's object id, looked up the way automation does it (Microsoft Graph)."""
    return hub.api("GET", f"/v1.0/users/{email}", params={}).json()["id"]


@pytest.fixture
def client(live_hub):
    return authorization_client(live_hub, "admin@contoso.com", CONTOSO)


def test_role_definitions_are_the_built_in_roles(client):
    names = {d.role_name for d in client.role_definitions.list(f"/subscriptions/{CONTOSO}")}
    assert {"Owner", "Contributor", "Reader", "User Access Administrator", "Virtual Machine Contributor"} <= names
    owner = client.role_definitions.get(f"/subscriptions/{CONTOSO}", OWNER)
    assert (owner.role_name, owner.role_type) == ("Owner", "BuiltInRole")
    only = list(client.role_definitions.list(f"/subscriptions/{CONTOSO}", filter="roleName eq 'Reader'"))
    assert [d.name for d in only] == [READER]


def test_an_owner_creates_lists_and_deletes_an_assignment(live_hub, client):
    viewer = principal_id(live_hub, "viewer@contoso.com")
    group = live_hub.new_resource_group("rg-iam")
    scope = f"/subscriptions/{CONTOSO}/resourceGroups/{group}"
    name = str(uuid.uuid4())
    created = client.role_assignments.create(
        scope,
        name,
        {
            "properties": {
                "roleDefinitionId": f"{SUB_PATH}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
                "principalId": viewer,
            }
        },
    )
    assert (created.name, created.principal_id, created.scope) == (name, viewer, scope)
    assert created.role_definition_id.endswith(OWNER)

    listed = list(client.role_assignments.list_for_resource_group(group))
    assert name in [a.name for a in listed]
    assert any(a.scope == f"/subscriptions/{CONTOSO}" for a in listed), "inherited assignments apply to the group"
    assert name in [a.name for a in client.role_assignments.list_for_subscription()]
    assert name not in [a.name for a in client.role_assignments.list_for_subscription(filter="atScope()")]
    assert client.role_assignments.get(scope, name).principal_id == viewer

    # Now the Reader owns the group and can create a project in it.
    project = f"{scope}/providers/Microsoft.Migrate/migrateProjects/{unique('p')[:20]}"
    assert live_hub.api("PUT", project, email="viewer@contoso.com", json={"location": "westeurope"}).status_code == 201

    with pytest.raises(ResourceExistsError) as duplicate:
        client.role_assignments.create(
            scope, str(uuid.uuid4()), {"properties": {"roleDefinitionId": OWNER, "principalId": viewer}}
        )
    assert duplicate.value.error.code == "RoleAssignmentExists"

    deleted = client.role_assignments.delete(scope, name)
    assert deleted.name == name
    with pytest.raises(ResourceNotFoundError):
        client.role_assignments.get(scope, name)
    assert live_hub.api("PUT", project, email="viewer@contoso.com", json={"location": "westeurope"}).status_code == 403


def test_a_contributor_cannot_assign_roles(live_hub):
    viewer = principal_id(live_hub, "viewer@contoso.com")
    client = authorization_client(live_hub, "migrator@contoso.com", CONTOSO)
    with pytest.raises(HttpResponseError) as refused:
        client.role_assignments.create(
            f"/subscriptions/{CONTOSO}",
            str(uuid.uuid4()),
            {"properties": {"roleDefinitionId": OWNER, "principalId": viewer}},
        )
    assert refused.value.status_code == 403
    assert refused.value.error.code == "AuthorizationFailed"
    assert "Microsoft.Authorization/roleAssignments/write" in refused.value.error.message
    assert "migrator@contoso.com" in refused.value.error.message


def test_an_unknown_role_or_principal_is_refused(client):
    with pytest.raises(HttpResponseError) as refused:
        client.role_assignments.create(
            f"/subscriptions/{CONTOSO}",
            str(uuid.uuid4()),
            {"properties": {"roleDefinitionId": str(uuid.uuid4()), "principalId": str(uuid.uuid4())}},
        )
    assert refused.value.error.code == "RoleDefinitionDoesNotExist"
    with pytest.raises(HttpResponseError) as refused:
        client.role_assignments.create(
            f"/subscriptions/{CONTOSO}",
            str(uuid.uuid4()),
            {"properties": {"roleDefinitionId": OWNER, "principalId": str(uuid.uuid4())}},
        )
    assert refused.value.error.code == "PrincipalNotFound"
