"""Replication for real: a disk image goes agent → appliance (process server: zstd, AES-256-GCM) →
hub (cache storage, replica disk, recovery points). The replica's SHA-256 equals the image's at the
recovery point; a delta cycle after changing blocks carries only those blocks. On both topologies:
PostgreSQL + Redis with a separate worker, and the embedded default of `make run`."""

from __future__ import annotations

import pytest

from tests.disk_images import BLOCK, change_blocks, sha256_of, write_realistic_image
from tests.replication_rig import build_rig, enable_replication, wait_for_state

pytestmark = pytest.mark.live

MIB = 1024 * 1024


def test_an_image_replicates_initially_then_by_delta_cycles(any_hub, tmp_path):
    image = tmp_path / "disk0.img"
    write_realistic_image(image, 24 * MIB, seed=7)
    rig = build_rig(any_hub, tmp_path, {"disk0": image})
    try:
        enable_replication(rig)
        item = wait_for_state(rig, "Replicating")
        assert item.properties.migration_state_description == "Ready to migrate"
        assert item.properties.provider_specific_details["initialReplicationProgressPercentage"] == 100
        state = rig.wait_until_replica_equals("disk0", sha256_of(image))
        (disk,) = state["disks"]
        non_zero_blocks = sum(
            1
            for index in range(image.stat().st_size // BLOCK)
            if any(image.read_bytes()[index * BLOCK : (index + 1) * BLOCK])
        )
        assert disk["changedBytes"] == non_zero_blocks * BLOCK, "initial replication sends the non-zero blocks"
        before = disk["changedBytes"]

        changed = change_blocks(image, 20, seed=8)
        state = rig.wait_until_replica_equals("disk0", sha256_of(image))
        (disk,) = state["disks"]
        carried = disk["changedBytes"] - before
        # Only the changed blocks travel (a block read while being written may go twice).
        assert len(changed) * BLOCK <= carried <= (len(changed) + 4) * BLOCK, carried
        assert len(state["recoveryPoints"]) >= 2
    finally:
        rig.stop()
