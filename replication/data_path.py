"""The hub's half of the replication data path (docs/replication-protocol.md).

The process server uploads encrypted batches; `batch_store` keeps each one durably in the project's
cache storage account before answering, so the agent is acknowledged only for data that is safe.
`replica_apply` then applies stored batches to the replica disks in sequence order. A full cycle
(initial replication, resync) builds a fresh replica beside the old one; a delta cycle is applied only
once every disk's marker for it is stored, so the replicas move from one recovery point to the next
together. At each marker the replica's content digest is checked against the agent's: a difference
means the replica diverged, and the disk is resent in full.

Applying is idempotent: a batch writes the same bytes at the same offsets however often it runs, and
a disk's applied sequence only moves forward after the writes are on disk.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import struct
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from hub import clock
from hub.arm.errors import ArmError
from hub.ids import parse_uuid
from projects.models import MigrationResource
from replication import keyvault
from replication.models import (
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    RecoveryPoint,
    ReplicationBatch,
    TransferSample,
)

logger = logging.getLogger(__name__)

BLOCK_SIZE = 4096
UPLOAD_MAGIC = b"MHE1"
MAX_HEADER_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 24 * 1024 * 1024
RECORD = struct.Struct("<QI")
ZERO_BLOCK = bytes(BLOCK_SIZE)
# Replicas are fsynced and their applied sequence committed at least this often (and at markers).
SYNC_EVERY_BYTES = 64 * 1024 * 1024
# A worker applying an item's batches holds a lease, renewed as it goes; a dead worker's lease lapses.
APPLY_LEASE = timedelta(seconds=15)
REPLICATING_STATES = (
    MigrationState.INITIAL_SEEDING_IN_PROGRESS,
    MigrationState.REPLICATING,
    MigrationState.MIGRATION_IN_PROGRESS,
)


# Shared definitions (the agent has its own copy in replication/agent/agent/blocks.py)


def block_hash(block) -> bytes:
    return hashlib.sha256(block).digest()[:16]


def file_content_digest(path: Path, size: int) -> str:
    """The protocol's content digest of a replica file, reading only its data extents (a sparse 2 TB
    replica costs its data, not its size). A missing file is an all-zero disk."""
    digest = hashlib.sha256()
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below; the extent walk needs the descriptor)
    except FileNotFoundError:
        digest.update(size.to_bytes(8, "little"))
        return digest.hexdigest()
    with handle:
        descriptor = handle.fileno()
        offset = 0
        end = min(size, os.fstat(descriptor).st_size)
        chunk_bytes = 4 * 1024 * 1024
        while offset < end:
            try:
                data_start = os.lseek(descriptor, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after offset
                break
            data_start -= data_start % BLOCK_SIZE
            try:
                hole_start = os.lseek(descriptor, data_start, os.SEEK_HOLE)
            except OSError:
                hole_start = end
            hole_start = min(end, -(-hole_start // BLOCK_SIZE) * BLOCK_SIZE)
            position = data_start
            while position < hole_start:
                length = min(chunk_bytes, hole_start - position)
                data = os.pread(descriptor, length, position)
                chunk = memoryview(data)
                for start in range(0, len(chunk), BLOCK_SIZE):
                    block = chunk[start : start + BLOCK_SIZE]
                    # A memcmp finds zero blocks far cheaper than hashing them.
                    zero = data.startswith(ZERO_BLOCK, start) if len(block) == BLOCK_SIZE else not any(block)
                    if not zero:
                        digest.update(((position + start) // BLOCK_SIZE).to_bytes(8, "little") + block_hash(block))
                position += length
            offset = max(hole_start, offset + BLOCK_SIZE)
    digest.update(size.to_bytes(8, "little"))
    return digest.hexdigest()


# Where the data lives


def storage_account_name(project) -> str:
    account = project.migration_resources.filter(kind=MigrationResource.Kind.STORAGE_ACCOUNT).first()
    return account.name if account else f"project-{project.pk}"


def blob_path(disk: ProtectedDisk, sequence: int, account: str) -> Path:
    return settings.REPLICATION_DIR / "storage" / account / str(disk.item_id) / str(disk.pk) / f"{sequence:012d}.batch"


def replica_path(disk: ProtectedDisk) -> Path:
    return settings.REPLICATION_DIR / "replicas" / str(disk.item_id) / f"{disk.pk}.img"


def building_path(disk: ProtectedDisk) -> Path:
    """A full cycle's replica under construction; it replaces the replica at the cycle's marker."""
    return replica_path(disk).with_suffix(".building")


# Storing uploads


def parse_upload(body: bytes) -> tuple[dict, int]:
    """The upload's header and where its ciphertext starts; 400 for anything malformed."""
    if len(body) < 8 or body[:4] != UPLOAD_MAGIC:
        raise ArmError(400, "InvalidBatch", "The body is not a replication batch (it must start with MHE1).")
    length = int.from_bytes(body[4:8], "little")
    if length > MAX_HEADER_BYTES or 8 + length > len(body):
        raise ArmError(400, "InvalidBatch", "The batch header length is out of range.")
    try:
        header = json.loads(body[8 : 8 + length])
    except ValueError:
        header = None
    required = {"itemId": str, "diskId": str, "sequence": int, "cycle": int, "wrappedKey": str, "nonce": str}
    if not isinstance(header, dict) or any(
        not isinstance(header.get(name), kind) or isinstance(header.get(name), bool) for name, kind in required.items()
    ):
        raise ArmError(
            400, "InvalidBatch", f"The batch header needs {', '.join(required)} (see docs/replication-protocol.md)."
        )
    if header["sequence"] < 1 or header["cycle"] < 1:
        raise ArmError(400, "InvalidBatch", "Batch sequence and cycle numbers start at 1.")
    marker = header.get("marker")
    if marker is not None and (
        not isinstance(marker, dict)
        or marker.get("cycle") != header["cycle"]
        or not isinstance(marker.get("digest"), str)
    ):
        raise ArmError(400, "InvalidBatch", "A marker must name the batch's cycle and the disk's content digest.")
    return header, 8 + length


