"""Snapshots rewind a running rehearsal (hub/snapshots.py): a real appliance and Mobility agent keep
replicating while the hub is saved as "cutover night", replicates on, and is restored, twice. The hub's
new epoch reaches the agent through the appliance's heartbeat; it drops its state of the abandoned
timeline and resends from what the hub holds; batches of the old timeline are refused. Each time the
replica ends byte-identical to the source at a new recovery point. (The byte-identical database dump
after save, change and restore is hub/tests/test_snapshots.py's: here the agents change rows at once.)"""

from __future__ import annotations

import os
import signal

import pytest

from tests import hubs
from tests.disk_images import MIB, change_blocks, sha256_of, write_realistic_image
from tests.replication_rig import ImageWriter, build_rig, enable_replication, wait_for, wait_for_state

pytestmark = pytest.mark.live


snapshot_hub = hubs.module_hub_fixture("snapshots", redis_db_offset=14)


def latest_point(replica: dict) -> int:
    return max((point["cycle"] for point in replica["recoveryPoints"]), default=0)


def test_restoring_while_the_appliance_and_agent_run_rewinds_and_they_catch_up(snapshot_hub, tmp_path):
    hub = snapshot_hub
    image = tmp_path / "disk0.img"
    write_realistic_image(image, 24 * MIB, seed=15)
    rig = build_rig(hub, tmp_path, {"disk0": image})
    try:
        enable_replication(rig)
        wait_for_state(rig, "Replicating", seconds=180)
        rig.wait_until_replica_equals("disk0", sha256_of(image))

        # Cutover night, saved while the server writes and the agent sends a cycle every second.
        writer = ImageWriter(image, blocks=16, interval=0.2).start()
        try:
            saved = hub.manage("snapshot", "save", "cutover-night")
        finally:
            writer.stop()
        assert "Saved snapshot cutover-night" in saved
        assert "cutover-night" in hub.manage("snapshot", "list")

        for rehearsal in (1, 2):
            # The rehearsal goes on: the source changes, cycles and recovery points move on.
            change_blocks(image, 256, seed=100 + rehearsal)
            before_restore = rig.wait_until_replica_equals("disk0", sha256_of(image))
            sequence_before = before_restore["disks"][0]["storedSequence"]

            # Rewind, with the appliance and the agent running. The first time the agent is frozen
            # (SIGSTOP) across the restore, to see the hub's rows rewound before it catches up.
            if rehearsal == 1:
                os.killpg(rig.agent_pid(), signal.SIGSTOP)
            try:
                restored = hub.manage("snapshot", "restore", "cutover-night")
                assert "Restored snapshot cutover-night" in restored
                if rehearsal == 1:
                    rewound = rig.replica()
                    assert rewound["disks"][0]["storedSequence"] < sequence_before
                    assert latest_point(rewound) < latest_point(before_restore)
            finally:
                os.killpg(rig.agent_pid(), signal.SIGCONT)
            # The agent hears of it at its next heartbeat and starts over from what the hub holds...
            wait_for(
                lambda: rig.agent_log.read_text().count("The hub was restored from a snapshot"),
                lambda count, expected=rehearsal: count >= expected,
                seconds=60,
            )
            # ...and catches up: the replica equals the source at a recovery point, with no corruption.
            caught_up = rig.wait_until_replica_equals("disk0", sha256_of(image), seconds=180)
            assert latest_point(caught_up) > 0
    finally:
        rig.stop()


def test_a_snapshot_saved_mid_initial_replication_restores_and_completes(snapshot_hub, tmp_path):
    """Saved while the first full cycle is half sent (a throttled link): the restored hub holds part of
    cycle 1 and a half-built replica. The agent, told of the restore, sends the disk in full as cycle 2,
    which supersedes that part; initial replication completes with the replica equal to the source."""
    hub = snapshot_hub
    image = tmp_path / "disk0.img"
    with open(image, "wb") as handle:
        for _ in range(40):
            handle.write(os.urandom(MIB))  # incompressible: the throttle stretches the transfer
    rig = build_rig(hub, tmp_path, {"disk0": image}, appliance_env={"APPLIANCE_MAX_UPLOAD_MBPS": "16"})
    try:
        enable_replication(rig)
        wait_for(rig.progress, lambda percent: percent >= 10, seconds=90)
        # The agent frozen (SIGSTOP) across the save, so it lands mid-cycle: on a loaded CI machine
        # `manage.py snapshot save` started only after cycle 1's point had been recorded.
        os.killpg(rig.agent_pid(), signal.SIGSTOP)
        try:
            hub.manage("snapshot", "save", "mid-seeding")
        finally:
            os.killpg(rig.agent_pid(), signal.SIGCONT)
        wait_for_state(rig, "Replicating", seconds=180)
        complete = rig.wait_until_replica_equals("disk0", sha256_of(image))

        hub.manage("snapshot", "restore", "mid-seeding")
        # Rewound to part of cycle 1 (the agent, throttled, needs seconds to send much more).
        assert rig.item().properties.migration_state == "InitialSeedingInProgress", "saved after cycle 1's point"
        assert rig.replica()["disks"][0]["storedSequence"] < complete["disks"][0]["storedSequence"]
        wait_for_state(rig, "Replicating", seconds=180)
        caught_up = rig.wait_until_replica_equals("disk0", sha256_of(image), seconds=180)
        assert min(point["cycle"] for point in caught_up["recoveryPoints"]) >= 2, "cycle 1 was superseded"
    finally:
        rig.stop()
