"""What the live recovery-point tests share: Test migrate, clean up, then Migrate from one recovery point
through the Site Recovery SDK, each VM's disk checked against the source as it was at that point."""

from __future__ import annotations

# Through the module: pytest would try to collect classes named Test* imported here.
from azure.mgmt.recoveryservicessiterecovery import models as asr_models

from tests.hubs import CONTOSO

RG = "rg-migrate"
VNETS = f"/subscriptions/{CONTOSO}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks"
VM_DISK_SHA256 = """
from replication.models import ManagedDisk
print(ManagedDisk.objects.get(vm__name={vm!r}).sha256)
"""


def vm_disk_sha256(hub, vm: str) -> str:
    return hub.manage("shell", "-c", VM_DISK_SHA256.format(vm=vm)).strip().splitlines()[-1]


def migrations_from_point_hold(hub, asr, item_args: tuple, point_id: str, vm_name: str, source_sha: str) -> None:
    """Test migrate from `point_id` into vnet-test, then clean up, then Migrate from it (no shutdown), the
    point named in the InMageRcm shape (recoveryPointId beside performShutdown): both VMs' disks must
    hold `source_sha`, the source's SHA-256 at that point."""
    tested = asr.replication_migration_items.begin_test_migrate(
        *item_args,
        asr_models.TestMigrateInput(
            properties=asr_models.TestMigrateInputProperties(
                provider_specific_details=asr_models.VMwareCbtTestMigrateInput(
                    recovery_point_id=point_id, network_id=f"{VNETS}/vnet-test"
                )
            )
        ),
    ).result()
    assert tested.properties.test_migrate_state == "TestMigrationSucceeded"
    assert vm_disk_sha256(hub, f"{vm_name}-Test") == source_sha
    asr.replication_migration_items.begin_test_migrate_cleanup(*item_args, {"properties": {}}).result()

    migrate_input = {
        "properties": {
            "providerSpecificDetails": {
                "instanceType": "InMageRcm",
                "performShutdown": "false",
                "recoveryPointId": point_id,
            }
        }
    }
    migrated = asr.replication_migration_items.begin_migrate(*item_args, migrate_input).result()
    assert migrated.properties.migration_state == "MigrationSucceeded"
    assert vm_disk_sha256(hub, vm_name) == source_sha