def _write_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def batch_store(appliance, body: bytes) -> tuple[ReplicationBatch, bool]:
    """Keep an uploaded batch durably; (batch, duplicate). A sequence already stored is acknowledged
    again without being written, so a process server may resend whatever it is unsure of."""
    header, _ = parse_upload(body)
    item_id = parse_uuid(header["itemId"])
    item = (
        MigrationItem.objects.filter(pk=item_id, appliance=appliance).select_related("project").first()
        if item_id
        else None
    )
    if item is None:
        raise ArmError(
            404,
            "MigrationItemNotFound",
            f"Server {header['itemId']} is not replicating through this appliance (replication was stopped, or "
            "the server moved to another appliance): stop replicating it.",
        )
    if item.migration_state not in REPLICATING_STATES:
        raise ArmError(
            409,
            "ReplicationNotActive",
            f"Replication of {item.target_vm_name} is {item.migration_state}: send data once Start replication "
            "has completed.",
        )
    disk = item.disks.filter(disk_id=header["diskId"], included=True).first()
    if disk is None:
        raise ArmError(
            404,
            "DiskNotProtected",
            f"Disk {header['diskId']} of {item.target_vm_name} is not selected for replication.",
        )
    sequence = header["sequence"]
    existing = ReplicationBatch.objects.filter(disk=disk, sequence=sequence).first()
    if existing is not None:
        return existing, True
    account = storage_account_name(item.project)
    blob = blob_path(disk, sequence, account)
    _write_durably(blob, body)
    now = clock.now()
    marker = header.get("marker")
    with transaction.atomic():
        locked = ProtectedDisk.objects.select_for_update().get(pk=disk.pk)
        batch, created = ReplicationBatch.objects.get_or_create(
            disk=locked,
            sequence=sequence,
            defaults={
                "cycle": header["cycle"],
                "full": bool(header.get("full")),
                "block_count": int(header.get("blockCount") or 0),
                "data_bytes": int(header.get("dataBytes") or 0),
                "wire_bytes": len(body),
                "blob_name": str(blob.relative_to(settings.REPLICATION_DIR)),
                "marker": marker,
                "stored_at": now,
            },
        )
        if not created:
            return batch, True
        stored = locked.stored_sequence
        while ReplicationBatch.objects.filter(disk=locked, sequence=stored + 1).exists():
            stored += 1
        locked.stored_sequence = stored
        locked.transferred_bytes += len(body)
        locked.changed_bytes += batch.data_bytes
        if batch.full:
            scanned = locked.size_bytes if marker else int(header.get("scannedBytes") or 0)
            locked.scanned_bytes = min(locked.size_bytes, max(0, scanned))
        locked.save(update_fields=["stored_sequence", "transferred_bytes", "changed_bytes", "scanned_bytes"])
        MigrationItem.objects.filter(pk=item.pk, replication_started_at__isnull=True).update(replication_started_at=now)
        _record_throughput(item.pk, len(body), now)
        transaction.on_commit(lambda: request_apply(item.pk))
        if _progress_push_due(item.pk, marker is not None):
            transaction.on_commit(lambda: _push(item.pk), robust=True)
    return batch, False


