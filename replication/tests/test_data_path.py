"""The hub's half of the data path, fed by an in-test process server that encodes batches exactly as
docs/replication-protocol.md says (replication/tests/encoder.py): store durably, apply in order,
idempotently, check digests, record recovery points, resynchronize a diverged disk."""

from __future__ import annotations

import hashlib
import json
import os
import random

import pytest
from django.conf import settings
from django.db.models import Sum
from django.test import Client

from hub import clock
from hub.arm.errors import ArmError
from hub.ids import sha256_hex
from hub.object_store import store
from replication import data_path, replica_files, uploads
from replication.models import (
    Appliance,
    MigrationItem,
    MigrationState,
    RecoveryPoint,
    ReplicationBatch,
    TransferSample,
)
from replication.status import item_status
from replication.tests.encoder import (
    BLOCK,
    MIB,
    ProcessServer,
    apply,
    first_cycle_applied,
    image,
    marker,
    records,
    replica_bytes,
    send_full,
)

pytestmark = pytest.mark.django_db


def test_initial_then_delta_cycles_make_the_replica_equal_the_source(replicating):
    item = replicating
    ps, source, next_sequence = first_cycle_applied(item, seed=1)
    assert hashlib.sha256(replica_bytes(item, "disk0")).digest() == hashlib.sha256(source).digest()
    item.refresh_from_db()
    assert item.migration_state == MigrationState.REPLICATING
    assert RecoveryPoint.objects.filter(item=item, cycle=1).exists()
    assert item.replication_started_at is not None  # settings are locked from the first batch

    changed = sorted(random.Random(2).sample(range(MIB // BLOCK), 8))
    for index in changed:
        source[index * BLOCK : (index + 1) * BLOCK] = os.urandom(BLOCK)
    source[0:BLOCK] = bytes(BLOCK)  # a block that became zero travels as a zero record
    changed = sorted({0, *changed})
    body = ps.body(
        item, "disk0", next_sequence, 2, records(bytes(source), changed), full=False, marker=marker(2, bytes(source))
    )
    uploads.batch_store(item.appliance, body)
    apply(item)
    assert replica_bytes(item, "disk0") == bytes(source)
    assert RecoveryPoint.objects.filter(item=item, cycle=2).exists()
    assert not ReplicationBatch.objects.filter(disk__item=item).exists()  # the cache lets applied batches go


def test_batches_apply_in_sequence_order_and_duplicates_are_acknowledged(replicating):
    item = replicating
    ps = ProcessServer(item.project)
    source = image(3, MIB)
    indexes = [index for index in range(MIB // BLOCK) if any(source[index * BLOCK : (index + 1) * BLOCK])]
    first, second = indexes[: len(indexes) // 2], indexes[len(indexes) // 2 :]
    late = ps.body(item, "disk0", 2, 1, records(bytes(source), second), full=True, marker=marker(1, bytes(source)))
    uploads.batch_store(item.appliance, late)
    apply(item)
    disk = item.disks.get(disk_id="disk0")
    assert (disk.stored_sequence, disk.applied_sequence) == (0, 0)  # waits for sequence 1
    early = ps.body(item, "disk0", 1, 1, records(bytes(source), first), full=True, scanned=MIB // 2)
    batch, duplicate = uploads.batch_store(item.appliance, early)
    assert not duplicate
    _, duplicate = uploads.batch_store(item.appliance, early)
    assert duplicate
    apply(item)
    apply(item)  # a redelivered task finds nothing left and changes nothing
    disk.refresh_from_db()
    assert (disk.stored_sequence, disk.applied_sequence, disk.applied_cycle) == (2, 2, 1)
    assert replica_bytes(item, "disk0") == bytes(source)


def test_reapplying_a_batch_after_a_lost_commit_is_idempotent(replicating, monkeypatch):
    item = replicating
    ps, source, next_sequence = first_cycle_applied(item, seed=4)
    source[5 * BLOCK : 6 * BLOCK] = b"x" * BLOCK
    source[9 * BLOCK : 10 * BLOCK] = b"y" * BLOCK
    body = ps.body(item, "disk0", next_sequence, 2, records(bytes(source), [5, 9]), full=False)
    uploads.batch_store(item.appliance, body)
    closing = ps.body(item, "disk0", next_sequence + 1, 2, b"", full=False, marker=marker(2, bytes(source)))
    uploads.batch_store(item.appliance, closing)

    def killed(*args, **kwargs):
        raise SystemExit("the worker died after writing, before committing")

    committing = data_path._commit_applied
    monkeypatch.setattr(data_path, "_commit_applied", killed)
    with pytest.raises(SystemExit):
        apply(item)
    disk = item.disks.get(disk_id="disk0")
    assert disk.applied_sequence == next_sequence - 1  # nothing was recorded as applied
    monkeypatch.setattr(data_path, "_commit_applied", committing)
    apply(item)  # the redelivered task writes the same bytes again
    assert replica_bytes(item, "disk0") == bytes(source)
    assert RecoveryPoint.objects.filter(item=item, cycle=2).exists()


def test_a_diverged_replica_is_detected_and_resynchronized(replicating):
    item = replicating
    ps, source, next_sequence = first_cycle_applied(item, seed=5)
    disk = item.disks.get(disk_id="disk0")
    with open(replica_files.replica_path(disk), "r+b") as replica:  # someone damages the replica
        replica.seek(7 * BLOCK)
        replica.write(b"\xff" * BLOCK)
    empty_delta = ps.body(item, "disk0", next_sequence, 2, b"", full=False, marker=marker(2, bytes(source)))
    uploads.batch_store(item.appliance, empty_delta)
    apply(item)
    disk.refresh_from_db()
    assert disk.resync_required and disk.resync_generation == 1
    assert not RecoveryPoint.objects.filter(item=item, cycle=2).exists()
    (instruction,) = uploads.replication_instructions(item.appliance)
    assert instruction["disks"][0]["resyncGeneration"] == 1
    send_full(ps, item, "disk0", source, cycle=3, first_sequence=next_sequence + 1)
    apply(item)
    disk.refresh_from_db()
    assert not disk.resync_required
    assert replica_bytes(item, "disk0") == bytes(source)
    assert RecoveryPoint.objects.filter(item=item, cycle=3).exists()


def test_uploads_that_do_not_belong_are_refused(replicating):
    item = replicating
    ps = ProcessServer(item.project)
    with pytest.raises(ArmError) as refused:
        uploads.batch_store(item.appliance, b"not a batch")
    assert refused.value.status == 400
    with pytest.raises(ArmError) as refused:
        uploads.batch_store(item.appliance, ps.body(item, "disk1", 1, 1, b"", full=True))  # excluded disk
    assert refused.value.code == "DiskNotProtected"
    other = Appliance.objects.create(project=item.project, name="other", credential_hash="x" * 64)
    with pytest.raises(ArmError) as refused:
        uploads.batch_store(other, ps.body(item, "disk0", 1, 1, b"", full=True))
    assert refused.value.status == 404


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"sequence": 2**63}, "sequence"),
        ({"cycle": 2**31}, "cycle"),
        ({"dataBytes": 10**30}, "dataBytes"),
        ({"blockCount": "abc"}, "blockCount"),
        ({"scannedBytes": -1}, "scannedBytes"),
        ({"sequence": True}, "sequence"),
    ],
)
def test_header_numbers_out_of_range_are_refused_with_400(replicating, change, named):
    item = replicating
    body = ProcessServer(item.project).body(item, "disk0", 1, 1, b"", full=True)
    length = int.from_bytes(body[4:8], "little")
    header = json.dumps({**json.loads(body[8 : 8 + length]), **change}).encode()
    with pytest.raises(ArmError) as refused:
        uploads.batch_store(item.appliance, b"MHE1" + len(header).to_bytes(4, "little") + header + body[8 + length :])
    assert (refused.value.status, refused.value.code) == (400, "InvalidBatch")
    assert named in refused.value.message


def test_a_header_nested_thousands_deep_is_refused_with_400(replicating):
    header = b"[" * 60_000 + b"]" * 5_536  # within the 64 KiB header limit; Python's parser gives up first
    with pytest.raises(ArmError) as refused:
        uploads.batch_store(replicating.appliance, b"MHE1" + len(header).to_bytes(4, "little") + header)
    assert refused.value.status == 400


def test_a_tampered_batch_is_refused_at_upload_and_nothing_is_stored(replicating):
    item = replicating
    ps = ProcessServer(item.project)
    source = image(6, MIB)
    body = bytearray(ps.body(item, "disk0", 1, 1, records(bytes(source), [1, 2]), full=True, scanned=3 * BLOCK))
    body[-5] ^= 0xFF
    with pytest.raises(ArmError) as refused:
        uploads.batch_store(item.appliance, bytes(body))
    assert (refused.value.status, refused.value.code) == (400, "BatchIntegrityCheckFailed")
    disk = item.disks.get(disk_id="disk0")
    assert (disk.stored_sequence, disk.transferred_bytes, disk.scanned_bytes) == (0, 0, 0)
    assert not ReplicationBatch.objects.filter(disk=disk).exists()
    assert not list((settings.REPLICATION_DIR / "storage").glob("**/*.batch*")), "no blob was written"
    # The process server encrypts it again and resends it: stored.
    assert uploads.batch_store(item.appliance, ps.body(item, "disk0", 1, 1, b"", full=True)) == (1, False)


def test_a_batch_damaged_in_the_cache_after_it_was_stored_is_not_applied_and_the_disk_is_resent(replicating):
    item = replicating
    ps = ProcessServer(item.project)
    source = image(6, MIB)
    uploads.batch_store(item.appliance, ps.body(item, "disk0", 1, 1, records(bytes(source), [1, 2]), full=True))
    (batch,) = ReplicationBatch.objects.filter(disk__item=item)
    damaged = bytearray(store().get(batch.blob_name))
    damaged[-5] ^= 0xFF
    store().put(batch.blob_name, bytes(damaged))
    apply(item)
    disk = item.disks.get(disk_id="disk0")
    assert disk.resync_required and disk.applied_sequence == 1


def upload_over_http(item, body: bytes):
    """The appliance API's batch upload, as the process server calls it."""
    credential = "test-appliance-credential"
    Appliance.objects.filter(pk=item.appliance_id).update(credential_hash=sha256_hex(credential))
    return Client().post(
        f"/appliance-api/v1/appliances/{item.appliance_id}/replication/batches",
        body,
        content_type="application/octet-stream",
        HTTP_AUTHORIZATION=f"Appliance {credential}",
    )


def test_over_http_a_tampered_batch_gets_a_400_envelope_and_a_replay_after_pruning_a_duplicate(replicating):
    item = replicating
    ps, source, next_sequence = first_cycle_applied(item, seed=7)
    tampered = bytearray(ps.body(item, "disk0", next_sequence, 2, records(bytes(source), [3]), full=False))
    tampered[-1] ^= 0x01
    refused = upload_over_http(item, bytes(tampered))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "BatchIntegrityCheckFailed"
    assert "resend" in refused.json()["error"]["message"]

    replayed = upload_over_http(item, ps.body(item, "disk0", 1, 1, records(bytes(source), [3]), full=True))
    assert (replayed.status_code, replayed.json()) == (200, {"stored": True, "sequence": 1, "duplicate": True})


def test_a_batch_replayed_after_it_was_applied_and_pruned_is_a_duplicate_counted_once(replicating):
    item = replicating
    ps, source, next_sequence = first_cycle_applied(item, seed=8)
    disk = item.disks.get(disk_id="disk0")
    assert not ReplicationBatch.objects.filter(disk=disk).exists(), "cycle 1 was applied and pruned"
    counted = (disk.stored_sequence, disk.transferred_bytes, disk.changed_bytes, disk.scanned_bytes)
    samples = TransferSample.objects.filter(project=item.project).aggregate(total=Sum("bytes"))["total"]
    for sequence in range(1, next_sequence):  # the whole first cycle again, as a confused process server might
        body = ps.body(item, "disk0", sequence, 1, records(bytes(source), [sequence]), full=True, scanned=BLOCK)
        assert uploads.batch_store(item.appliance, body) == (sequence, True)
    disk.refresh_from_db()
    assert (disk.stored_sequence, disk.transferred_bytes, disk.changed_bytes, disk.scanned_bytes) == counted
    assert TransferSample.objects.filter(project=item.project).aggregate(total=Sum("bytes"))["total"] == samples
    assert not ReplicationBatch.objects.filter(disk=disk).exists(), "nothing was stored again"
    assert not list((settings.REPLICATION_DIR / "storage").glob("**/*.batch*")), "no blob was written"
    apply(item)
    assert replica_bytes(item, "disk0") == bytes(source)


def progress(item) -> tuple[int, int, int, str]:
    """The disk's read bytes, and the item's processed bytes, percent and Status column."""
    item = MigrationItem.objects.get(pk=item.pk)
    disks = list(item.disks.filter(included=True))
    state = item_status(item, clock.now())
    return (
        disks[0].scanned_bytes,
        state.processed_bytes,
        state.initial_progress_percent,
        state.migration_state_description,
    )


def test_progress_never_goes_back_when_the_last_batch_overtakes_the_ones_before(replicating):
    """The agent keeps two uploads in flight, so a cycle's small final batch (the marker) often lands
    before the full one before it. Here the batches of a full cycle land last first, then the rest in
    a shuffled order: the disk's read bytes and the item's progress never decrease."""
    item = replicating
    ps = ProcessServer(item.project)
    source = image(9, MIB)
    indexes = [index for index in range(MIB // BLOCK) if any(source[index * BLOCK : (index + 1) * BLOCK])]
    chunks = [indexes[start : start + 40] for start in range(0, len(indexes), 40)]
    bodies = [
        ps.body(item, "disk0", sequence, 1, records(bytes(source), chunk), full=True, scanned=(chunk[-1] + 1) * BLOCK)
        for sequence, chunk in enumerate(chunks, start=1)
    ]
    closing = len(chunks) + 1
    bodies.append(ps.body(item, "disk0", closing, 1, b"", full=True, marker=marker(1, bytes(source))))
    arrival = [closing - 1, closing - 2, *random.Random(9).sample(range(closing - 2), closing - 2)]
    seen = [progress(item)]
    for position in arrival:
        uploads.batch_store(item.appliance, bodies[position])
        seen.append(progress(item))
    assert seen[1][:3] == (MIB, MIB, 99), "the marker says the whole disk was read"
    for before, after in zip(seen, seen[1:], strict=False):
        assert all(now >= then for now, then in zip(after[:3], before[:3], strict=True)), seen
    assert seen[-1][3] == "Initial replication 99%"
    assert item.disks.get(disk_id="disk0").stored_sequence == closing
    apply(item)
    assert progress(item)[2] == 100
    assert replica_bytes(item, "disk0") == bytes(source)
    # A resync's full cycle reads the disk again from the start: a new cycle, not a step back.
    uploads.batch_store(item.appliance, ps.body(item, "disk0", closing + 1, 2, b"", full=True, scanned=BLOCK))
    disk = item.disks.get(disk_id="disk0")
    assert (disk.scanned_cycle, disk.scanned_bytes) == (2, BLOCK)
