"""The permission matrix over HTTP: each gated action that has an endpoint, for each demo user, through
the ARM API and through the portal form, must allow and refuse alike (projects/tests/
test_permission_matrix.py holds the whole table at function level)."""

from __future__ import annotations

import re
import uuid

import pytest

from projects.tests.test_permission_matrix import MATRIX
from tests.hubs import CONTOSO, unique
from tests.test_isolation import csrf, portal_session

pytestmark = pytest.mark.live
USERS = ["admin", "migrator", "viewer", "appdev", "netadmin"]
RG_PATH = f"/subscriptions/{CONTOSO}/resourceGroups/rg-migrate"
OWNER_ID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def api_create_resource_group(hub, email):
    return hub.api(
        "PUT", f"/subscriptions/{CONTOSO}/resourcegroups/{unique('rg-m')}", email=email, json={"location": "westeurope"}
    )


def api_create_project(hub, email):
    path = f"{RG_PATH}/providers/Microsoft.Migrate/migrateProjects/{unique('m')[:20]}"
    return hub.api("PUT", path, email=email, json={"location": "westeurope"})


def api_add_role_assignment(hub, email):
    viewer = hub.api("GET", "/v1.0/users/viewer@contoso.com", params={}).json()["id"]
    body = {"properties": {"roleDefinitionId": OWNER_ID, "principalId": viewer}}
    path = f"{RG_PATH}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    response = hub.api("PUT", path, email=email, json=body)
    if response.ok:  # leave rg-migrate as the matrix expects it
        hub.api("DELETE", path)
    return response


