"""Applying stored batches to the replica disks: the heart of the hub's data path
(docs/replication-protocol.md).

`replica_apply` applies an item's stored batches in sequence order, one worker at a time (the apply
lease, replication/apply_lease.py). A full cycle (initial replication, resync) builds a fresh replica
beside the old one; a delta cycle is applied only once every disk's marker for it is stored, so the
replicas move from one recovery point to the next together. At each marker the replica's content digest
is checked against the agent's: a difference means the replica diverged, and the disk is resent in full.

Applying is idempotent: a batch writes the same bytes at the same offsets however often it runs, and
a disk's applied sequence only moves forward after the writes are on disk.

The rest of the data path, by module:
  apply_records.py    a batch's records written into a replica; a full cycle's running digest
  replica_files.py    where batches and replicas live; the content digest
  uploads.py          what the appliance is told to replicate; storing its uploaded batches
  apply_lease.py      one applying worker per item
  recovery_points.py  recording a point once every disk holds the same verified cycle
  point_manifests.py  points as manifests of content-addressed chunks; rebuilding a working copy
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import zstandard
from django.db.models import F, Max, Min, Q

from hub import clock
from hub.arm.errors import ArmError
from hub.object_store import ObjectMissing, store
from replication.apply_lease import (
    RENEW_EVERY,
    LeaseLost,
    lease_drop,
    lease_release,
    lease_renew,
    lease_take,
    lease_wait_for_work,
)
from replication.apply_records import CycleDigest, RecordsBuffer, check_records, cycle_digest
from replication.apply_records import cycle_digests as _cycle_digests  # one worker's memory: tests clear it
from replication.apply_records import write_records as _write_records  # a name tests patch
from replication.chunk_cutting import ChunkCutter
from replication.models import MigrationItem, ProtectedDisk, ReplicationBatch
from replication.point_manifests import CHUNK_BYTES, merge_dirty
from replication.recovery_points import recovery_point_record, working_copy_rebuild
from replication.replica_files import (
    BLOCK_SIZE,
    building_path,
    file_content_digest,
    local_sequence,
    local_sequence_note,
    replica_path,
)
from replication.uploads import batch_open, parse_upload

logger = logging.getLogger(__name__)

# Replicas are fsynced and their applied sequence committed at least this often (and at markers).
SYNC_EVERY_BYTES = 64 * 1024 * 1024


def replica_apply(item_id, owner: str, *, linger_seconds: float = 0.0) -> None:
    """Apply what can be applied of an item's stored batches. One worker at a time per item (a lease);
    a task that finds the lease taken leaves the work to the holder. While a cycle is still arriving the
    holder waits up to linger_seconds for the next batch (uploads flag it rather than queue a task per
    batch), so a cycle costs one task rather than one per batch."""
    if not lease_take(item_id, owner):
        return
    applier = _Applier(item_id, owner)
    try:
        while True:
            if applier.apply_pass() and (applier.pass_again or not (linger_seconds and applier.cycle_open)):
                continue
            # A lingering holder goes straight to its wait after a pass: an upload stored during the pass
            # flagged the lease, so the wait returns at once (no pass run only to find nothing).
            if applier.cycle_open and linger_seconds and lease_wait_for_work(item_id, owner, linger_seconds):
                continue
            if lease_release(item_id, owner):
                return
    except LeaseLost:
        logger.warning("Item %s: the apply lease lapsed and another worker took it; stopping", item_id)
        # This host's copies may hold writes past their notes: whoever applies here next rebuilds them.
        for disk in ProtectedDisk.objects.filter(item_id=item_id):
            local_sequence_note(disk, -1)
    except BaseException:
        lease_drop(item_id, owner)
        raise


class _Applier:
    """One task's applying of an item: its lease renewals and whether a cycle is still arriving."""

    def __init__(self, item_id, owner: str):
        self.item_id, self.owner = item_id, owner
        self.renewed_at = time.monotonic()
        self.cycle_open = False  # the last batch applied was not a marker: more of its cycle is coming
        self.passes = 0
        self.pass_again = False  # the last pass rebuilt a stale copy: what it deferred needs a pass now
        self.item: MigrationItem | None = None
        self.records_buffer = RecordsBuffer()  # this task's batches are decompressed into it, one at a time

    def renew(self) -> None:
        if time.monotonic() - self.renewed_at >= RENEW_EVERY.total_seconds():
            self.fence()

    def fence(self) -> None:
        """Renew now, and stop (LeaseLost) unless the lease is still ours: before anything is committed."""
        if not lease_renew(self.item_id, self.owner):
            raise LeaseLost(self.item_id)
        self.renewed_at = time.monotonic()

    def working_copy_current(self, item: MigrationItem, disk: ProtectedDisk) -> bool:
        """True when this host's working copy holds the disk's applied sequence. Otherwise (another host
        applied since, or the copy is missing) rebuild it from the latest point's manifests, which moves
        the applied sequence back to that point's marker, and return False."""
        if local_sequence(disk) == disk.applied_sequence:
            return True
        _cycle_digests.pop(disk.pk, None)
        self.fence()
        working_copy_rebuild(item, disk, self.renew)
        disk.refresh_from_db()
        return False

    def apply_pass(self) -> bool:
        """One pass over the item's disks; True when anything was applied."""
        if self.item is None:
            self.item = MigrationItem.objects.filter(pk=self.item_id).select_related("project").first()
        item = self.item  # only its project and policy are used, which do not change
        if item is None:
            return False
        self.pass_again = False
        # A cycle's markers may be applied only once every disk has stored its marker for that cycle.
        disks = list(
            item.disks.filter(included=True).annotate(
                stored_marker_cycle=Max(
                    "batches__cycle",
                    filter=Q(batches__marker__isnull=False, batches__sequence__lte=F("stored_sequence")),
                )
            )
        )
        if not disks:
            return False
        complete_cycle = min(disk.stored_marker_cycle or 0 for disk in disks)
        outcomes = [
            self._apply_disk(item, disk, complete_cycle)
            if disk.stored_sequence > disk.applied_sequence
            else _DiskOutcome()
            for disk in disks
        ]
        applied = [outcome for outcome in outcomes if outcome.applied]
        if applied:
            self.cycle_open = any(not outcome.ended_on_marker for outcome in applied)
        self.passes += 1
        # A point can only be due after a marker (or after a crash between a marker and its point).
        if any(outcome.markers for outcome in applied) or self.passes == 1:
            # The point is written from this host's working copies: a disk this pass did not apply may
            # have been applied last on another host (which died before recording the point), so a stale
            # copy is rebuilt first, and the point is recorded once what followed is applied again.
            if [disk for disk in disks if not self.working_copy_current(item, disk)]:
                self.pass_again = True
                return True  # every stale copy rebuilt, not only the first
            recovery_point_record(item, self.renew)
        progressed = bool(applied)
        return progressed

    def _apply_disk(self, item: MigrationItem, disk: ProtectedDisk, complete_cycle: int) -> _DiskOutcome:
        self.working_copy_current(item, disk)  # a rebuilt copy moves the applied sequence back
        outcome = _DiskOutcome()
        handles: dict[Path, int] = {}
        written = 0
        last_applied = disk.applied_sequence
        dirty: set[int] = set()  # chunks of the replica written (not the building copy): the next point's
        try:
            for batch in _pending_batches(disk):
                if not batch.full and batch.cycle > complete_cycle:
                    break  # a delta cycle waits until every disk's marker for it is stored
                if batch.marker and batch.cycle > complete_cycle:
                    break
                target = building_path(disk) if batch.full else replica_path(disk)
                digest = cycle_digest(disk.pk, batch.cycle, batch.sequence) if batch.full else None
                if digest is None and batch.full and batch.sequence == _first_sequence_of_cycle(disk, batch.cycle):
                    _start_building(disk, target, handles)
                    digest = CycleDigest.start(disk.pk, batch.cycle, batch.sequence)
                    digest.cutter = ChunkCutter(item, disk.pk, batch.cycle, disk.size_bytes)
                opened = _open_batch(item, disk, batch, self.records_buffer)
                if opened is None:
                    # Skipped: the disk is being resent in full, which replaces whatever this batch held.
                    _cycle_digests.pop(disk.pk, None)
                    last_applied = batch.sequence
                    outcome.add(batch)
                    continue
                descriptor = handles.get(target)
                if descriptor is None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    descriptor = handles[target] = os.open(target, os.O_RDWR | os.O_CREAT, 0o600)
                    if os.fstat(descriptor).st_size < disk.size_bytes:
                        os.ftruncate(descriptor, disk.size_bytes)
                # A full cycle's point needs no list of what it wrote (its cutter has the blocks' hashes).
                records, indexes = opened
                written += _write_records(
                    descriptor, records, disk.size_bytes, digest, None if batch.full else dirty, indexes=indexes
                )
                if digest is not None and _cycle_digests.get(disk.pk) is digest:
                    # The cycle is written in ascending order: chunks it has moved past are final.
                    final_below = None if batch.marker else digest.next_block * BLOCK_SIZE // CHUNK_BYTES
                    digest.cutter.cut(descriptor, final_below)
                last_applied = batch.sequence
                outcome.add(batch)
                if batch.marker:
                    _commit_applied(disk, last_applied, handles, dirty, self.fence)
                    written = 0
                    _finish_cycle(item, disk, batch)
                    disk.refresh_from_db()
                elif written >= SYNC_EVERY_BYTES:
                    _commit_applied(disk, last_applied, handles, dirty, self.fence)
                    written = 0
                self.renew()
            _commit_applied(disk, last_applied, handles, dirty, self.fence)
        finally:
            for descriptor in handles.values():
                os.close(descriptor)
        return outcome