# A live push renders the item's row, its blade and the project's counts (tens of milliseconds): one
# per stored batch, several a second, cost the upload more than storing the batch. Progress is pushed
# at most this often per item from each process; a disk's marker batch always pushes.
PROGRESS_PUSH_SECONDS = 1.0
_progress_pushed_at: dict = {}  # item id -> time.monotonic() of this process's last progress push


def _progress_push_due(item_id, marker: bool) -> bool:
    now = time.monotonic()
    if not marker and now - _progress_pushed_at.get(item_id, float("-inf")) < PROGRESS_PUSH_SECONDS:
        return False
    if len(_progress_pushed_at) > 10_000:
        _progress_pushed_at.clear()
    _progress_pushed_at[item_id] = now
    return True


THROUGHPUT_WINDOW = timedelta(seconds=5)


def _record_throughput(item_id, byte_count: int, now) -> None:
    """Count the bytes into the item's current window; a window older than a few seconds becomes the
    item's throughput and a new window starts. Also the project's per-minute transfer sample."""
    locked = (
        MigrationItem.objects.select_for_update()
        .only("pk", "project_id", "throughput_window_started_at", "throughput_window_bytes")
        .get(pk=item_id)
    )
    started = locked.throughput_window_started_at
    update = {"last_upload_at": now}
    if started is None or now - started > THROUGHPUT_WINDOW * 4:
        update.update(throughput_window_started_at=now, throughput_window_bytes=byte_count)
    elif now - started >= THROUGHPUT_WINDOW:
        window_bytes = locked.throughput_window_bytes + byte_count
        update.update(
            throughput_bytes_per_second=window_bytes / max((now - started).total_seconds(), 0.001),
            throughput_window_started_at=now,
            throughput_window_bytes=0,
        )
    else:
        update["throughput_window_bytes"] = F("throughput_window_bytes") + byte_count
    MigrationItem.objects.filter(pk=item_id).update(**update)
    minute = now.replace(second=0, microsecond=0)
    sample, created = TransferSample.objects.get_or_create(
        project_id=locked.project_id, minute=minute, defaults={"bytes": byte_count}
    )
    if not created:
        TransferSample.objects.filter(pk=sample.pk).update(bytes=F("bytes") + byte_count)


def request_apply(item_id) -> None:
    from replication.tasks import apply_replication

    apply_replication.delay(str(item_id))


def _push(item_id) -> None:
    from replication import push

    item = MigrationItem.objects.filter(pk=item_id).select_related("project__resource_group").first()
    if item is not None:
        push.replicating_servers_changed(item.project, [item])


# Applying stored batches


def lease_take(item_id, owner: str) -> bool:
    def take() -> int:
        now = timezone.now()  # real time: leases guard against dead workers, not emulated days
        return (
            MigrationItem.objects.filter(pk=item_id)
            .filter(Q(apply_lease_owner="") | Q(apply_lease_owner=owner) | Q(apply_lease_until__lt=now))
            .update(apply_lease_owner=owner, apply_lease_until=now + APPLY_LEASE, apply_pending=False)
        )

    if take():
        return True
    # Tell the holder to look again before it lets go; it may have let go just now, so try once more.
    MigrationItem.objects.filter(pk=item_id).update(apply_pending=True)
    return bool(take())


def _lease_renew(item_id, owner: str) -> None:
    MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(
        apply_lease_until=timezone.now() + APPLY_LEASE
    )


def lease_drop(item_id, owner: str) -> None:
    """Let go whatever arrived meanwhile: for a holder that is not applying (a job copying the
    replicas); the caller queues an apply for what arrived."""
    MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(
        apply_lease_owner="", apply_lease_until=None
    )


