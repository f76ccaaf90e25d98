"""Discover's steps through the ARM API on a live hub, as automation runs them with no browser
(docs/api.md): Create resources (the vault through RecoveryServicesClient, the Key Vault and storage
account PUTs, the solution's update), the registration key from vault_certificates.create (the file
the appliance's setup verifies, valid five days), the installer from the signed link getConfig hands
out; and the refusals an automation meets, in Azure's shapes, never a 5xx. The rest of the path (the
appliance's setup with that key and installer, Finalize registration's action, replication) runs in
every test that starts an appliance (tests/appliances.py, tests/replication_rig.py), e.g.
test_tutorial_sdk.py."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from azure.core.exceptions import HttpResponseError

from tests.appliances import (
    RG_PATH,
    SOLUTION,
    create_resources_through_arm,
    installer_through_arm,
    registration_key_through_arm,
)
from tests.azure_clients import recovery_services_client
from tests.hubs import CONTOSO, unique

pytestmark = pytest.mark.live


def new_project(hub) -> str:
    path = f"{RG_PATH}/providers/Microsoft.Migrate/migrateProjects/{unique('auto')[:20]}"
    assert hub.api("PUT", path, json={"location": "westeurope"}).status_code == 201
    hub.api("POST", f"{path}/registerTool", json={"tool": "ServerMigration"})
    return path


def test_create_resources_key_and_installer_through_the_api(live_hub):
    project_path = new_project(live_hub)
    vault_id = create_resources_through_arm(live_hub, project_path, region="northeurope")
    solution = live_hub.api("GET", f"{project_path}/{SOLUTION}").json()["properties"]["details"]["extendedDetails"]
    assert (solution["vaultId"], solution["targetRegion"]) == (vault_id, "northeurope")
    vaults = recovery_services_client(live_hub, "viewer@contoso.com", CONTOSO).vaults
    assert vault_id in [vault.id for vault in vaults.list_by_resource_group("rg-migrate")]
    listed = {r["id"] for r in live_hub.api("GET", f"{RG_PATH}/resources").json()["value"]}
    assert {solution["vaultId"], solution["keyVaultId"], solution["storageAccountId"]} <= listed

    # One region for all three (the project's region, locked now: test_arm_create_resources.py).
    other = (
        recovery_services_client(live_hub, "admin@contoso.com", CONTOSO)
        .vaults.begin_create_or_update(
            "rg-migrate", unique("v-west"), {"location": "westeurope", "sku": {"name": "Standard"}}
        )
        .result()
    )
    refused = live_hub.api(
        "PATCH",
        f"{project_path}/{SOLUTION}",
        json={"properties": {"details": {"extendedDetails": {**solution, "vaultId": other.id}}}},
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "InvalidParameter")
    assert "one region" in refused.json()["error"]["message"]

    key = registration_key_through_arm(live_hub, vault_id)
    verified = requests.post(
        f"{live_hub.url}/appliance-api/v1/registration-keys/verify", json={"key": key.decode()}, timeout=10
    ).json()
    assert verified["targetRegion"] == "northeurope" and json.loads(key)["vaultId"] == vault_id
    issued_at = datetime.fromisoformat(json.loads(key)["issuedAt"])
    assert datetime.fromisoformat(verified["expiresAt"]) - issued_at == timedelta(days=5)

    with tarfile.open(fileobj=io.BytesIO(installer_through_arm(live_hub, project_path))) as archive:
        assert "MigrateHubAppliance/setup" in archive.getnames()


def test_refusals_an_automation_meets(live_hub):
    project_path = new_project(live_hub)
    vault_id = create_resources_through_arm(live_hub, project_path)
    vault = vault_id.rsplit("/", 1)[1]

    admin = recovery_services_client(live_hub, "admin@contoso.com", CONTOSO)
    with pytest.raises(HttpResponseError) as moved:
        admin.vaults.begin_create_or_update("rg-migrate", vault, {"location": "eastus", "sku": {"name": "Standard"}})
    assert (moved.value.status_code, moved.value.error.code) == (409, "InvalidResourceLocation")
    with pytest.raises(HttpResponseError) as bad_name:
        admin.vaults.begin_create_or_update("rg-migrate", "9starts-with-a-digit", {"location": "westeurope"})
    assert (bad_name.value.status_code, bad_name.value.error.code) == (400, "InvalidResourceName")

    reader = recovery_services_client(live_hub, "viewer@contoso.com", CONTOSO)
    with pytest.raises(HttpResponseError) as refused:
        reader.vault_certificates.create("rg-migrate", vault, "c1", {"properties": {"authType": "AAD"}})
    assert (refused.value.status_code, refused.value.error.code) == (403, "AuthorizationFailed")
    with pytest.raises(HttpResponseError) as not_a_vault:
        admin.vault_certificates.create("rg-migrate", "no-such-vault", "c1", {"properties": {"authType": "AAD"}})
    assert not_a_vault.value.status_code == 404

    link = urlsplit(live_hub.api("POST", f"{project_path}/{SOLUTION}/getConfig").json()["publisherSasUri"])
    query = {name: values[0] for name, values in parse_qs(link.query).items()}
    changed = requests.get(
        f"{live_hub.url}{link.path}?{urlencode({**query, 'se': '2099-01-01T00:00:00Z'})}", timeout=10
    )
    assert changed.status_code == 403 and changed.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert "<AuthenticationErrorDetail>Signature did not match" in changed.text
    reader_link = live_hub.api("POST", f"{project_path}/{SOLUTION}/getConfig", email="viewer@contoso.com")
    assert (reader_link.status_code, reader_link.json()["error"]["code"]) == (403, "AuthorizationFailed")

    provider = f"{vault_id}/replicationFabrics/migrate-fabric/replicationRecoveryServicesProviders/nope"
    no_appliance = live_hub.api("POST", f"{provider}/finalizeRegistration")
    assert (no_appliance.status_code, no_appliance.json()["error"]["code"]) == (404, "FabricNotFound")
    not_json = live_hub.api(
        "PATCH", f"{project_path}/{SOLUTION}", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "InvalidRequestContent")
