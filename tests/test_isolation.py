"""A user of another tenant can never read or act on Contoso's objects: every Contoso URL that exists
answers Fabrikam with 404, over the API, in the portal and on the websocket. Add new URLs to the tables."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import sign_in
from tests.hubs import CONTOSO, DEMO_PASSWORD, FABRIKAM, unique

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def contoso(live_hub):
    """Contoso objects of every kind that exists so far."""
    group, project = unique("rg-iso"), unique("iso")[:24]
    live_hub.api("PUT", f"/subscriptions/{CONTOSO}/resourcegroups/{group}", json={"location": "westeurope"})
    project_path = (
        f"/subscriptions/{CONTOSO}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects/{project}"
    )
    live_hub.api("PUT", project_path, json={"location": "westeurope"})
    live_hub.api("POST", f"{project_path}/registerTool", json={"tool": "ServerMigration"})
    vault_id = create_resources(live_hub, project_path)
    doomed = unique("rg-doomed")
    live_hub.api("PUT", f"/subscriptions/{CONTOSO}/resourcegroups/{doomed}", json={"location": "westeurope"})
    deleted = live_hub.api("DELETE", f"/subscriptions/{CONTOSO}/resourcegroups/{doomed}")
    job_id = deleted.headers["Location"].split("?")[0].rsplit("/", 1)[1]
    live_hub.token("admin@contoso.com")  # makes sure the admin has a token to try to revoke
    admin = portal_session(live_hub, "admin@contoso.com")
    tokens_page = admin.get(f"{live_hub.url}/settings/api-tokens/", timeout=10).text
    token_id = re.search(r"/settings/api-tokens/(\d+)/revoke/", tokens_page)
    roles_page = admin.get(f"{live_hub.url}/aad/roles/global-administrator/", timeout=10).text
    directory_assignment = re.search(r"/aad/roles/global-administrator/(\d+)/remove/", roles_page)
    return {
        "vault_id": vault_id,
        "group": group,
        "directory_assignment": directory_assignment.group(1),
        "role_assignment": live_hub.api(
            "GET", f"/subscriptions/{CONTOSO}/providers/Microsoft.Authorization/roleAssignments"
        ).json()["value"][0]["name"],
        "project": project,
        "project_path": project_path,
        "project_id": project_path,
        "job": job_id,
        "token_id": token_id.group(1),
    }


def create_resources(hub, project_path: str) -> str:
    """Discover > Create resources through the portal; returns the vault's id once the job made it."""
    admin = portal_session(hub, "admin@contoso.com")
    admin.post(
        f"{hub.url}/migrate/discover/?project={quote(project_path, safe='')}",
        data={"machines_virtualized": "physical", "target_region": "westeurope", "confirm": "on", **csrf(admin)},
        timeout=10,
    )
    for _ in range(100):
        solution = hub.api("GET", f"{project_path}/solutions/Servers-Migration-ServerMigration").json()
        vault_id = solution["properties"]["details"]["extendedDetails"].get("vaultId")
        if vault_id:
            return vault_id
        time.sleep(0.1)
    raise AssertionError("Create resources did not finish")


