"""Discover's Create resources through ARM, as Azure's portal sends it (docs/api.md): the vault, Key
Vault and storage account PUTs, then the Server Migration solution's update, which leaves the project
as the portal's button does (the resources its own, the target region locked); and the refusals, each
an ARM envelope with nothing changed."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from hub.models import ApiToken
from projects import services
from projects.models import MigrateProject, MigrationResource, User

pytestmark = pytest.mark.django_db

SUB = "11111111-1111-1111-1111-111111111111"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-migrate"
PROJECTS = f"{RG}/providers/Microsoft.Migrate/migrateProjects"
VAULTS = f"{RG}/providers/Microsoft.RecoveryServices/vaults"
KEY_VAULTS = f"{RG}/providers/Microsoft.KeyVault/vaults"
ACCOUNTS = f"{RG}/providers/Microsoft.Storage/storageAccounts"
SOLUTION = "solutions/Servers-Migration-ServerMigration"
API = "?api-version=2018-09-01-preview"


def client_for(email: str = "admin@contoso.com") -> APIClient:
    _, secret = ApiToken.issue(User.objects.get(email=email), "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def admin():
    call_command("seed_demo", verbosity=0)
    client = client_for()
    for name in ("armcr", "other"):
        assert client.put(f"{PROJECTS}/{name}{API}", {"location": "westeurope"}, format="json").status_code == 201
        client.post(f"{PROJECTS}/{name}/registerTool{API}", {"tool": "ServerMigration"}, format="json")
    return client


def put_resources(client, region: str = "northeurope", suffix: str = "1") -> dict[str, str]:
    """The three PUTs with the bodies Azure's portal sends; returns the link keys and ids."""
    vault = client.put(
        f"{VAULTS}/armcr-MigrateVault-{suffix}{API}",
        {"location": region, "sku": {"name": "Standard"}, "properties": {}, "tags": {"Migrate Project": "armcr"}},
        format="json",
    )
    assert vault.status_code == 201, vault.content
    assert vault.json()["properties"]["provisioningState"] == "Succeeded"
    key_vault = client.put(
        f"{KEY_VAULTS}/armcrkv{suffix}{API}",
        {
            "location": region,
            "properties": {
                "tenantId": "x",
                "sku": {"family": "A", "name": "standard"},
                "enableRbacAuthorization": True,
            },
        },
        format="json",
    )
    assert key_vault.status_code == 201, key_vault.content
    account = client.put(
        f"{ACCOUNTS}/armcrlsa{suffix}{API}",
        {"location": region, "kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
        format="json",
    )
    assert account.status_code == 200, "Storage answers 200 when the account is made at once"
    return {
        "vaultId": vault.json()["id"],
        "keyVaultId": key_vault.json()["id"],
        "storageAccountId": account.json()["id"],
    }


def link(client, extended: dict, project: str = "armcr", method: str = "patch"):
    body = {"properties": {"details": {"extendedDetails": extended}}}
    return getattr(client, method)(f"{PROJECTS}/{project}/{SOLUTION}{API}", body, format="json")


def test_the_puts_and_the_solution_update_leave_the_project_as_create_resources_does(admin):
    ids = put_resources(admin)
    # Until the solution names it, the vault is no project's: its Site Recovery paths say what to do.
    fabrics = admin.get(f"{ids['vaultId']}/replicationFabrics{API}")
    assert (fabrics.status_code, fabrics.json()["error"]["code"]) == (404, "VaultNotInProject")
    assert MigrateProject.objects.get(name="armcr").target_region == ""

    linked = link(admin, {**ids, "machinesVirtualized": "vmware"})
    assert linked.status_code == 200, linked.content
    extended = linked.json()["properties"]["details"]["extendedDetails"]
    assert {key: extended[key] for key in ids} == ids
    assert (extended["targetRegion"], extended["machinesVirtualized"]) == ("northeurope", "vmware")
    project = MigrateProject.objects.get(name="armcr")
    assert (project.target_region, project.machines_virtualized) == ("northeurope", "vmware")
    assert project.migration_resources.count() == 3
    assert services.project_vault(project).arm_id == ids["vaultId"]
    assert admin.get(f"{ids['vaultId']}/replicationFabrics{API}").json() == {"value": []}
    assert link(admin, ids, method="put").status_code == 200, "naming them again changes nothing"
    listed = {r["id"] for r in admin.get(f"{RG}/resources{API}").json()["value"]}
    assert set(ids.values()) <= listed

    # The region is locked, for the portal's button as for the API.
    admin_user = User.objects.get(email="admin@contoso.com")
    with pytest.raises(Exception) as locked:
        services.create_resources_start(
            user=admin_user, project=project, target_region="westeurope", machines_virtualized="physical"
        )
    assert locked.value.code == "TargetRegionLocked"
    elsewhere = put_resources(admin, region="westeurope", suffix="2")
    refused = link(admin, elsewhere)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "TargetRegionLocked")
    taken = link(admin, ids, project="other")
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "ResourceInUse")


