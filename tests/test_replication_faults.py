"""Faults survived with nothing lost: the agent, the appliance and the hub's worker are each killed
(SIGKILL) in the middle of an initial replication and started again; the replica still ends
identical to the source. The appliance's bandwidth throttle keeps the transfer long enough to be
interrupted. These tests run against a hub of their own whose Celery worker the test controls."""

from __future__ import annotations

import os
import time

import pytest

from tests import hubs
from tests.disk_images import sha256_of
from tests.replication_rig import build_rig, enable_replication, wait_for_progress, wait_for_state

pytestmark = pytest.mark.live

MIB = 1024 * 1024
THROTTLE = {"APPLIANCE_MAX_UPLOAD_MBPS": "64"}  # megabits per second: 8 MB/s


# A Redis DB apart from the session hub's, so flushing it disturbs nobody.
faults_hub = hubs.module_hub_fixture("faults", redis_db_offset=6)


def incompressible_image(path, size: int) -> None:
    """Random data: compression cannot shorten the transfer the throttle stretches."""
    with open(path, "wb") as image:
        for _ in range(size // MIB):
            image.write(os.urandom(MIB))


def interrupted_replication(hub, tmp_path, interrupt, resume) -> None:
    image = tmp_path / "disk0.img"
    incompressible_image(image, 40 * MIB)
    rig = build_rig(hub, tmp_path, {"disk0": image}, appliance_env=THROTTLE)
    try:
        enable_replication(rig)
        wait_for_progress(rig, 25, seconds=60)
        interrupt(rig)
        time.sleep(1.5)
        resume(rig)
        wait_for_state(rig, "Replicating", seconds=180)
        state = rig.wait_until_replica_equals("disk0", sha256_of(image))
        assert state["recoveryPoints"], "a recovery point was recorded"
    finally:
        rig.stop()


def test_the_agent_killed_mid_transfer_resumes(faults_hub, tmp_path):
    interrupted_replication(faults_hub, tmp_path, lambda rig: rig.kill_agent(), lambda rig: rig.start_agent())


def test_the_appliance_killed_mid_transfer_resends_what_was_not_acknowledged(faults_hub, tmp_path):
    interrupted_replication(faults_hub, tmp_path, lambda rig: rig.kill_appliance(), lambda rig: rig.start_appliance())


def test_the_worker_killed_while_applying_reapplies_idempotently(faults_hub, tmp_path):
    interrupted_replication(faults_hub, tmp_path, lambda rig: rig.hub.kill_worker(), lambda rig: rig.hub.start_worker())