def _lease_release(item_id, owner: str) -> bool:
    """Let go unless work arrived meanwhile (then keep the lease and say so)."""
    if MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner, apply_pending=False).update(
        apply_lease_owner="", apply_lease_until=None
    ):
        return True
    MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(apply_pending=False)
    return False


def replica_apply(item_id, owner: str) -> None:
    """Apply what can be applied of an item's stored batches. One worker at a time per item (a lease);
    a task that finds the lease taken leaves the work to the holder."""
    if not lease_take(item_id, owner):
        return
    try:
        while True:
            if _apply_pass(item_id, owner):
                continue
            if _lease_release(item_id, owner):
                return
    except BaseException:
        MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(
            apply_lease_owner="", apply_lease_until=None
        )
        raise


def _apply_pass(item_id, owner: str) -> bool:
    """One pass over the item's disks; True when anything was applied."""
    item = MigrationItem.objects.filter(pk=item_id).select_related("project").first()
    if item is None:
        return False
    disks = list(item.disks.filter(included=True))
    if not disks:
        return False
    # A cycle's markers may be applied only once every disk has stored its marker for that cycle.
    stored_marker_cycles = [
        ReplicationBatch.objects.filter(disk=disk, marker__isnull=False, sequence__lte=disk.stored_sequence).aggregate(
            cycle=Max("cycle")
        )["cycle"]
        or 0
        for disk in disks
    ]
    complete_cycle = min(stored_marker_cycles)
    progressed = False
    for disk in disks:
        progressed |= _apply_disk(item, disk, complete_cycle, owner)
    _record_recovery_point(item)
    return progressed


def _apply_disk(item: MigrationItem, disk: ProtectedDisk, complete_cycle: int, owner: str) -> bool:
    pending = ReplicationBatch.objects.filter(
        disk=disk, sequence__gt=disk.applied_sequence, sequence__lte=disk.stored_sequence
    ).order_by("sequence")
    applied_any = False
    handles: dict[Path, int] = {}
    written = 0
    last_applied = disk.applied_sequence
    try:
        for batch in pending.iterator(chunk_size=64):
            if not batch.full and batch.cycle > complete_cycle:
                break  # a delta cycle waits until every disk's marker for it is stored
            if batch.marker and batch.cycle > complete_cycle:
                break
            target = building_path(disk) if batch.full else replica_path(disk)
            if batch.full and batch.sequence == _first_sequence_of_cycle(disk, batch.cycle):
                _start_building(disk, target, handles)
            records = _open_batch(item, disk, batch)
            if records is None:
                # Skipped: the disk is being resent in full, which replaces whatever this batch held.
                last_applied, applied_any = batch.sequence, True
                continue
            descriptor = handles.get(target)
            if descriptor is None:
                target.parent.mkdir(parents=True, exist_ok=True)
                descriptor = handles[target] = os.open(target, os.O_RDWR | os.O_CREAT, 0o600)
                if os.fstat(descriptor).st_size < disk.size_bytes:
                    os.ftruncate(descriptor, disk.size_bytes)
            written += _write_records(descriptor, records, disk.size_bytes)
            last_applied = batch.sequence
            applied_any = True
            if batch.marker:
                _commit_applied(disk, last_applied, handles)
                written = 0
                _finish_cycle(item, disk, batch)
                disk.refresh_from_db()
            elif written >= SYNC_EVERY_BYTES:
                _commit_applied(disk, last_applied, handles)
                written = 0
            _lease_renew(item.pk, owner)
        _commit_applied(disk, last_applied, handles)
    finally:
        for descriptor in handles.values():
            os.close(descriptor)
    return applied_any


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