class _DiskOutcome:
    """What one pass applied to a disk: anything, how many markers, and whether it ended on one."""

    def __init__(self):
        self.applied, self.markers, self.ended_on_marker = False, 0, False

    def add(self, batch: ReplicationBatch) -> None:
        self.applied, self.ended_on_marker = True, bool(batch.marker)
        self.markers += bool(batch.marker)


BATCHES_PER_QUERY = 64


def _pending_batches(disk: ProtectedDisk):
    """The disk's stored batches past its applied sequence, in order, BATCHES_PER_QUERY rows per plain
    query: a server-side cursor (QuerySet.iterator) took three round trips for the one batch a lingering
    holder usually finds."""
    after = disk.applied_sequence
    while True:
        rows = list(
            ReplicationBatch.objects.filter(disk=disk, sequence__gt=after, sequence__lte=disk.stored_sequence).order_by(
                "sequence"
            )[:BATCHES_PER_QUERY]
        )
        yield from rows
        if len(rows) < BATCHES_PER_QUERY:
            return
        after = rows[-1].sequence


def _first_sequence_of_cycle(disk: ProtectedDisk, cycle: int) -> int:
    return ReplicationBatch.objects.filter(disk=disk, cycle=cycle).aggregate(first=Min("sequence"))["first"]


