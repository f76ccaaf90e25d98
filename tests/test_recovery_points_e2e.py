"""Recovery-point history for real: a disk image replicates agent -> appliance -> hub, the image changes
between two points, and Test migrate and Migrate from the older point (recoveryPointId, through the
Site Recovery SDK) build VMs whose disk SHA-256 is the image's as it was at that point."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.disk_images import change_blocks, sha256_of
from tests.recovery_points import RG, migrations_from_point_hold
from tests.replication_rig import one_disk_rig, replicate_until_equal

pytestmark = pytest.mark.live

FABRIC, CONTAINER = "migrate-fabric", "migrate-container"


def test_test_migrate_and_migrate_from_an_older_point_hold_the_source_as_it_was_then(live_hub, tmp_path):
    rig, image = one_disk_rig(live_hub, tmp_path, 16, seed=41)
    try:
        older_sha = sha256_of(image)
        state = replicate_until_equal(rig, image)
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

        migrations_from_point_hold(live_hub, asr, item_args, older.id, name, older_sha)
    finally:
        rig.stop()