def _open_batch(item: MigrationItem, disk: ProtectedDisk, batch: ReplicationBatch) -> bytes | None:
    """The batch's records, decrypted and decompressed; None (and the disk marked for resync) when the
    stored blob is lost or unreadable, since its data can only come from the source again."""
    path = settings.REPLICATION_DIR / batch.blob_name
    try:
        body = path.read_bytes()
        header, start = parse_upload(body)
        data_key = keyvault.unwrap_key(item.project, header["wrappedKey"])
        aad = f"{header['itemId']}/{header['diskId']}/{header['sequence']}".encode()
        compressed = AESGCM(data_key).decrypt(base64.b64decode(header["nonce"]), body[start:], aad)
        return zstandard.ZstdDecompressor().decompress(compressed, max_output_size=64 * 1024 * 1024)
    except (OSError, ArmError, InvalidTag, ValueError, zstandard.ZstdError) as error:
        logger.warning(
            "Batch %s of disk %s is unreadable (%s): resynchronizing the disk", batch.sequence, disk.pk, error
        )
        _require_resync(disk, f"A stored replication batch could not be read ({error.__class__.__name__}).")
        return None


def _write_records(descriptor: int, records: bytes, size_bytes: int) -> int:
    """Write the records at their offsets, coalescing runs of adjacent blocks into one write."""
    view = memoryview(records)
    position, total = 0, len(records)
    run_offset, run_length, run_parts, written = -1, 0, [], 0

    def flush() -> int:
        if not run_parts:
            return 0
        data = b"".join(run_parts)
        os.pwrite(descriptor, data, run_offset)
        return len(data)

    while position < total:
        index, length = RECORD.unpack_from(view, position)
        position += RECORD.size
        offset = index * BLOCK_SIZE
        if offset >= size_bytes:
            raise ValueError(f"block {index} lies beyond the disk's end")
        if length == 0:
            data = ZERO_BLOCK[: min(BLOCK_SIZE, size_bytes - offset)]
        else:
            data = view[position : position + length]
            position += length
        if run_parts and offset == run_offset + run_length:
            run_parts.append(data)
            run_length += len(data)
        else:
            written += flush()
            run_offset, run_length, run_parts = offset, len(data), [data]
    written += flush()
    return written


def _commit_applied(disk: ProtectedDisk, sequence: int, handles: dict) -> None:
    if sequence <= disk.applied_sequence:
        return
    for descriptor in handles.values():
        os.fdatasync(descriptor)
    now = clock.now()
    ProtectedDisk.objects.filter(pk=disk.pk, applied_sequence__lt=sequence).update(applied_sequence=sequence)
    ReplicationBatch.objects.filter(disk=disk, sequence__lte=sequence, applied_at__isnull=True).update(applied_at=now)
    disk.applied_sequence = sequence


def _finish_cycle(item: MigrationItem, disk: ProtectedDisk, batch: ReplicationBatch) -> None:
    """The disk's marker: a full cycle's replica replaces the old one; then the replica is checked."""
    if batch.full:
        building = building_path(disk)
        if building.exists():
            os.replace(building, replica_path(disk))
    digest = file_content_digest(replica_path(disk), disk.size_bytes)
    expected = batch.marker["digest"]
    update = {"applied_cycle": batch.cycle, "replica_digest": digest}
    if digest != expected:
        logger.warning("Replica of disk %s diverged at cycle %s: resynchronizing", disk.pk, batch.cycle)
        _require_resync(disk, f"The replica's data differed from the source's after cycle {batch.cycle}.")
    elif batch.full:
        update.update(resync_required=False, resync_reason="")
    ProtectedDisk.objects.filter(pk=disk.pk, applied_cycle__lt=batch.cycle).update(**update)


def _require_resync(disk: ProtectedDisk, reason: str) -> None:
    ProtectedDisk.objects.filter(pk=disk.pk).update(
        resync_required=True, resync_reason=reason[:300], resync_generation=F("resync_generation") + 1
    )