def csrf(session) -> dict:
    return {"csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}


def portal_session(hub, email: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{hub.url}/signin/", timeout=10)
    response = session.post(
        f"{hub.url}/signin/", data={"username": email, "password": DEMO_PASSWORD, **csrf(session)}, timeout=10
    )
    assert response.url.rstrip("/") == hub.url, f"sign-in as {email} failed"
    return session


RG = "/subscriptions/{sub}/resourcegroups/{group}"
VNET_PATH = f"/subscriptions/{CONTOSO}/resourceGroups/rg-migrate/providers/Microsoft.Network/virtualNetworks/vnet-prod"
# A body that would be valid for any of the resources, so only visibility can refuse it.
WRITE_BODY = {
    "location": "westeurope",
    "tool": "ServerMigration",
    "properties": {
        "addressPrefix": "10.10.1.0/24",
        "addressSpace": {"addressPrefixes": ["10.10.0.0/16"]},
        "roleDefinitionId": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "principalId": "00000000-0000-0000-0000-000000000001",
    },
}
# Contoso's migration item and VM: the table lists each with its actions.
ITEM = (
    "{vault_id}/replicationFabrics/migrate-fabric/replicationProtectionContainers/migrate-container/"
    "replicationMigrationItems/{job}"
)
VM = "/subscriptions/{sub}/resourceGroups/rg-migrate/providers/Microsoft.Compute/virtualMachines/vm1"
API_URLS = [
    ("GET", "/subscriptions/{sub}"),
    ("GET", "/subscriptions/{sub}/locations"),
    ("GET", "/subscriptions/{sub}/resourcegroups"),
    ("GET", RG),
    ("HEAD", RG),
    ("PUT", RG),
    ("PATCH", RG),
    ("DELETE", RG),
    ("GET", "/subscriptions/{sub}/resources"),
    ("GET", RG + "/resources"),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.Migrate/migrateProjects"),
    ("GET", RG + "/providers/Microsoft.Migrate/migrateProjects"),
    ("GET", "{project_path}"),
    ("HEAD", "{project_path}"),
    ("PUT", "{project_path}"),
    ("PATCH", "{project_path}"),
    ("DELETE", "{project_path}"),
    ("POST", "{project_path}/registerTool"),
    ("POST", "{project_path}/refreshSummary"),
    ("GET", "{project_path}/solutions"),
    ("GET", "{project_path}/solutions/Servers-Migration-ServerMigration"),
    ("GET", "/subscriptions/{sub}/operationresults/{job}"),
    ("GET", "/subscriptions/{fabrikam}/operationresults/{job}"),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments"),
    ("GET", RG + "/providers/Microsoft.Authorization/roleAssignments"),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{role_assignment}"),
    ("PUT", "/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{role_assignment}"),
    ("DELETE", "/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{role_assignment}"),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions"),
    (
        "GET",
        "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    ),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.Network/virtualNetworks"),
    ("GET", "/subscriptions/{sub}/resourceGroups/rg-migrate/providers/Microsoft.Network/virtualNetworks"),
    ("GET", "{vnet_path}"),
    ("PUT", "{vnet_path}"),
    ("PATCH", "{vnet_path}"),
    ("DELETE", "{vnet_path}"),
    ("GET", "{vnet_path}/subnets"),
    ("GET", "{vnet_path}/subnets/default"),
    ("PUT", "{vnet_path}/subnets/default"),
    ("DELETE", "{vnet_path}/subnets/default"),
    ("GET", "/v1.0/users/admin@contoso.com"),
    ("GET", "{vault_id}"),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.Compute/locations/westeurope/vmSizes"),
    ("GET", "{vault_id}/replicationFabrics"),
    ("GET", "{vault_id}/replicationFabrics/migrate-fabric"),
    ("GET", "{vault_id}/replicationProtectionContainers"),
    ("GET", "{vault_id}/replicationRecoveryServicesProviders"),
    (
        "GET",
        "{vault_id}/replicationFabrics/migrate-fabric/replicationProtectionContainers/migrate-container/replicationProtectableItems",
    ),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.RecoveryServices/vaults"),
    ("GET", RG + "/providers/Microsoft.RecoveryServices/vaults"),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.KeyVault/vaults"),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts"),
    ("GET", "{vault_id}/replicationMigrationItems"),
    (
        "GET",
        "{vault_id}/replicationFabrics/migrate-fabric/replicationProtectionContainers/migrate-container/replicationMigrationItems",
    ),
    ("GET", ITEM),
    ("PUT", ITEM),
    ("PATCH", ITEM),
    ("GET", ITEM + "/migrationRecoveryPoints"),
    ("GET", ITEM + "/operationresults/{job}"),
    ("GET", "{vault_id}/replicationPolicies"),
    ("GET", "{vault_id}/replicationPolicies/migrate-policy"),
    ("PUT", "{vault_id}/replicationPolicies/migrate-policy"),
    ("GET", "{vault_id}/replicationJobs"),
    ("GET", "{vault_id}/replicationJobs/{job}"),
    ("GET", "{vault_id}/replicationOperationStatus/{job}"),
    ("POST", ITEM + "/testMigrate"),
    ("POST", ITEM + "/testMigrateCleanup"),
    ("POST", ITEM + "/migrate"),
    ("POST", ITEM + "/resync"),
    ("POST", ITEM + "/pauseReplication"),
    ("DELETE", ITEM),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines"),
    ("GET", "/subscriptions/{sub}/resourceGroups/rg-migrate/providers/Microsoft.Compute/virtualMachines"),
    ("GET", VM),
    ("GET", VM + "/instanceView"),
    ("PUT", VM),
    ("POST", VM + "/start"),
    ("GET", "/subscriptions/{sub}/providers/Microsoft.Network/networkInterfaces"),
    ("GET", "/subscriptions/{sub}/resourceGroups/rg-migrate/providers/Microsoft.Network/networkInterfaces/vm1-nic"),
]


@pytest.mark.parametrize(("method", "template"), API_URLS)
def test_a_fabrikam_token_gets_404_on_contoso_api_urls(live_hub, contoso, method, template):
    path = template.format(sub=CONTOSO, fabrikam=FABRIKAM, vnet_path=VNET_PATH, **contoso)
    body = WRITE_BODY if method in ("PUT", "PATCH", "POST") else None
    response = live_hub.api(method, path, email="admin@fabrikam.com", json=body)
    assert response.status_code == 404, f"{method} {path} answered {response.status_code}: {response.text}"
    if method != "HEAD":
        assert response.json()["error"]["code"] in (
            "SubscriptionNotFound",
            "ResourceNotFound",
            "Request_ResourceNotFound",
        )
    # ...and nothing changed for Contoso.
    assert live_hub.api("GET", contoso["project_path"]).status_code == 200
    assert live_hub.api("GET", f"{VNET_PATH}/subnets/default").status_code == 200


def test_fabrikam_lists_only_its_own_subscription(live_hub):
    listed = live_hub.api("GET", "/subscriptions", email="admin@fabrikam.com").json()["value"]
    assert [s["subscriptionId"] for s in listed] == [FABRIKAM]


PORTAL_URLS = [
    ("GET", "/migrate/discovered-servers/?project={project_id_quoted}"),
    ("GET", "/migrate/discover/appliance-installer/?project={project_id_quoted}"),
    ("POST", "/migrate/discover/finalize/?project={project_id_quoted}"),
    ("GET", "/migrate/discover/?project={project_id_quoted}"),
    ("POST", "/migrate/discover/?project={project_id_quoted}"),
    ("POST", "/migrate/discover/registration-key/?project={project_id_quoted}"),
    ("GET", "/resource/subscriptions/{sub}/"),
    ("GET", "/resource/subscriptions/{sub}/iam/"),
    ("POST", "/resource/subscriptions/{sub}/iam/"),
    ("POST", "/resource/subscriptions/{sub}/iam/{role_assignment}/remove/"),
    ("GET", "/resource/subscriptions/{sub}/resourceGroups/{group}/iam/"),
    ("GET", "/resource/subscriptions/{sub}/resourceGroups/rg-migrate/virtualNetworks/vnet-prod/"),
    ("POST", "/resource/subscriptions/{sub}/resourceGroups/rg-migrate/virtualNetworks/vnet-prod/"),
    ("POST", "/resource/subscriptions/{sub}/resourceGroups/rg-migrate/virtualNetworks/vnet-prod/delete/"),
    (
        "POST",
        "/resource/subscriptions/{sub}/resourceGroups/rg-migrate/virtualNetworks/vnet-prod/subnets/default/delete/",
    ),
    ("POST", "/aad/roles/global-administrator/{directory_assignment}/remove/"),
    ("GET", "/resource/subscriptions/{sub}/resourceGroups/{group}/"),
    ("GET", "/migrate/servers/?project={project_id_quoted}"),
    ("GET", "/migrate/replicate/?project={project_id_quoted}"),
    ("POST", "/migrate/replicate/?project={project_id_quoted}"),
    ("GET", "/migrate/replicating-servers/?project={project_id_quoted}"),
    ("GET", "/migrate/server-migration/?project={project_id_quoted}"),
    ("GET", "/migrate/test-migrated-servers/?project={project_id_quoted}"),
    ("GET", "/jobs/{job}/"),
    ("POST", "/settings/api-tokens/{token_id}/revoke/"),
]


@pytest.mark.parametrize(("method", "template"), PORTAL_URLS)
def test_a_fabrikam_session_gets_404_on_contoso_portal_urls(live_hub, contoso, method, template):
    session = portal_session(live_hub, "admin@fabrikam.com")
    path = template.format(sub=CONTOSO, project_id_quoted=quote(contoso["project_id"], safe=""), **contoso)
    response = session.request(method, live_hub.url + path, data=csrf(session), timeout=10)
    assert response.status_code == 404, f"{method} {path} answered {response.status_code}"


@pytest.mark.parametrize(
    "path",
    [
        "/resource-groups/",
        "/migrate/servers/",
        "/jobs/",
        "/search/?q=iso",
        "/",
        "/subscriptions-blade/",
        "/virtual-networks/",
        "/aad/",
        "/aad/users/",
        "/aad/roles/global-administrator/",
        "/migrate/add-tools/",
        "/vms/",
    ],
)
def test_fabrikam_lists_show_nothing_of_contoso(live_hub, contoso, path):
    page = portal_session(live_hub, "admin@fabrikam.com").get(live_hub.url + path, timeout=10).text
    for name in (contoso["group"], contoso["project"], "rg-migrate", "Contoso Production", "vnet-prod", "@contoso.com"):
        assert name not in page
    # Contoso's directory role assignment is untouched by Fabrikam's attempts above.
    admin_roles = portal_session(live_hub, "admin@contoso.com").get(f"{live_hub.url}/aad/", timeout=10).text
    assert "Global administrator" in admin_roles


@pytest.mark.browser
def test_websocket_pushes_reach_only_those_who_may_see_them(live_hub, browser):
    contoso_page = browser.new_context().new_page()
    fabrikam_page = browser.new_context().new_page()
    for page, email in ((contoso_page, "admin@contoso.com"), (fabrikam_page, "admin@fabrikam.com")):
        sign_in(page, live_hub, email)
        page.goto(live_hub.url + "/jobs/")
        expect(page.locator("body")).to_have_attribute("data-live", "connected")

    group = live_hub.new_resource_group("rg-push")
    live_hub.api("DELETE", f"/subscriptions/{CONTOSO}/resourcegroups/{group}")
    row = contoso_page.locator("#job-rows tr").filter(has_text=group)
    expect(row).to_contain_text("Succeeded")

    # Fabrikam's own later job arrives on its socket; Contoso's earlier one never did.
    own = unique("rg-fab")
    live_hub.api(
        "PUT",
        f"/subscriptions/{FABRIKAM}/resourcegroups/{own}",
        email="admin@fabrikam.com",
        json={"location": "eastus"},
    )
    live_hub.api("DELETE", f"/subscriptions/{FABRIKAM}/resourcegroups/{own}", email="admin@fabrikam.com")
    expect(fabrikam_page.locator("#job-rows tr").filter(has_text=own)).to_contain_text("Succeeded")
    expect(fabrikam_page.locator("#job-rows")).not_to_contain_text(group)
    expect(contoso_page.locator("#job-rows")).not_to_contain_text(own)

    # A Contoso deployment notifies its starter, live; Fabrikam's socket never carries it.
    project = unique("ws")[:20]
    session = portal_session(live_hub, "admin@contoso.com")
    started = session.post(
        f"{live_hub.url}/migrate/add-tools/",
        data={
            "step": "3",
            "action": "add",
            "subscription": CONTOSO,
            "resource_group": "rg-migrate",
            "project_name": project,
            "location": "westeurope",
            "assessment_tool": "skip",
            "migration_tool": "ServerMigration",
            **csrf(session),
        },
        timeout=10,
    )
    assert started.history and started.history[0].status_code == 302
    expect(contoso_page.locator("#notification-list")).to_contain_text(f"Azure Migrate project {project}")
    expect(contoso_page.locator(".toast").filter(has_text="Tools added")).to_be_visible()
    assert fabrikam_page.locator("#notification-list").inner_text().find(project) == -1
    assert fabrikam_page.locator(".toast").count() == 0
