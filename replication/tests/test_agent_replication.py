"""The mobility agent's replication: blocks and digests, cycles against the stub appliance (the stub
process server of replication/tests/stubs.py, which stores batches as the hub would, duplicates
included), resuming after a crash, and synthetic disks."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

# The agent is on sys.path from replication/tests/stubs.py, which conftest.py imports first.
from agent import blocks, disks
from agent.blocks import BLOCK_SIZE, NO_HASH, ZERO_HASH

from replication.tests.stubs import AGENT_DIR, AGENT_ID, AGENT_SECRET, MiB, entry_for, make_replicator, write_image

# Blocks and digests


def test_block_hash_and_zero_detection():
    data = bytearray(os.urandom(BLOCK_SIZE)) + bytearray(BLOCK_SIZE) + bytearray(b"x" * 100)
    hashes = blocks.hash_blocks(data, len(data))
    assert hashes[0] == hashlib.sha256(data[:BLOCK_SIZE]).digest()[:16]
    assert hashes[1] == NO_HASH, "zero blocks are told apart without hashing"
    assert hashes[2] == hashlib.sha256(b"x" * 100).digest()[:16], "the short last block is hashed as is"
    assert blocks.hash_blocks(bytearray(100), 100) == [NO_HASH], "a short zero block is zero"
    assert hashlib.sha256(bytes(BLOCK_SIZE)).digest()[:16] == ZERO_HASH


def test_content_digest_is_the_protocols():
    size = 3 * BLOCK_SIZE + 10
    data = bytearray(size)
    data[BLOCK_SIZE : 2 * BLOCK_SIZE] = b"a" * BLOCK_SIZE
    data[3 * BLOCK_SIZE :] = b"b" * 10
    expected = hashlib.sha256()
    expected.update((1).to_bytes(8, "little") + hashlib.sha256(b"a" * BLOCK_SIZE).digest()[:16])
    expected.update((3).to_bytes(8, "little") + hashlib.sha256(b"b" * 10).digest()[:16])
    expected.update(size.to_bytes(8, "little"))
    assert blocks.content_digest_of(bytes(data)) == expected.hexdigest()
    empty = hashlib.sha256(size.to_bytes(8, "little")).hexdigest()
    assert blocks.content_digest_of(bytes(size)) == empty, "zero blocks contribute nothing"


def test_batches_round_trip_with_zero_records():
    header = {"itemId": "i", "sequence": 7}
    records = blocks.RECORD.pack(5, 3) + b"abc" + blocks.RECORD.pack(9, 0)
    decoded, view = blocks.decode_batch(blocks.encode_batch_prefix(header) + records)
    assert decoded == header
    assert [(index, data and bytes(data)) for index, data in blocks.iter_records(view)] == [(5, b"abc"), (9, None)]
    with pytest.raises(ValueError):
        list(blocks.iter_records(blocks.RECORD.pack(1, 5000) + bytes(5000)))


def test_the_hash_table_is_sparse_and_saves(tmp_path):
    table = blocks.BlockHashes()
    table.set_range(10, b"\x01" * 16 * 3)
    table.set(5_000_000, b"\x02" * 16)
    table.set_range(2000, NO_HASH * 100)
    assert len(table.chunks) == 2, "zero entries allocate nothing"
    assert list(table.non_zero(0, 10**9)) == [10, 11, 12, 5_000_000]
    assert table.get_range(9, 11) == NO_HASH + b"\x01" * 16
    table.save(str(tmp_path / "t.bin"))
    loaded = blocks.BlockHashes.load(str(tmp_path / "t.bin"))
    assert list(loaded.non_zero(0, 10**9)) == [10, 11, 12, 5_000_000]


# Cycles


def test_a_full_then_delta_cycle_replicates_an_image_exactly(stub, tmp_path):
    size = 9 * MiB + 1000  # a partial last block
    image = write_image(tmp_path / "disk.img", size)
    specs = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.update(entry_for(specs))
    replicator.run_cycle()

    replica, marker = stub.replica("disk0")
    assert replica == image and marker["cycle"] == 1 and marker["sizeBytes"] == size
    assert marker["digest"] == blocks.content_digest_of(bytes(image))
    first = [header for header in stub.received if header["cycle"] == 1]
    assert all(header["full"] for header in first)
    assert sorted(header["sequence"] for header in first) == list(range(1, len(first) + 1))
    assert max(header["scannedBytes"] for header in first) == size

    # Change 1% of the blocks (some to zeros, one zero block to data), then a delta cycle.
    chooser = random.Random(7)
    changed = chooser.sample(range(size // BLOCK_SIZE), size // BLOCK_SIZE // 100)
    with open(tmp_path / "disk.img", "r+b") as handle:
        for number, index in enumerate(changed):
            data = bytes(BLOCK_SIZE) if number % 5 == 0 else os.urandom(BLOCK_SIZE)
            handle.seek(index * BLOCK_SIZE)
            handle.write(data)
            image[index * BLOCK_SIZE : (index + 1) * BLOCK_SIZE] = data
    wire_before = stub.wire_bytes
    replicator.run_cycle()
    replica, marker = stub.replica("disk0")
    assert replica == image and marker["cycle"] == 2
    assert marker["digest"] == blocks.content_digest_of(bytes(image))
    delta = [header for header in stub.received if header["cycle"] == 2]
    assert not any(header["full"] for header in delta)
    assert min(header["sequence"] for header in delta) == len(first) + 1, "sequences continue across cycles"
    changed_bytes = len(changed) * BLOCK_SIZE
    assert (stub.wire_bytes - wire_before) / changed_bytes <= 1.2

    # Nothing changed: one batch, the marker, with no records.
    received = len(stub.received)
    replicator.run_cycle()
    assert len(stub.received) == received + 1 and stub.received[-1]["marker"]["cycle"] == 3


def test_a_sparse_image_is_read_by_its_extents_and_holes_become_zero_records(stub, tmp_path):
    path = tmp_path / "sparse.img"
    with open(path, "wb") as handle:
        handle.truncate(256 * MiB)
        handle.seek(100 * MiB)
        handle.write(b"data" * 10000)
    specs = [{"diskId": "disk0", "path": str(path)}]
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.update(entry_for(specs))
    replicator.run_cycle()
    replica, marker = stub.replica("disk0")
    assert replica == path.read_bytes()
    # Punch the data out (a TRIM): the next delta cycle sends zero records for it.
    with open(path, "r+b") as handle:
        handle.truncate(0)
        handle.truncate(256 * MiB)
    replicator.run_cycle()
    last = [header for header in stub.received if header["cycle"] == 2]
    _, records = stub.batches[("disk0", last[0]["sequence"])]
    assert {data for _, data in blocks.iter_records(records)} == {None}
    replica, marker = stub.replica("disk0")
    assert replica.count(0) == len(replica) and marker["digest"] == blocks.content_digest_of(bytes(256 * MiB))


def test_a_resync_generation_sends_the_disk_in_full_again(stub, tmp_path):
    image = write_image(tmp_path / "disk.img", 2 * MiB)
    specs = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.update(entry_for(specs))
    replicator.run_cycle()
    replicator.update(entry_for(specs, generations={"disk0": 1}))
    replicator.run_cycle()
    second = [header for header in stub.received if header["cycle"] == 2]
    assert all(header["full"] for header in second)
    assert stub.replica("disk0")[0] == image
    replicator.run_cycle()
    assert not stub.received[-1]["full"], "the generation was honoured once"


def test_a_new_hub_epoch_starts_over_from_what_the_hub_holds(stub, tmp_path):
    """The hub was restored from a snapshot: the agent's state of the abandoned timeline goes, and every
    disk is sent in full from the hub's next sequence, numbered past the cycle the hub may hold part of.
    Every batch carries the epoch its state belongs to."""
    write_image(tmp_path / "disk.img", 2 * MiB)
    specs = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.update({**entry_for(specs), "hubEpoch": "epoch-1"})
    replicator.run_cycle()
    replicator.run_cycle()
    assert {header["hubEpoch"] for header in stub.received} == {"epoch-1"}
    assert [header["full"] for header in stub.received if header["cycle"] == 2] == [False]
    sent_before = len(stub.received)

    restored = {**entry_for(specs), "hubEpoch": "epoch-2", "nextCycle": 2}
    restored["disks"][0]["nextSequence"] = 2  # the restored hub holds sequence 1 only
    replicator.update(restored)
    assert replicator.cancelled.is_set(), "a cycle under way stops: it belongs to the other timeline"
    replicator.run_cycle()
    resent = stub.received[sent_before:]
    assert resent and all(header["full"] and header["cycle"] == 3 for header in resent)
    assert resent[0]["sequence"] == 2 and {header["hubEpoch"] for header in resent} == {"epoch-2"}
    state = json.loads((tmp_path / "state" / "item.json").read_text())
    assert state["hubEpoch"] == "epoch-2" and state["completedCycle"] == 3


def test_an_agent_without_an_epoch_adopts_the_first_it_sees(stub, tmp_path):
    write_image(tmp_path / "disk.img", MiB)
    specs = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.update(entry_for(specs))  # a hub from before epochs
    replicator.run_cycle()
    assert "hubEpoch" not in stub.received[-1]
    replicator.update({**entry_for(specs), "hubEpoch": "epoch-1"})
    assert not replicator.cancelled.is_set()
    replicator.run_cycle()
    assert stub.received[-1]["hubEpoch"] == "epoch-1" and not stub.received[-1]["full"]


def test_a_stopped_replication_forgets_its_state_and_a_404_drops_the_disk(stub, tmp_path):
    write_image(tmp_path / "disk.img", MiB)
    specs = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.update(entry_for(specs))
    replicator.run_cycle()
    assert (tmp_path / "state" / "item.json").exists()
    replicator.update(None)
    replicator.run_cycle()
    assert not (tmp_path / "state").exists()

    replicator.update(entry_for(specs, item="item-2"))
    stub.refuse_with = (404, "MigrationItemNotFound")
    replicator.run_cycle()
    state = json.loads((tmp_path / "state" / "item.json").read_text())
    assert state["disks"] == {} and state["running"] is None


def test_unacknowledged_batches_are_retried_with_the_same_sequence(stub, tmp_path, monkeypatch):
    monkeypatch.setattr("agent.replicator.RETRY_FIRST_SECONDS", 0.01)
    image = write_image(tmp_path / "disk.img", 12 * MiB)
    specs = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    refusals = iter([(503, "HubUnreachable"), (401, "AgentNotRegistered"), (409, "ReplicationNotActive")])
    original = stub.handle

    def flaky(path, body):
        refusal = next(refusals, None)
        if refusal:
            return refusal[0], {"error": {"code": refusal[1], "message": "try again"}}
        return original(path, body)

    stub.handle = flaky
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.update(entry_for(specs))
    replicator.run_cycle()
    assert stub.replica("disk0")[0] == image
    sequences = stub.sequences("disk0")
    assert len(sequences) >= 2 and sequences == list(range(1, len(sequences) + 1))


def test_a_crash_mid_cycle_resumes_from_the_checkpoint(stub, tmp_path):
    """Stop the agent between batches, as a kill would; a new agent on the same state resumes: batches
    after the checkpoint are sent again with their sequences (duplicates), none is skipped."""
    image = write_image(tmp_path / "disk.img", 40 * MiB, seed=3)
    specs = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    first = make_replicator(stub, tmp_path / "state", specs, checkpoint_bytes=8 * MiB, checkpoint_seconds=3600)
    first.update(entry_for(specs))

    def crash_after_five(header):
        if header["sequence"] == 5:
            first.cancelled.set()  # the agent dies: nothing after this is acknowledged or saved

    stub.after_store = crash_after_five
    stub.down_after_sequence = 5
    with pytest.raises(Exception):  # noqa: B017 (Cancelled, whichever thread notices first)
        first.step(force=True)
    state = json.loads((tmp_path / "state" / "item.json").read_text())
    checkpoint = state["disks"]["disk0"]["progress"]
    assert 3 <= checkpoint["nextSequence"] <= 5 and checkpoint["offset"] > 0

    stub.after_store = stub.down_after_sequence = stub.refuse_with = None
    resumed_from = len(stub.received)
    second = make_replicator(stub, tmp_path / "state", specs)
    second.update(entry_for(specs))
    second.run_cycle()
    again = stub.received[resumed_from:]
    assert min(header["sequence"] for header in again) == checkpoint["nextSequence"], "resumed at the checkpoint"
    assert all(header["cycle"] == 1 and header["full"] for header in again)
    sequences = stub.sequences("disk0")
    assert sequences == list(range(1, sequences[-1] + 1)), "no sequence skipped"
    replica, marker = stub.replica("disk0")
    assert replica == image and marker["digest"] == blocks.content_digest_of(bytes(image))


def _batch_data(stub, disk_id: str) -> dict[int, int]:
    """Block data bytes of each stored batch of the disk, by sequence."""
    return {
        sequence: sum(len(data) for _, data in blocks.iter_records(stub.batches[(disk_id, sequence)][1]) if data)
        for sequence in stub.sequences(disk_id)
    }


def test_batches_are_as_large_as_the_process_server_offers_and_a_resumed_cycle_keeps_its_size(stub, tmp_path):
    """A process server offering 16 MiB batches gets them; an agent restarted mid-cycle finishes the cycle
    with the batches it planned (the same sequences cover the same blocks, so the hub's duplicates are
    true duplicates), even when the offer changed meanwhile; the next cycle takes the new offer."""
    image = write_image(tmp_path / "disk.img", 72 * MiB, seed=9)
    specs = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    offered = {**entry_for(specs), "batchDataBytes": 16 * MiB}
    first = make_replicator(stub, tmp_path / "state", specs, checkpoint_bytes=8 * MiB, checkpoint_seconds=3600)
    first.update(offered)

    def crash_after_two(header):
        if header["sequence"] == 2:
            first.cancelled.set()

    stub.after_store, stub.down_after_sequence = crash_after_two, 2
    with pytest.raises(Exception):  # noqa: B017 (Cancelled, whichever thread notices first)
        first.step(force=True)
    state = json.loads((tmp_path / "state" / "item.json").read_text())
    assert state["running"]["batchDataBytes"] == 16 * MiB
    assert state["disks"]["disk0"]["progress"]["nextSequence"] == 2, "batch 1 acknowledged and checkpointed"

    stub.after_store = stub.down_after_sequence = stub.refuse_with = None
    resumed_from = len(stub.received)
    second = make_replicator(stub, tmp_path / "state", specs)
    second.update(entry_for(specs))  # an older process server's entry: no offer
    second.run_cycle()
    assert min(header["sequence"] for header in stub.received[resumed_from:]) == 2
    sizes = _batch_data(stub, "disk0")
    assert max(sizes.values()) == 16 * MiB and all(size <= 16 * MiB for size in sizes.values())
    replica, marker = stub.replica("disk0")
    assert replica == image and marker["digest"] == blocks.content_digest_of(bytes(image))

    # The next cycle is planned with what is offered now (nothing: 4 MiB).
    with open(tmp_path / "disk.img", "r+b") as handle:
        handle.write(os.urandom(24 * MiB))
    last = max(sizes)
    second.run_cycle()
    later = {sequence: size for sequence, size in _batch_data(stub, "disk0").items() if sequence > last}
    assert later and max(later.values()) == blocks.LEGACY_BATCH_DATA
    replica, _ = stub.replica("disk0")
    assert replica == bytearray((tmp_path / "disk.img").read_bytes())


def test_a_batch_size_offer_is_bounded():
    assert blocks.batch_data_bytes(None) == blocks.batch_data_bytes("16777216") == blocks.LEGACY_BATCH_DATA
    assert blocks.batch_data_bytes(True) == blocks.batch_data_bytes(1024) == blocks.LEGACY_BATCH_DATA
    assert blocks.batch_data_bytes(2**62) == blocks.MAX_BATCH_DATA == 16 * MiB
    assert blocks.batch_data_bytes(8 * MiB + 100) == 8 * MiB, "whole blocks"


def test_a_killed_agent_process_resumes(stub, tmp_path):
    """The same with SIGKILL, in a real process."""
    image = write_image(tmp_path / "disk.img", 64 * MiB, seed=5)
    specs = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    script = f"""