def _record_recovery_point(item: MigrationItem) -> None:
    """Once every disk's replica holds the same cycle, and it was verified, that cycle is a point."""
    disks = list(item.disks.filter(included=True))
    cycles = {disk.applied_cycle for disk in disks}
    if len(cycles) != 1 or not disks:
        return
    cycle = cycles.pop()
    if cycle == 0 or any(disk.resync_required for disk in disks):
        return
    if RecoveryPoint.objects.filter(item=item, cycle=cycle).exists():
        return
    markers = {
        batch.disk_id: batch.marker
        for batch in ReplicationBatch.objects.filter(disk__in=disks, cycle=cycle, marker__isnull=False)
    }
    captured = [marker.get("capturedAt") for marker in markers.values() if marker.get("capturedAt")]
    # A final point: the agent shut the source down before reading it (Migrate with shutdown).
    is_final = bool(markers) and all(marker.get("final") for marker in markers.values())
    now = clock.now()
    captured_at = min(now, datetime.fromtimestamp(max(captured), tz=UTC) + (now - timezone.now())) if captured else now
    with transaction.atomic():
        locked = MigrationItem.objects.select_for_update().get(pk=item.pk)
        point, created = RecoveryPoint.objects.get_or_create(
            item=locked,
            cycle=cycle,
            defaults={
                "recorded_at": now,
                "captured_at": captured_at,
                "is_final": is_final,
                "disks": {
                    disk.disk_id: {
                        "digest": disk.replica_digest,
                        "sizeBytes": disk.size_bytes,
                        "sourceSha256": (markers.get(disk.pk) or {}).get("sha256", ""),
                    }
                    for disk in disks
                },
            },
        )
        if not created:
            return
        locked.last_recovery_point_at, locked.last_recovery_point_id = point.captured_at, point.pk
        fields = ["last_recovery_point_at", "last_recovery_point_id"]
        if locked.migration_state == MigrationState.INITIAL_SEEDING_IN_PROGRESS:
            locked.migration_state = MigrationState.REPLICATING
            locked.initial_replication_completed_at = now
            fields += ["migration_state", "initial_replication_completed_at"]
        locked.save(update_fields=fields)
        _prune(locked, cycle)
        transaction.on_commit(lambda: _push(item.pk), robust=True)


def _prune(item: MigrationItem, cycle: int) -> None:
    """Batches up to a recorded point are in the replica: the cache storage account lets them go. Old
    recovery points beyond the policy's history are forgotten (only the replica's latest is buildable)."""
    applied = ReplicationBatch.objects.filter(disk__item=item, cycle__lte=cycle, applied_at__isnull=False)
    for blob_name in applied.values_list("blob_name", flat=True):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(settings.REPLICATION_DIR / blob_name)
    applied.delete()
    horizon = clock.now() - timedelta(minutes=item.policy.recovery_point_history_minutes)
    item.recovery_points.filter(recorded_at__lt=horizon).exclude(cycle=cycle).delete()


# What the appliance is told


def replication_instructions(appliance) -> list[dict]:
    """For the appliance's heartbeat answer: every server it should be replicating, with the hub's
    view of each disk's next sequence and resync generation."""
    items = (
        MigrationItem.objects.filter(
            appliance=appliance, migration_state__in=REPLICATING_STATES, replication_stopped_at__isnull=True
        )
        .select_related("server", "policy")
        .prefetch_related("disks")
    )
    instructions = []
    for item in items:
        disks = [disk for disk in item.disks.all() if disk.included]
        instructions.append(
            {
                "machineId": item.server.machine_id,
                "itemId": str(item.pk),
                "state": item.migration_state,
                "cycleSeconds": item.policy.cycle_seconds,
                # Migrate with shutdown: stop the source, send a final cycle (marker "final": true).
                "shutdown": item.shutdown_requested_at is not None,
                # Tells a second Migrate (after a failed one) from the first, which needs a new final cycle.
                "shutdownRequestId": item.shutdown_requested_at.isoformat() if item.shutdown_requested_at else None,
                "nextCycle": max((disk.applied_cycle for disk in disks), default=0) + 1,
                "disks": [
                    {
                        "diskId": disk.disk_id,
                        "sizeBytes": disk.size_bytes,
                        "nextSequence": disk.stored_sequence + 1,
                        "resyncGeneration": disk.resync_generation,
                    }
                    for disk in disks
                ],
            }
        )
    return instructions


def apply_stalled(appliance) -> None:
    """Batches stored but not applied, with no live lease: a worker died, or its task was lost with an
    in-memory broker. Checked at each appliance heartbeat, so no separate scheduler is needed."""
    stalled = (
        MigrationItem.objects.filter(appliance=appliance, disks__stored_sequence__gt=F("disks__applied_sequence"))
        .filter(Q(apply_lease_owner="") | Q(apply_lease_until__lt=timezone.now()))
        .exclude(last_upload_at__gt=clock.now() - timedelta(seconds=2))
        .values_list("pk", flat=True)
        .distinct()
    )
    for item_id in stalled:
        request_apply(item_id)