def _start_building(disk: ProtectedDisk, target: Path, handles: dict) -> None:
    """A full cycle starts from an empty disk: what it does not send is zero."""
    if target in handles:
        os.close(handles.pop(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(descriptor, disk.size_bytes)
    handles[target] = descriptor


def _open_batch(
    item: MigrationItem, disk: ProtectedDisk, batch: ReplicationBatch, buffer: RecordsBuffer
) -> tuple[bytearray | bytes, list[int] | None] | None:
    """The batch's records, decrypted and decompressed (into `buffer`: valid until its next batch), with
    check_records' parse of them; None (and the disk marked for resync) when the stored blob is lost or
    unreadable, since its data can only come from the source again."""
    try:
        body = store().get(batch.blob_name)
        header, start = parse_upload(body)
        compressed = batch_open(item.project, header, memoryview(body)[start:])
        records = buffer.decompress(compressed)
        return records, check_records(records, disk.size_bytes)
    except (ObjectMissing, OSError, ArmError, ValueError, zstandard.ZstdError) as error:
        logger.warning(
            "Batch %s of disk %s is unreadable (%s): resynchronizing the disk", batch.sequence, disk.pk, error
        )
        _require_resync(disk, f"A stored replication batch could not be read ({error.__class__.__name__}).")
        return None


def _commit_applied(disk: ProtectedDisk, sequence: int, handles: dict, dirty: set, fence) -> None:
    if sequence <= disk.applied_sequence:
        return
    fence()  # a worker whose lease another took commits nothing: its host's note stays behind, so stale
    for descriptor in handles.values():
        os.fdatasync(descriptor)
    now = clock.now()
    dirty_chunks = merge_dirty(disk.dirty_chunks, dirty)
    # The note first: a crash before the row's update leaves them differing, and the copy is rebuilt.
    local_sequence_note(disk, sequence)
    ProtectedDisk.objects.filter(pk=disk.pk, applied_sequence__lt=sequence).update(
        applied_sequence=sequence, dirty_chunks=dirty_chunks
    )
    ReplicationBatch.objects.filter(disk=disk, sequence__lte=sequence, applied_at__isnull=True).update(applied_at=now)
    disk.applied_sequence, disk.dirty_chunks = sequence, dirty_chunks
    dirty.clear()


def _finish_cycle(item: MigrationItem, disk: ProtectedDisk, batch: ReplicationBatch) -> None:
    """The disk's marker: a full cycle's replica replaces the old one; then the replica is checked."""
    if batch.full:
        building = building_path(disk)
        if building.exists():
            os.replace(building, replica_path(disk))
    running = _cycle_digests.pop(disk.pk, None) if batch.full else None
    if running is not None and running.cycle == batch.cycle and running.next_sequence == batch.sequence + 1:
        digest = running.hexdigest(disk.size_bytes)
    else:
        digest, running = file_content_digest(replica_path(disk), disk.size_bytes), None
    expected = batch.marker["digest"]
    if running is not None and running.cutter is not None and digest == expected:
        running.cutter.done()  # its point's manifest names the chunks cut as the cycle was applied
    update = {"applied_cycle": batch.cycle, "replica_digest": digest}
    if digest != expected:
        logger.warning("Replica of disk %s diverged at cycle %s: resynchronizing", disk.pk, batch.cycle)
        _require_resync(disk, f"The replica's data differed from the source's after cycle {batch.cycle}.")
    elif batch.full:
        update.update(resync_required=False, resync_reason="")
    if batch.full:
        update["dirty_chunks"] = None  # a new replica: the next point reads all of it
    ProtectedDisk.objects.filter(pk=disk.pk, applied_cycle__lt=batch.cycle).update(**update)


def _require_resync(disk: ProtectedDisk, reason: str) -> None:
    ProtectedDisk.objects.filter(pk=disk.pk).update(
        resync_required=True, resync_reason=reason[:300], resync_generation=F("resync_generation") + 1
    )
