"""The hub's data path without re-reading: a full cycle's content digest is computed while its batches
are applied (and read from the replica whenever that running digest cannot be trusted); uploads flag a
live apply lease instead of queueing a task per batch; a VM disk is built reading its replica once."""

from __future__ import annotations

import hashlib
import os

import pytest

from jobs.models import OutboxMessage
from replication import apply_lease, data_path, replica_files, uploads
from replication.models import RecoveryPoint
from replication.tests import encoder
from replication.tests.encoder import BLOCK, MIB, ProcessServer, apply, image, marker, records, replica_bytes, send_full
from replication.uploads import APPLY_REPLICATION_TASK

pytestmark = pytest.mark.django_db


def replica_reads(monkeypatch) -> list:
    """Record every time the apply reads a replica back for its digest."""
    reads = []
    reading = data_path.file_content_digest

    def counted(path, size):
        reads.append(path)
        return reading(path, size)

    monkeypatch.setattr(data_path, "file_content_digest", counted)
    return reads


def test_a_full_cycle_applied_in_order_is_verified_without_reading_the_replica_again(replicating, monkeypatch):
    item = replicating
    reads = replica_reads(monkeypatch)
    source = image(21, MIB)
    send_full(ProcessServer(item.project), item, "disk0", source, cycle=1, first_sequence=1, batch_blocks=16)
    apply(item)
    assert reads == []
    assert replica_bytes(item, "disk0") == bytes(source)
    assert RecoveryPoint.objects.filter(item=item, cycle=1).exists()
    assert not item.disks.get(disk_id="disk0").resync_required


def test_a_applied_by_two_workers_reads_the_replica_for_its_digest(replicating, monkeypatch):
    item = replicating
    reads = replica_reads(monkeypatch)
    source = image(22, MIB)
    encoder.applied_by_two_workers(item, source)
    assert len(reads) == 1
    assert RecoveryPoint.objects.filter(item=item, cycle=1).exists()
    assert replica_bytes(item, "disk0") == bytes(source)


