"""The Azure CLI from PyPI, unmodified, against one live hub over TLS, as a service principal and as a
user (issue 12, item 5): the hub registered as a cloud from its metadata, `az login` through the hub's
Entra endpoints, then accounts, resource groups, virtual networks, role assignments, the generic
resource list, `az rest` for what az has no command for (Azure Migrate projects, enabling replication
of a discovered server), service principals, and the refusals a user meets: a Reader's write, a wrong
secret, a wrong password. Each az call takes a second or two, so the tests share their sign-ins."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.azure_cli import CLOUD, AzureCli, create_service_principal, signed_in_cli
from tests.hubs import CONTOSO, FABRIKAM, unique
from tests.replication_rig import CONTAINER, FABRIC, RG, enable_body, one_disk_rig, wait_for
from tests.test_isolation import csrf, portal_session

pytestmark = pytest.mark.live

SUBSCRIPTION = f"/subscriptions/{CONTOSO}"
SITE_RECOVERY_API = "2024-04-01"


@pytest.fixture(scope="module")
def service_principal(live_hub):
    """An Owner of Contoso's subscription, as `manage.py create_service_principal` makes one."""
    return create_service_principal(live_hub, unique("az-automation"), "Owner", SUBSCRIPTION)


@pytest.fixture(scope="module")
def az_sp(live_hub, service_principal, tmp_path_factory):
    return signed_in_cli(live_hub, tmp_path_factory.mktemp("az-sp"), service_principal=service_principal)


@pytest.fixture(scope="module")
def az_user(live_hub, tmp_path_factory):
    return signed_in_cli(live_hub, tmp_path_factory.mktemp("az-admin"), user="admin@contoso.com")


@pytest.fixture(params=["az_sp", "az_user"])
def az(request) -> AzureCli:
    """az signed in as the service principal, then as Contoso's admin."""
    return request.getfixturevalue(request.param)


def test_the_hub_is_registered_as_a_cloud_from_its_metadata(az_sp, live_hub):
    cloud = az_sp("cloud", "show", "--name", CLOUD)
    assert cloud["isActive"] is True
    assert cloud["endpoints"]["resourceManager"] == f"{live_hub.https_url}/"
    assert cloud["endpoints"]["activeDirectory"].rstrip("/") == live_hub.https_url
    # What the CLI keeps lives in its own directory, never the user's ~/.azure.
    assert (az_sp.config_dir / "config").exists() and (az_sp.config_dir / "azureProfile.json").exists()


def test_account_show_and_list(az, service_principal):
    account = az("account", "show")
    assert (account["id"], account["environmentName"], account["state"]) == (CONTOSO, CLOUD, "Enabled")
    assert account["tenantId"] == service_principal["tenant"]
    assert account["user"] == az.user
    listed = {subscription["id"] for subscription in az("account", "list")}
    assert CONTOSO in listed and FABRIKAM not in listed


def test_groups_networks_role_assignments_and_the_resource_list(az):
    group = unique("rg-az")
    created = az("group", "create", "--name", group, "--location", "westeurope", "--tags", "wave=1")
    assert (created["name"], created["properties"]["provisioningState"]) == (group, "Succeeded")
    assert created["tags"] == {"wave": "1"}
    assert group in [g["name"] for g in az("group", "list")]

    vnet = az(
        "network", "vnet", "create", "--resource-group", group, "--name", "vnet-az", "--location", "westeurope",
        "--address-prefixes", "10.40.0.0/16", "--subnet-name", "default", "--subnet-prefixes", "10.40.0.0/24",
    )["newVNet"]  # fmt: skip
    assert vnet["addressSpace"]["addressPrefixes"] == ["10.40.0.0/16"]
    assert [s["name"] for s in vnet["subnets"]] == ["default"]
    subnet = az(
        "network", "vnet", "subnet", "create", "--resource-group", group, "--vnet-name", "vnet-az",
        "--name", "apps", "--address-prefixes", "10.40.1.0/24",
    )  # fmt: skip
    assert (subnet["name"], subnet["addressPrefix"]) == ("apps", "10.40.1.0/24")
    overlapping = az.fails(
        "network", "vnet", "subnet", "create", "--resource-group", group, "--vnet-name", "vnet-az",
        "--name", "clash", "--address-prefixes", "10.40.1.128/25",
    )  # fmt: skip
    assert "(NetcfgSubnetRangesOverlap)" in overlapping

    project = f"{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects/proj-az"
    assert az.rest("put", project, {"location": "westeurope"})["name"] == "proj-az"
    assert az.rest("post", f"{project}/registerTool", {"tool": "ServerMigration"}) == {"isRegistered": True}
    (solution,) = az.rest("get", f"{project}/solutions")["value"]
    assert solution["properties"]["tool"] == "ServerMigration"

    resources = {(r["type"], r["name"]) for r in az("resource", "list", "--resource-group", group)}
    assert resources == {
        ("Microsoft.Network/virtualNetworks", "vnet-az"),
        ("Microsoft.Migrate/migrateProjects", "proj-az"),
    }

    # Role assignments by user principal name: az finds the user through the hub's Graph.
    scope = f"{SUBSCRIPTION}/resourceGroups/{group}"
    assignment = az(
        "role", "assignment", "create", "--assignee", "viewer@contoso.com", "--role", "Contributor", "--scope", scope
    )
    assert assignment["scope"] == scope and assignment["principalType"] == "User"
    (listed,) = az("role", "assignment", "list", "--assignee", "viewer@contoso.com", "--resource-group", group)
    assert (listed["roleDefinitionName"], listed["principalName"]) == ("Contributor", "viewer@contoso.com")
    assert listed["id"] == assignment["id"]

    az("group", "delete", "--name", group, "--yes")
    assert az("group", "exists", "--name", group) is False