def api_create_network(hub, email):
    body = {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.77.0.0/16"]}}}
    return hub.api(
        "PUT", f"{RG_PATH}/providers/Microsoft.Network/virtualNetworks/{unique('vnet')}", email=email, json=body
    )


API = {
    "create a resource group": api_create_resource_group,
    "create an Azure Migrate project": api_create_project,
    "add a role assignment": api_add_role_assignment,
    "create a virtual network": api_create_network,
}


@pytest.mark.parametrize("action", API)
@pytest.mark.parametrize("name", USERS)
def test_the_api_allows_and_refuses_as_the_matrix_says(live_hub, action, name):
    response = API[action](live_hub, f"{name}@contoso.com")
    if name in MATRIX[action][2]:
        assert response.status_code in (200, 201), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "AuthorizationFailed"


def portal_add_tools_step(hub, session, *, new_group: bool):
    data = {
        "step": "0",
        "action": "next",
        "subscription": CONTOSO,
        "resource_group": "__new__" if new_group else "rg-migrate",
        "new_resource_group": unique("rg-p") if new_group else "",
        "project_name": unique("p")[:20],
        "location": "westeurope",
        "assessment_tool": "skip",
        "migration_tool": "ServerMigration",
    }
    return session.post(f"{hub.url}/migrate/add-tools/", data={**data, **csrf(session)}, timeout=10)


def portal_create_resource_group(hub, session):
    return portal_add_tools_step(hub, session, new_group=True)


def portal_create_project(hub, session):
    return portal_add_tools_step(hub, session, new_group=False)


def portal_add_role_assignment(hub, session):
    return session.post(
        f"{hub.url}/resource/subscriptions/{CONTOSO}/resourceGroups/rg-migrate/iam/",
        data={"role": "Reader", "principal": "", **csrf(session)},
        timeout=10,
    )


def option_value(page: str, label_contains: str) -> str:
    """The value of the first <option> whose label contains the text ("" when there is none)."""
    for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', page):
        if label_contains in label:
            return value
    return ""


def portal_create_network(hub, session):
    page = session.get(f"{hub.url}/virtual-networks/?create=1", timeout=10).text
    data = {
        "resource_group": option_value(page, "rg-migrate (Contoso"),
        "name": unique("vnet"),
        "location": "westeurope",
        "address_space": "10.88.0.0/16",
        "subnet_name": "default",
        "subnet_range": "10.88.0.0/24",
        "environment": "test",
    }
    return session.post(f"{hub.url}/virtual-networks/", data={**data, **csrf(session)}, timeout=10)


def portal_change_directory_settings(hub, session):
    # Saves the current value ("No"), so an allowed save changes nothing for the other tests.
    return session.post(f"{hub.url}/aad/user-settings/", data={"app_registrations": "no", **csrf(session)}, timeout=10)


def portal_register_applications(hub, session):
    return session.get(f"{hub.url}/aad/", timeout=10)


PORTAL = {
    "create a resource group": portal_create_resource_group,
    "create an Azure Migrate project": portal_create_project,
    "create a virtual network": portal_create_network,
    "change directory settings": portal_change_directory_settings,
    "register a replication appliance (app registration)": portal_register_applications,
}


def portal_allowed(action: str, response) -> bool:
    body = response.text
    if action == "register a replication appliance (app registration)":
        return '<td id="can-register">Allowed' in body
    if action.startswith("create a resource group") or action.startswith("create an Azure"):
        # The wizard moves on to the next tab only when the first one passed every check.
        return 'name="step" value="1"' in body
    return response.history != [] and response.history[0].status_code == 302


@pytest.mark.parametrize("action", PORTAL)
@pytest.mark.parametrize("name", USERS)
def test_the_portal_allows_and_refuses_as_the_matrix_says(live_hub, action, name):
    session = portal_session(live_hub, f"{name}@contoso.com")
    response = PORTAL[action](live_hub, session)
    assert response.status_code == 200
    assert portal_allowed(action, response) is (name in MATRIX[action][2])
    if name not in MATRIX[action][2] and action != "register a replication appliance (app registration)":
        assert "You need" in response.text or "Only a Global administrator" in response.text


def test_a_portal_refusal_of_a_role_assignment_names_the_roles(live_hub):
    session = portal_session(live_hub, "migrator@contoso.com")
    iam = f"{live_hub.url}/resource/subscriptions/{CONTOSO}/resourceGroups/rg-migrate/iam/"
    principal = option_value(session.get(f"{iam}?tab=add", timeout=10).text, "(viewer@contoso.com)")
    response = session.post(iam, data={"role": "Reader", "principal": principal, **csrf(session)}, timeout=10)
    assert (
        "You need Owner or User Access Administrator on resource group rg-migrate to add role assignments."
        in response.text
    )


# Site Recovery writes under the project's vault (replication.arm_migration): enabling replication,
# changing a replicating server and creating a policy need write on the vault, which Owner and
# Contributor hold; a Reader, and a Virtual Machine Contributor (who may only manage target VMs), are
# refused before the body is read. An allowed caller gets past the gate to the vault's answer (no
# appliance registered here, so no fabric: 404), or, for a policy, its creation.
ASR_WRITERS = {"admin", "migrator", "appdev"}
CONTAINER_PATH = "replicationFabrics/migrate-fabric/replicationProtectionContainers/migrate-container"


@pytest.fixture(scope="module")
def vault_id(live_hub):
    from tests.test_isolation import create_resources

    project = f"{RG_PATH}/providers/Microsoft.Migrate/migrateProjects/{unique('asr')[:20]}"
    live_hub.api("PUT", project, json={"location": "westeurope"})
    live_hub.api("POST", f"{project}/registerTool", json={"tool": "ServerMigration"})
    return create_resources(live_hub, project)


def api_enable_replication(hub, vault, email):
    item = f"{vault}/{CONTAINER_PATH}/replicationMigrationItems/{uuid.uuid4()}"
    return hub.api("PUT", item, email=email, json={"properties": {}})


def api_update_replication(hub, vault, email):
    item = f"{vault}/{CONTAINER_PATH}/replicationMigrationItems/{uuid.uuid4()}"
    return hub.api("PATCH", item, email=email, json={"properties": {}})


def api_create_policy(hub, vault, email):
    body = {"properties": {"providerSpecificInput": {"instanceType": "InMageRcm"}}}
    return hub.api("PUT", f"{vault}/replicationPolicies/matrix-policy", email=email, json=body)


def api_item_verb(method: str, action: str = ""):
    """A migration verb on an item of the vault (POST {item}/{action}, or DELETE {item})."""

    def call(hub, vault, email):
        item = f"{vault}/{CONTAINER_PATH}/replicationMigrationItems/{uuid.uuid4()}"
        return hub.api(method, f"{item}/{action}" if action else item, email=email, json={"properties": {}})

    return call


ASR_API = {
    "enable replication": (api_enable_replication, 404),
    "change a replicating server": (api_update_replication, 404),
    "create a replication policy": (api_create_policy, 200),
    "test migrate": (api_item_verb("POST", "testMigrate"), 404),
    "clean up a test migration": (api_item_verb("POST", "testMigrateCleanup"), 404),
    "migrate": (api_item_verb("POST", "migrate"), 404),
    "resynchronize": (api_item_verb("POST", "resync"), 404),
    "stop replication": (api_item_verb("DELETE"), 404),
}


@pytest.mark.parametrize("action", ASR_API)
@pytest.mark.parametrize("name", USERS)
def test_site_recovery_writes_allow_and_refuse_by_role(live_hub, vault_id, action, name):
    call, allowed_status = ASR_API[action]
    response = call(live_hub, vault_id, f"{name}@contoso.com")
    if name in ASR_WRITERS:
        assert response.status_code == allowed_status, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "AuthorizationFailed"
