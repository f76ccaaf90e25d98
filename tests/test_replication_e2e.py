"""Replication for real: a disk image goes agent → appliance (process server: zstd, AES-256-GCM) →
hub (cache storage, replica disk, recovery points). The replica's SHA-256 equals the image's at the
recovery point; a delta cycle after changing blocks carries only those blocks. On both topologies:
PostgreSQL + Redis with a separate worker, and the embedded default of `make run`. And with the last
batch of the initial cycle made to overtake the one before it, progress never goes back."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from replication.tests.stubs import JsonPostServer
from tests.disk_images import BLOCK, change_blocks, sha256_of
from tests.replication_rig import enable_replication, one_disk_rig, wait_for_state

pytestmark = pytest.mark.live

MIB = 1024 * 1024


def test_an_image_replicates_initially_then_by_delta_cycles(any_hub, tmp_path):
    rig, image = one_disk_rig(any_hub, tmp_path, 24, seed=7)
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


class OvertakingProxy(JsonPostServer):
    """Between the appliance and the hub: forwards every call, one at a time, but holds each full batch of
    the first cycle until the next one comes; when that is the cycle's marker batch, the marker reaches
    the hub first. So the last batch overtakes the one before it, as the agent's two concurrent uploads
    sometimes make it. After each batch the hub stores, the proxy reads the item's processed bytes."""

    HOLD_SECONDS = 5  # a batch nothing follows goes on after this

    def __init__(self, hub_url: str, processed_bytes):
        self.hub_url, self.processed_bytes = hub_url, processed_bytes
        self.lock, self.forwarding = threading.Lock(), threading.Lock()
        self.held: threading.Event | None = None
        self.stored: list[int] = []  # sequences, in the order the hub stored them
        self.samples: list[int] = []  # processed bytes after each of them
        self.overtaken = False
        super().__init__()

    def answer(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        if not path.endswith("/replication/batches"):
            return self.forward(path, headers, body)
        length = int.from_bytes(body[4:8], "little")
        header = json.loads(body[8 : 8 + length])
        if not header["full"] or header["cycle"] != 1:
            return self.forward(path, headers, body, header["sequence"])
        mine = threading.Event()
        with self.lock:
            before, self.held = self.held, None if header["marker"] else mine
        if header["marker"]:
            answer = self.forward(path, headers, body, header["sequence"])  # the last batch first...
            if before is not None:
                self.overtaken = True
                before.set()  # ...then the one it overtook
            return answer
        if before is not None:
            before.set()
        mine.wait(self.HOLD_SECONDS)
        return self.forward(path, headers, body, header["sequence"])

    def forward(self, path: str, headers, body: bytes, sequence: int | None = None) -> tuple[int, dict]:
        with self.forwarding:
            response = requests.post(
                self.hub_url + path,
                data=body,
                headers={name: headers[name] for name in ("Authorization", "Content-Type") if name in headers},
                timeout=60,
            )
            if sequence is not None and response.status_code == 201:
                self.stored.append(sequence)
                self.samples.append(self.processed_bytes())
        return response.status_code, response.json()


def test_progress_never_goes_back_when_the_last_batch_of_a_cycle_overtakes_the_one_before(live_hub, tmp_path):
    # Large enough for two batches of the appliance's 16 MiB (realistic content is about 65% data): the
    # first is held, the marker batch overtakes it.
    rig, image = one_disk_rig(live_hub, tmp_path, 48, seed=11)
    proxy = OvertakingProxy(live_hub.url, lambda: processed_bytes(rig))
    try:
        # The appliance talks to the hub through the proxy from now on.
        rig.kill_appliance()
        registration = rig.appliance.home / "appliance.json"
        registration.write_text(json.dumps({**json.loads(registration.read_text()), "hub": proxy.url}))
        rig.start_appliance()
        enable_replication(rig)
        item = wait_for_state(rig, "Replicating")
        assert item.properties.provider_specific_details["initialReplicationProcessedBytes"] == 48 * MIB
        assert proxy.overtaken, f"the last batch never overtook: stored {proxy.stored}"
        assert proxy.stored != sorted(proxy.stored)
        assert proxy.samples == sorted(proxy.samples), f"processed bytes went back: {proxy.samples}"
        rig.wait_until_replica_equals("disk0", sha256_of(image))
    finally:
        proxy.close()
        rig.stop()


def processed_bytes(rig) -> int:
    if not rig.item_name:  # a batch before the item's name is known: nothing to compare yet
        return 0
    return rig.item().properties.provider_specific_details["initialReplicationProcessedBytes"]
