"""The vault and what registered under it, read with the official Site Recovery SDK clients: the fabric,
its protection container, the appliance as a recovery services provider, and the discovered machines."""

from __future__ import annotations

import subprocess
import time

import pytest
from azure.core.exceptions import ResourceNotFoundError

from tests.appliances import start_appliance
from tests.azure_clients import recovery_services_client, site_recovery_client
from tests.hubs import CONTOSO, unique
from tests.test_isolation import create_resources

pytestmark = pytest.mark.live


def vault_name(hub, project_path: str) -> str:
    solution = hub.api("GET", f"{project_path}/solutions/Servers-Migration-ServerMigration").json()
    return solution["properties"]["details"]["extendedDetails"]["vaultId"].rsplit("/", 1)[1]


def test_the_vault_fabric_providers_and_discovered_machines_through_the_sdks(live_hub, tmp_path):
    appliance = start_appliance(live_hub, tmp_path)
    try:
        passphrase = appliance.passphrase_file(tmp_path / "pass.txt")
        fleet = [
            appliance.folder / "agent" / "fleet",
            "--appliance",
            f"127.0.0.1:{appliance.port}",
            "--passphrase-file",
            passphrase,
            "--count",
            "3",
        ]
        assert subprocess.run(fleet, capture_output=True, text=True, timeout=60).returncode == 0
        vault = vault_name(live_hub, appliance.project_path)

        vaults = recovery_services_client(live_hub, "viewer@contoso.com", CONTOSO)
        found = vaults.vaults.get("rg-migrate", vault)
        assert (found.name, found.location, found.sku.name) == (vault, "westeurope", "Standard")
        assert vault in [v.name for v in vaults.vaults.list_by_resource_group("rg-migrate")]

        asr = site_recovery_client(live_hub, "viewer@contoso.com", CONTOSO)
        fabrics = list(asr.replication_fabrics.list("rg-migrate", vault))
        assert [f.name for f in fabrics] == ["migrate-fabric"]
        fabric = asr.replication_fabrics.get("rg-migrate", vault, "migrate-fabric")
        assert fabric.properties.health == "Normal"
        assert fabric.properties.custom_details.instance_type == "InMageRcm"

        containers = list(
            asr.replication_protection_containers.list_by_replication_fabrics("rg-migrate", vault, "migrate-fabric")
        )
        assert [c.name for c in containers] == ["migrate-container"]
        assert [c.name for c in asr.replication_protection_containers.list("rg-migrate", vault)] == [
            "migrate-container"
        ]

        providers = list(asr.replication_recovery_services_providers.list("rg-migrate", vault))
        assert len(providers) == 1 and providers[0].properties.connection_status == "Connected"
        provider = asr.replication_recovery_services_providers.get(
            "rg-migrate", vault, "migrate-fabric", providers[0].name
        )
        assert provider.properties.friendly_name.startswith("cs-")

        for _ in range(40):
            items = list(
                asr.replication_protectable_items.list_by_replication_protection_containers(
                    "rg-migrate", vault, "migrate-fabric", "migrate-container"
                )
            )
            if len(items) == 3:
                break
            time.sleep(0.25)
        assert sorted(i.properties.friendly_name for i in items) == ["app-0003", "db-0002", "file-0001"]
        assert {i.properties.protection_status for i in items} == {"Unprotected"}
        one = asr.replication_protectable_items.get(
            "rg-migrate", vault, "migrate-fabric", "migrate-container", items[0].name
        )
        assert one.properties.recovery_services_provider_id == provider.id
    finally:
        appliance.stop()


def test_a_vault_without_an_appliance_has_no_fabric(live_hub):
    project = unique("nofab")[:20]
    path = f"/subscriptions/{CONTOSO}/resourceGroups/rg-migrate/providers/Microsoft.Migrate/migrateProjects/{project}"
    live_hub.api("PUT", path, json={"location": "westeurope"})
    live_hub.api("POST", f"{path}/registerTool", json={"tool": "ServerMigration"})
    create_resources(live_hub, path)
    asr = site_recovery_client(live_hub, "admin@contoso.com", CONTOSO)
    vault = vault_name(live_hub, path)
    assert list(asr.replication_fabrics.list("rg-migrate", vault)) == []
    with pytest.raises(ResourceNotFoundError) as missing:
        asr.replication_fabrics.get("rg-migrate", vault, "migrate-fabric")
    assert missing.value.error.code == "FabricNotFound"
    with pytest.raises(ResourceNotFoundError):
        asr.replication_fabrics.list("rg-migrate", "no-such-vault").next()


def test_the_vm_sizes_of_a_region_through_the_compute_sdk(live_hub):
    from azure.core.exceptions import ResourceNotFoundError as NotFound

    from tests.azure_clients import compute_client

    compute = compute_client(live_hub, "viewer@contoso.com", CONTOSO)
    sizes = {size.name: size for size in compute.virtual_machine_sizes.list("westeurope")}
    assert sizes["Standard_D2s_v5"].number_of_cores == 2 and sizes["Standard_D2s_v5"].memory_in_mb == 8192
    assert sizes["Standard_E8s_v5"].max_data_disk_count == 16
    with pytest.raises(NotFound):
        list(compute.virtual_machine_sizes.list("atlantis"))