def test_service_principals_through_graph(az_sp, az_user, service_principal, live_hub, tmp_path):
    listed = az_sp("ad", "sp", "list", "--display-name", service_principal["displayName"])
    assert [sp["appId"] for sp in listed] == [service_principal["appId"]]
    assert service_principal["appId"] in [sp["appId"] for sp in az_user("ad", "sp", "list", "--all")]

    name = unique("az-rbac")
    scope = f"{SUBSCRIPTION}/resourceGroups/{RG}"
    created = az_user("ad", "sp", "create-for-rbac", "--name", name, "--role", "Reader", "--scopes", scope)
    assert set(created) == {"appId", "displayName", "password", "tenant"}
    assert (created["displayName"], created["tenant"]) == (name, service_principal["tenant"])
    (assignment,) = az_user("role", "assignment", "list", "--assignee", created["appId"], "--scope", scope)
    assert assignment["roleDefinitionName"] == "Reader" and assignment["principalType"] == "ServicePrincipal"

    # The new principal signs in and reads, but may not write.
    reader = signed_in_cli(live_hub, tmp_path / "az-rbac", service_principal=created)
    assert RG in [g["name"] for g in reader("group", "list")]
    refused = reader.fails("network", "vnet", "create", "--resource-group", RG, "--name", "vnet-denied",
                           "--address-prefixes", "10.77.0.0/16")  # fmt: skip
    assert "AuthorizationFailed" in refused
    assert "does not have authorization to perform action 'Microsoft.Network/virtualNetworks/write'" in refused


def test_entras_errors_then_a_device_code_sign_in_whose_readers_write_gets_azures_403(
    live_hub, service_principal, tmp_path
):
    cli = AzureCli(live_hub, tmp_path / "az-viewer").register_hub()
    wrong_secret = cli.fails(
        "login", "--service-principal", "--username", service_principal["appId"], "--password", "not-the-secret",
        "--tenant", service_principal["tenant"],
    )  # fmt: skip
    assert "AADSTS7000215" in wrong_secret
    wrong_password = cli.fails("login", "--username", "viewer@contoso.com", "--password", "not-the-password")
    assert "AADSTS50126" in wrong_password or "invalid_grant" in wrong_password
    assert "az login" in cli.fails("account", "show"), "still signed out"

    # The viewer signs in with a device code, entered and confirmed on the hub's /devicelogin page.
    def enter_code(code: str) -> None:
        browser = portal_session(live_hub, "viewer@contoso.com")
        page = f"{live_hub.url}/devicelogin"
        assert browser.post(page, data={"code": code, **csrf(browser)}, timeout=10).status_code == 200
        confirmed = browser.post(page, data={"code": code, "decision": "continue", **csrf(browser)}, timeout=10)
        assert confirmed.status_code == 200

    accounts = cli.login_device_code(enter_code)
    assert CONTOSO in [s["id"] for s in accounts]
    assert cli("account", "show")["user"] == {"name": "viewer@contoso.com", "type": "user"}
    refused = cli.fails("group", "create", "--name", unique("rg-denied"), "--location", "westeurope")
    assert "(AuthorizationFailed) The client 'viewer@contoso.com' with object id" in refused
    # Azure spells the action's resource type in lower case here; the hub as its role definitions do.
    assert (
        "does not have authorization to perform action 'microsoft.resources/subscriptions/resourcegroups/write' "
        "over scope" in refused.lower()
    )


def test_enable_replication_of_a_discovered_server_with_az_rest(az_sp, live_hub, tmp_path):
    rig, image = one_disk_rig(live_hub, tmp_path, 2, seed=12)
    try:
        vault_id = f"{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.RecoveryServices/vaults/{rig.vault}"
        container = f"{vault_id}/replicationFabrics/{FABRIC}/replicationProtectionContainers/{CONTAINER}"
        (server,) = [
            item
            for item in az_sp.rest("get", f"{container}/replicationProtectableItems", api_version=SITE_RECOVERY_API)[
                "value"
            ]
            if item["properties"]["friendlyName"] == rig.host_name
        ]
        discovered = SimpleNamespace(id=server["id"], properties=SimpleNamespace(friendly_name=rig.host_name))
        item_path = f"{container}/replicationMigrationItems/{server['name']}"
        body = enable_body(vault_id, discovered, rig.extra["process_server_id"])
        az_sp.rest("put", item_path, body, api_version=SITE_RECOVERY_API)  # 202: Start replication runs as a job
        item = wait_for(
            lambda: az_sp.rest("get", item_path, api_version=SITE_RECOVERY_API),
            lambda item: item["properties"]["migrationState"] in ("InitialSeedingInProgress", "Replicating"),
            seconds=60,
        )
        assert item["properties"]["machineName"] == rig.host_name
        assert item["properties"]["providerSpecificDetails"]["processServerId"] == rig.extra["process_server_id"]

        # Everything the project made in the group is listed, whatever its provider.
        types = {r["type"] for r in az_sp("resource", "list", "--resource-group", RG)}
        assert {
            "Microsoft.Migrate/migrateProjects",
            "Microsoft.RecoveryServices/vaults",
            "Microsoft.KeyVault/vaults",
            "Microsoft.Storage/storageAccounts",
            "Microsoft.Network/virtualNetworks",
        } <= types
    finally:
        rig.stop()