import sys
sys.path.insert(0, {str(AGENT_DIR)!r})
from agent.replicator import Replicator
credentials = {{"appliance": {stub.url!r}, "agentId": {AGENT_ID!r}, "secret": {AGENT_SECRET!r}}}
replicator = Replicator({str(tmp_path / "state")!r}, "machine-1", {specs!r}, lambda: credentials,
                        checkpoint_bytes=4 * 1024 * 1024, log=lambda line: None)
replicator.update({entry_for(specs)!r})
replicator.run_cycle()
print("done", flush=True)
"""
    stub.after_store = lambda header: time.sleep(0.05)  # time to kill it mid-cycle
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(stub.received) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    killed_at = len(stub.received)
    assert killed_at < len(image) // blocks.LEGACY_BATCH_DATA, "killed mid-cycle"
    stub.after_store = None
    again = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert again.stdout.strip() == "done", again.stderr
    assert min(header["sequence"] for header in stub.received[killed_at:]) > 1, "resumed, not started over"
    sequences = stub.sequences("disk0")
    assert sequences == list(range(1, sequences[-1] + 1))
    replica, marker = stub.replica("disk0")
    assert replica == image and marker["digest"] == blocks.content_digest_of(bytes(image))


# Synthetic disks


def test_synthetic_content_is_deterministic_and_changes_with_time():
    disk = disks.SyntheticDisk(10 * 1024**3, "machine/disk0", 8 * MiB, write_bytes_per_second=64 * 1024)
    again = disks.SyntheticDisk(10 * 1024**3, "machine/disk0", 8 * MiB, write_bytes_per_second=64 * 1024)
    assert disk.extents() == again.extents()
    start, end = disk.extents()[0]
    now = 1_700_000_000.0
    first = disk.snapshot(now).read(start, end - start)
    assert first == again.snapshot(now).read(start, end - start), "the same after a restart"
    later = disk.snapshot(now + 600).read(start, end - start)
    changed = sum(
        first[offset : offset + BLOCK_SIZE] != later[offset : offset + BLOCK_SIZE]
        for offset in range(0, len(first), BLOCK_SIZE)
    )
    # 64 KiB/s for 600 s rewrites about 38 MiB spread over the used 8 MiB's hot fifth: most hot blocks.
    assert 0 < changed < (end - start) // BLOCK_SIZE
    zero = sum(first[offset : offset + BLOCK_SIZE] == bytes(BLOCK_SIZE) for offset in range(0, len(first), BLOCK_SIZE))
    assert 0 < zero < len(first) // BLOCK_SIZE, "some free space among the data"
    assert sum(end - start for start, end in disk.extents()) == 8 * MiB
    spread = disks.SyntheticDisk(10 * 1024**3, "machine/disk0", 64 * MiB, 0).extents()
    assert len(spread) == 4 and spread[-1][1] > 5 * 1024**3, "used space spread over the disk"
    assert disks.SyntheticDisk(10 * 1024**3, "machine/disk1", 64 * MiB, 0).extents() != spread


def test_a_2_tb_synthetic_disk_cycle_moves_only_its_used_bytes(stub, tmp_path):
    size = 2 * 1024**4
    specs = [{"diskId": "disk1", "sizeBytes": size, "synthetic": {"seed": "db/disk1", "usedBytes": 24 * MiB}}]
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.update(entry_for(specs))
    started = time.monotonic()
    replicator.run_cycle()
    assert time.monotonic() - started < 30
    sent = sum(
        len(data) for (_, _), (_, records) in stub.batches.items() for _, data in blocks.iter_records(records) if data
    )
    assert 0 < sent <= 24 * MiB
    marker = next(header["marker"] for header in stub.received if header["marker"])
    assert marker["sizeBytes"] == size
    table_files = list((tmp_path / "state").glob("*.hashes-1.bin"))
    assert table_files and table_files[0].stat().st_size < MiB, "the table is as sparse as the disk"
    # The marker's digest is that of the synthetic content at the cycle's moment.
    at = replicator.state.values["lastCycleStartedAt"]
    disk = disks.open_source(specs[0], "machine-1")
    digest = blocks.ContentDigest()
    for start, end in disk.extents():
        data = disk.snapshot(at).read(start, end - start)
        digest.add(start // BLOCK_SIZE, blocks.hash_blocks(data, len(data)))
    assert digest.hexdigest(size) == marker["digest"]


def test_a_disk_with_neither_path_nor_synthetic_gets_defaults():
    source = disks.open_source({"diskId": "disk0", "sizeBytes": 100 * 1024**3}, "machine-9")
    assert sum(end - start for start, end in source.extents()) == 64 * MiB
    small = disks.open_source({"diskId": "disk0", "sizeBytes": 1024**3}, "machine-9")
    assert sum(end - start for start, end in small.extents()) == 1024**3 // 100 // BLOCK_SIZE * BLOCK_SIZE