def test_blocks_sent_out_of_order_or_twice_read_the_replica_for_its_digest(replicating, monkeypatch):
    item = replicating
    reads = replica_reads(monkeypatch)
    ps = ProcessServer(item.project)
    source = image(23, MIB)
    first = records(bytes(source), [10, 11, 12])
    again = records(bytes(source), [3, 11]) + records(bytes(source), range(13, MIB // BLOCK))
    uploads.batch_store(item.appliance, ps.body(item, "disk0", 1, 1, first, full=True))
    uploads.batch_store(item.appliance, ps.body(item, "disk0", 2, 1, again, full=True))
    head = records(bytes(source), range(10))
    uploads.batch_store(item.appliance, ps.body(item, "disk0", 3, 1, head, full=True, marker=marker(1, bytes(source))))
    apply(item)
    assert len(reads) == 1
    assert replica_bytes(item, "disk0") == bytes(source)
    assert RecoveryPoint.objects.filter(item=item, cycle=1).exists()


def test_a_full_cycle_whose_data_differs_from_its_marker_is_resent(replicating, monkeypatch):
    item = replicating
    reads = replica_reads(monkeypatch)
    source = image(24, MIB)
    sent = bytearray(source)
    sent[40 * BLOCK : 41 * BLOCK] = os.urandom(BLOCK)  # changed in flight, after the agent's digest
    ps = ProcessServer(item.project)
    indexes = [index for index in range(MIB // BLOCK) if any(sent[index * BLOCK : (index + 1) * BLOCK])]
    body = ps.body(item, "disk0", 1, 1, records(bytes(sent), indexes), full=True, marker=marker(1, bytes(source)))
    uploads.batch_store(item.appliance, body)
    apply(item)
    assert reads == []
    disk = item.disks.get(disk_id="disk0")
    assert disk.resync_required
    assert not RecoveryPoint.objects.filter(item=item, cycle=1).exists()


def test_a_short_record_is_digested_as_the_block_the_replica_holds(replicating, monkeypatch):
    item = replicating
    reads = replica_reads(monkeypatch)
    source = bytearray(MIB)
    source[5 * BLOCK : 5 * BLOCK + 100] = b"z" * 100  # the rest of block 5 stays zero
    payload = records(bytes(source), [5])
    short = payload[:8] + (100).to_bytes(4, "little") + payload[12 : 12 + 100]
    body = ProcessServer(item.project).body(item, "disk0", 1, 1, short, full=True, marker=marker(1, bytes(source)))
    uploads.batch_store(item.appliance, body)
    apply(item)
    assert reads == []
    assert not item.disks.get(disk_id="disk0").resync_required
    assert replica_bytes(item, "disk0") == bytes(source)


def apply_messages() -> int:
    return OutboxMessage.objects.filter(task_name=APPLY_REPLICATION_TASK).count()


def test_an_upload_flags_a_live_apply_lease_instead_of_queueing_a_task(replicating):
    item = replicating
    ps = ProcessServer(item.project)
    source = image(25, MIB)
    assert apply_lease.lease_take(item.pk, "worker-a")
    before = apply_messages()
    uploads.batch_store(item.appliance, ps.body(item, "disk0", 1, 1, records(bytes(source), [1]), full=True))
    assert apply_messages() == before, "the holder is told, not a new task"
    item.refresh_from_db()
    assert item.apply_pending
    # The lingering holder sees the flag (and clears it), applies, and cannot let go while flagged.
    assert apply_lease.lease_wait_for_work(item.pk, "worker-a", seconds=0.5)
    item.refresh_from_db()
    assert not item.apply_pending
    assert not apply_lease.lease_wait_for_work(item.pk, "worker-a", seconds=0.05)
    assert apply_lease.lease_release(item.pk, "worker-a")
    uploads.batch_store(item.appliance, ps.body(item, "disk0", 2, 1, records(bytes(source), [2]), full=True))
    assert apply_messages() == before + 1, "nobody holds the lease: an apply task is queued"


def test_a_cycle_still_arriving_keeps_one_apply_task_until_its_marker(replicating, monkeypatch):
    item = replicating
    ps = ProcessServer(item.project)
    source = image(26, MIB)
    indexes = [index for index in range(MIB // BLOCK) if any(source[index * BLOCK : (index + 1) * BLOCK])]
    uploads.batch_store(item.appliance, ps.body(item, "disk0", 1, 1, records(bytes(source), indexes[:8]), full=True))
    rest = ps.body(item, "disk0", 2, 1, records(bytes(source), indexes[8:]), full=True, marker=marker(1, bytes(source)))
    waits = []

    def next_batch_arrives(item_id, owner, seconds):
        waits.append(seconds)
        if len(waits) == 1:
            uploads.batch_store(item.appliance, rest)  # flags the holder
            return apply_lease.lease_wait_for_work(item_id, owner, seconds)
        return False

    monkeypatch.setattr(data_path, "lease_wait_for_work", next_batch_arrives)
    data_path.replica_apply(item.pk, owner="worker-a", linger_seconds=1.0)
    assert waits == [1.0], "it waited once, while the cycle was open; not after its marker"
    assert RecoveryPoint.objects.filter(item=item, cycle=1).exists()
    assert replica_bytes(item, "disk0") == bytes(source)
    item.refresh_from_db()
    assert item.apply_lease_owner == ""


def test_a_vm_disk_is_copied_and_hashed_in_one_read_of_the_replica(tmp_path):
    source = tmp_path / "replica.img"
    size = 8 * MIB + 1000  # not a whole number of blocks
    with open(source, "wb") as handle:
        handle.truncate(size)
        for offset, data in ((0, b"a" * 5000), (3 * MIB + 17, os.urandom(70_000)), (size - 10, b"end")):
            handle.seek(offset)
            handle.write(data)
    target = tmp_path / "disk.vhd"
    sha256, digest = replica_files.sparse_copy_with_digests(source, target, size, sha256=True)
    assert target.read_bytes() == source.read_bytes()
    assert sha256 == hashlib.sha256(source.read_bytes()).hexdigest() == replica_files.file_sha256(target)
    assert digest == replica_files.file_content_digest(source, size)
    missing, empty = tmp_path / "none.img", tmp_path / "empty.vhd"
    assert replica_files.sparse_copy_with_digests(missing, empty, MIB, sha256=False) == (
        "",
        replica_files.file_content_digest(missing, MIB),
    )
    assert empty.stat().st_size == MIB
