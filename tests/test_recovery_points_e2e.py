"""Recovery-point history for real: a disk image replicates agent -> appliance -> hub, the image changes
between two points, and Test migrate and Migrate from the older point (recoveryPointId, through the
Site Recovery SDK) build VMs whose disk SHA-256 is the image's as it was at that point."""

from __future__ import annotations

from datetime import datetime

import pytest

# Through the module: pytest would try to collect classes named Test* imported here.
from azure.mgmt.recoveryservicessiterecovery import models as asr_models

from tests.disk_images import change_blocks, sha256_of, write_realistic_image
from tests.hubs import CONTOSO
from tests.replication_rig import build_rig, enable_replication, wait_for_state

pytestmark = pytest.mark.live

MIB = 1024 * 1024
RG, FABRIC, CONTAINER = "rg-migrate", "migrate-fabric", "migrate-container"
VNETS = f"/subscriptions/{CONTOSO}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks"
VM_DISK_SHA256 = """
from replication.models import ManagedDisk
print(ManagedDisk.objects.get(vm__name={vm!r}).sha256)
"""


def vm_disk_sha256(hub, vm: str) -> str:
    return hub.manage("shell", "-c", VM_DISK_SHA256.format(vm=vm)).strip().splitlines()[-1]


def test_test_migrate_and_migrate_from_an_older_point_hold_the_source_as_it_was_then(live_hub, tmp_path):
    image = tmp_path / "disk0.img"
    write_realistic_image(image, 16 * MIB, seed=41)
    rig = build_rig(live_hub, tmp_path, {"disk0": image})
    try:
        enable_replication(rig)
        wait_for_state(rig, "Replicating")
        older_sha = sha256_of(image)
        state = rig.wait_until_replica_equals("disk0", older_sha)
        older_time = datetime.fromisoformat(state["recoveryPoints"][-1]["capturedAt"])
        change_blocks(image, 200, seed=42)
        newer_sha = sha256_of(image)
        rig.wait_until_replica_equals("disk0", newer_sha)
        assert newer_sha != older_sha

        asr, name = rig.sdk(), rig.host_name
        item_args = (RG, rig.vault, FABRIC, CONTAINER, rig.item_name)
        points = list(asr.migration_recovery_points.list_by_replication_migration_items(*item_args))
        (older,) = [point for point in points if point.properties.recovery_point_time == older_time]
        assert older.id != rig.item().properties.provider_specific_details["lastRecoveryPointId"]

        tested = asr.replication_migration_items.begin_test_migrate(
            *item_args,
            asr_models.TestMigrateInput(
                properties=asr_models.TestMigrateInputProperties(
                    provider_specific_details=asr_models.VMwareCbtTestMigrateInput(
                        recovery_point_id=older.id, network_id=f"{VNETS}/vnet-test"
                    )
                )
            ),
        ).result()
        assert tested.properties.test_migrate_state == "TestMigrationSucceeded"
        assert vm_disk_sha256(live_hub, f"{name}-Test") == older_sha
        asr.replication_migration_items.begin_test_migrate_cleanup(*item_args, {"properties": {}}).result()

        migrate_input = {
            "properties": {
                "providerSpecificDetails": {
                    "instanceType": "InMageRcm",
                    "performShutdown": "false",
                    "recoveryPointId": older.id,
                }
            }
        }
        migrated = asr.replication_migration_items.begin_migrate(*item_args, migrate_input).result()
        assert migrated.properties.migration_state == "MigrationSucceeded"
        assert vm_disk_sha256(live_hub, name) == older_sha
    finally:
        rig.stop()