def test_refusals_are_arm_envelopes_and_change_nothing(admin):
    bad_names = [
        (f"{VAULTS}/-vault", "InvalidResourceName"),
        (f"{KEY_VAULTS}/kv--double", "VaultNameNotValid"),
        (f"{ACCOUNTS}/Upper_Case", "AccountNameInvalid"),
    ]
    for path, code in bad_names:
        response = admin.put(f"{path}{API}", {"location": "westeurope"}, format="json")
        assert (response.status_code, response.json()["error"]["code"]) == (400, code), path
    no_location = admin.put(f"{VAULTS}/v1{API}", {"sku": {"name": "Standard"}}, format="json")
    assert (no_location.status_code, no_location.json()["error"]["code"]) == (400, "LocationRequired")
    nowhere = admin.put(f"{VAULTS}/v1{API}", {"location": "moon"}, format="json")
    assert (nowhere.status_code, nowhere.json()["error"]["code"]) == (400, "LocationNotAvailableForResourceType")
    not_json = admin.put(f"{VAULTS}/v1{API}", "[1, 2]", content_type="application/json")
    assert not_json.status_code == 400
    reader = client_for("viewer@contoso.com").put(f"{VAULTS}/v1{API}", {"location": "westeurope"}, format="json")
    assert (reader.status_code, reader.json()["error"]["code"]) == (403, "AuthorizationFailed")
    reader_bad_name = client_for("viewer@contoso.com").put(f"{VAULTS}/-v{API}", {"location": "x"}, format="json")
    assert reader_bad_name.status_code == 403, "RBAC first, as ARM checks it before the provider reads the body"
    assert not MigrationResource.objects.exists()

    ids = put_resources(admin)
    moved = admin.put(f"{ids['vaultId']}{API}", {"location": "westeurope"}, format="json")
    assert (moved.status_code, moved.json()["error"]["code"]) == (409, "InvalidResourceLocation")
    assert admin.put(f"{ids['vaultId']}{API}", {"location": "North Europe", "tags": {"a": "b"}}, format="json").json()[
        "tags"
    ] == {"a": "b"}

    missing = link(admin, {"vaultId": ids["vaultId"]})
    assert (missing.status_code, missing.json()["error"]["target"]) == (
        400,
        "properties.details.extendedDetails.keyVaultId",
    )
    unknown = link(admin, {**ids, "storageAccountId": f"{ACCOUNTS}/nosuchaccount"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "InvalidParameter")
    wrong_kind = link(admin, {**ids, "keyVaultId": ids["vaultId"]})
    assert wrong_kind.status_code == 400
    virtualized = link(admin, {**ids, "machinesVirtualized": "xen"})
    assert virtualized.status_code == 400
    mixed = put_resources(admin, region="westeurope", suffix="3")
    regions = link(admin, {**ids, "storageAccountId": mixed["storageAccountId"]})
    assert (regions.status_code, regions.json()["error"]["code"]) == (400, "InvalidParameter")
    reader = link(client_for("viewer@contoso.com"), ids)
    assert (reader.status_code, reader.json()["error"]["code"]) == (403, "AuthorizationFailed")
    assessment = admin.patch(
        f"{PROJECTS}/armcr/solutions/Servers-Assessment-ServerAssessment{API}",
        {"properties": {"details": {"extendedDetails": ids}}},
        format="json",
    )
    assert assessment.status_code == 404
    assert MigrateProject.objects.get(name="armcr").target_region == ""
    assert not MigrationResource.objects.filter(project__isnull=False).exists()


def test_create_resources_needs_the_server_migration_tool(admin):
    admin.put(f"{PROJECTS}/notool{API}", {"location": "westeurope"}, format="json")
    ids = put_resources(admin)
    response = admin.patch(
        f"{PROJECTS}/notool/{SOLUTION}{API}", {"properties": {"details": {"extendedDetails": ids}}}, format="json"
    )
    assert response.status_code == 404, "no solution until the tool is added"
