"""The tutorial driven only through the API, as automation runs it with no browser: the official Azure
SDK clients (Recovery Services, Site Recovery, Compute, Resource), unmodified, against a live hub, with
a real replication appliance and a real Mobility service replicating a disk image file.

Set-up (tests.replication_rig.build_rig) creates the project and Create resources through ARM
(RecoveryServicesClient for the vault), takes the registration key from vault_certificates.create and
the installer from the signed link getConfig hands out, runs the appliance's setup with them and
finalizes its registration with the provider's finalizeRegistration action. From enabling
replication on, every step is an SDK call.

The ARM job body carries no disk hashes, so the migrated disk's SHA-256 is read from what the Migrate
job recorded in the hub (its input's "vm" section, via `manage.py shell`): the source's SHA-256 the
agent computed in its final sync, and the SHA-256 of the disk the hub built for the VM."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

# Through the module: pytest would try to collect classes named Test* imported here.
from azure.mgmt.recoveryservicessiterecovery import models as asr_models

from tests.azure_clients import compute_client, resource_client
from tests.disk_images import change_blocks, sha256_of
from tests.hubs import CONTOSO
from tests.replication_rig import (
    CONTAINER,
    FABRIC,
    RG,
    ImageWriter,
    enable_replication,
    job_input,
    one_disk_rig,
    wait_for_state,
)

pytestmark = pytest.mark.live

MIB = 1024 * 1024
VNETS = f"/subscriptions/{CONTOSO}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks"
# The tutorial's Migrate job, as the portal's notifications and Az.Migrate list its tasks.
MIGRATE_TASKS = [
    "Prerequisites check for migration",
    "Shut down the virtual machine",
    "Preparing for migration",
    "Creating Azure virtual machine",
    "Starting Azure virtual machine",
]


def start_test_migration_at_latest_point(rig, item_args, network_id: str):
    """Test migrate at the item's latest recovery point, named as Az.Migrate names it. The server keeps
    replicating (a point a second), so the point may no longer be the latest when the request lands:
    every kept point can be built, so it is built all the same."""
    latest = rig.item().properties.provider_specific_details["lastRecoveryPointId"]
    test_input = asr_models.TestMigrateInput(
        properties=asr_models.TestMigrateInputProperties(
            provider_specific_details=asr_models.VMwareCbtTestMigrateInput(
                recovery_point_id=latest, network_id=network_id
            )
        )
    )
    return rig.sdk().replication_migration_items.begin_test_migrate(*item_args, test_input).result()


def test_replicate_test_migrate_migrate_and_stop_replication_through_the_sdk(live_hub, tmp_path):
    rig, image = one_disk_rig(live_hub, tmp_path, 8, seed=21)
    writer = ImageWriter(image).start()  # the server is in use while it replicates
    try:
        enable_replication(rig)  # replication_migration_items.begin_create(...).result()
        name = rig.host_name
        item_args = (RG, rig.vault, FABRIC, CONTAINER, rig.item_name)
        asr = rig.sdk()
        compute = compute_client(live_hub, "admin@contoso.com", CONTOSO)

        # Protected from the moment it replicates (read before the recovery point the test migration names).
        protectable = asr.replication_protectable_items.get(RG, rig.vault, FABRIC, CONTAINER, rig.item_name)
        assert protectable.properties.protection_status == "Protected"
        assert protectable.properties.replication_protected_item_id.endswith(
            f"/replicationMigrationItems/{rig.item_name}"
        )

        replicating = wait_for_state(rig, "Replicating")
        assert replicating.properties.migration_state_description == "Ready to migrate"
        assert "Migrate" in replicating.properties.allowed_operations

        # Run a test migration into the test network; the VM is named <name>-Test.
        tested = start_test_migration_at_latest_point(rig, item_args, f"{VNETS}/vnet-test")
        assert tested.properties.test_migrate_state == "TestMigrationSucceeded"
        test_vm = compute.virtual_machines.get(RG, f"{name}-Test")
        assert test_vm.tags == {"migrate-test": "true", "migrate-source": name}

        cleaned = asr.replication_migration_items.begin_test_migrate_cleanup(
            *item_args, {"properties": {"comments": "The server answered on the test network."}}
        ).result()
        assert (cleaned.properties.test_migrate_state, cleaned.properties.last_test_migration_status) == (
            "None",
            "Succeeded",
        )
        with pytest.raises(ResourceNotFoundError):
            compute.virtual_machines.get(RG, f"{name}-Test")

        # Migrate with shutdown: the server stops writing first, so the image now is the source at shutdown.
        writer.stop()
        # A last write just before shutdown: likely no regular cycle carries it, the final sync must.
        change_blocks(image, 8, seed=99)
        source_at_shutdown = sha256_of(image)
        migrate_input = asr_models.MigrateInput(
            properties=asr_models.MigrateInputProperties(
                provider_specific_details=asr_models.VMwareCbtMigrateInput(perform_shutdown="true")
            )
        )
        migrated = asr.replication_migration_items.begin_migrate(*item_args, migrate_input).result()
        assert migrated.properties.migration_state == "MigrationSucceeded"
        assert migrated.properties.allowed_operations == ["DisableMigration"]
        vm = compute.virtual_machines.get(RG, name)
        assert vm.tags == {"migrate-source": name}
        assert vm.storage_profile.os_disk.name == f"{name}-disk0"
        # The VM's disk id resolves, and the item names it as its target disk.
        disk = compute.disks.get(RG, f"{name}-disk0")
        assert disk.id == vm.storage_profile.os_disk.managed_disk.id
        assert (disk.managed_by, disk.disk_state, disk.sku.name) == (vm.id, "Attached", "StandardSSD_LRS")
        assert disk.disk_size_gb == 1 and disk.time_created is not None
        assert disk.id in [d.id for d in compute.disks.list_by_resource_group(RG)]
        assert disk.id in [d.id for d in compute.disks.list()]
        (target,) = migrated.properties.provider_specific_details["protectedDisks"]
        assert target["targetManagedDiskId"] == disk.id
        in_group = {
            r.id for r in resource_client(live_hub, "admin@contoso.com", CONTOSO).resources.list_by_resource_group(RG)
        }
        assert {vm.id, disk.id, vm.network_profile.network_interfaces[0].id} <= in_group

        (listed,) = asr.replication_jobs.list(
            RG, rig.vault, filter=f"jobName eq 'Migrate' and targetObjectName eq '{name}'"
        )
        job = asr.replication_jobs.get(RG, rig.vault, listed.name)
        assert (job.properties.friendly_name, job.properties.state) == ("Migrate", "Succeeded")
        assert [task.friendly_name for task in job.properties.tasks] == MIGRATE_TASKS
        assert {task.state for task in job.properties.tasks} == {"Succeeded"}
        (disk,) = job_input(live_hub, job.name)["vm"]["disks"]
        assert disk["vmDiskSha256"] == disk["sourceSha256"] == source_at_shutdown

        # Complete the migration: stop replication. The item allows nothing more; the VM stays.
        assert asr.replication_migration_items.begin_delete(*item_args).result() is None
        assert asr.replication_migration_items.get(*item_args).properties.allowed_operations == []
        assert compute.virtual_machines.get(RG, name).id == vm.id
        stopped = f"jobName eq 'DisableMigration' and targetObjectName eq '{name}'"
        assert [j.properties.state for j in asr.replication_jobs.list(RG, rig.vault, filter=stopped)] == ["Succeeded"]
    finally:
        writer.stop()
        rig.stop()
