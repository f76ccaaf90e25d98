"""The appliance's side of the hub's data path (docs/replication-protocol.md): what its heartbeat is
told to replicate, and the batches its process server uploads.

`batch_store` keeps each uploaded batch durably in the project's cache storage account before
answering, so the agent is acknowledged only for data that is safe, then queues the apply
(replication/data_path.py). It also keeps the item's throughput and pushes its progress live.

Three invariants hold here: a batch whose AES-GCM tag does not verify is refused before it is stored;
a sequence at or below the disk's stored high-water mark is a duplicate, also once its batch was
applied and pruned, so it is counted once; and a disk's read progress never goes back within a full
cycle, whatever order its batches land in.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import timedelta
from functools import partial

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from hub import clock, db_conflicts
from hub.arm.errors import ArmError
from hub.arm.parsers import json_too_deep
from hub.ids import parse_uuid
from hub.object_store import store
from jobs import outbox
from replication import apply_lease, fault_effects, keyvault, push
from replication.models import (
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    ReplicationBatch,
    TransferSample,
)
from replication.replica_files import batch_blob_name, storage_account_name

UPLOAD_MAGIC = b"MHE1"
MAX_HEADER_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 24 * 1024 * 1024
INT64_MAX = 2**63 - 1  # the protocol's counters are stored as signed 64-bit integers
INT32_MAX = 2**31 - 1
# The header's integers and their ranges: the 64-bit range for protocol counters, the column's for the
# rest (dataBytes: what a batch may decompress to). Absent optional ones count as 0.
HEADER_INTEGERS = {
    "sequence": (1, INT64_MAX),
    "cycle": (1, INT32_MAX),
    "blockCount": (0, INT32_MAX),
    "dataBytes": (0, 64 * 1024 * 1024),
    "scannedBytes": (0, INT64_MAX),
    "dataScannedBytes": (0, INT64_MAX),
    "dataTotalBytes": (0, INT64_MAX),
}
REPLICATING_STATES = (
    MigrationState.INITIAL_SEEDING_IN_PROGRESS,
    MigrationState.REPLICATING,
    MigrationState.MIGRATION_IN_PROGRESS,
)


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


# An apply the heartbeat queued is not queued again for this long: until a worker takes the item's
# lease, the item looks stalled, and with a busy worker a heartbeat every few seconds queued the same
# items again and again (200 of them, on one appliance), adding to the very backlog that delayed them.
# The same mark as an upload's queued apply (apply_lease.lease_request), so neither queues a second.
APPLY_REQUEST_AGAIN_AFTER = apply_lease.APPLY_QUEUED_FOR
# At most this many applies are queued by one heartbeat (each is an outbox row and a message), the items
# stalled longest first: the heartbeat's cost stays the same whatever the fleet, and the rest are
# queued by the heartbeats that follow.
APPLY_REQUESTS_PER_HEARTBEAT = 16


def apply_stalled(appliance) -> None:
    """Batches stored but not applied, with no live lease: a worker died, or its task was lost with an
    in-memory broker. Checked at each appliance heartbeat, so no separate scheduler is needed.

    With no holder (apply_lease_owner ""), apply_lease_until says until when an apply queued here is
    awaited; lease_take ignores it, so the first worker to come takes the item as before."""
    now = timezone.now()
    stalled_now = Q(apply_lease_owner="", apply_lease_until__isnull=True) | Q(apply_lease_until__lt=now)
    stalled = list(
        MigrationItem.objects.filter(appliance=appliance, disks__stored_sequence__gt=F("disks__applied_sequence"))
        .filter(stalled_now)
        .exclude(last_upload_at__gt=clock.now() - timedelta(seconds=2))
        .order_by(F("last_upload_at").asc(nulls_first=True), "pk")
        .values_list("pk", "last_upload_at")
        .distinct()[:APPLY_REQUESTS_PER_HEARTBEAT]
    )
    for item_id, _ in stalled:
        # One item per transaction, its mark and its message committed together: the transaction holds
        # one item row and then only inserts its outbox row, so it waits on no lock another transaction
        # could hold while waiting on it (no deadlock, no retry), and two heartbeats never lock items in
        # different orders. Conditional on what made it stalled: an item a worker took meanwhile keeps its
        # lease, and a dead holder's lapsed lease becomes the mark, so the next heartbeat sees the apply
        # awaited instead of queueing another one each time until a worker takes it.
        with transaction.atomic():
            if MigrationItem.objects.filter(stalled_now, pk=item_id).update(
                apply_lease_owner="", apply_lease_until=now + APPLY_REQUEST_AGAIN_AFTER
            ):
                request_apply(item_id)


# Storing uploads


def parse_upload(body: bytes | memoryview) -> tuple[dict, int]:
    """The upload's header and where its ciphertext starts; 400 for anything malformed."""
    if len(body) < 8 or body[:4] != UPLOAD_MAGIC:
        raise ArmError(400, "InvalidBatch", "The body is not a replication batch (it must start with MHE1).")
    length = int.from_bytes(body[4:8], "little")
    if length > MAX_HEADER_BYTES or 8 + length > len(body):
        raise ArmError(400, "InvalidBatch", "The batch header length is out of range.")
    raw_header = bytes(body[8 : 8 + length])  # the body may be a memoryview (hub/asgi.py PooledBody)
    try:
        header = None if json_too_deep(raw_header) else json.loads(raw_header)
    except ValueError:
        header = None
    required = {"itemId": str, "diskId": str, "sequence": int, "cycle": int, "wrappedKey": str, "nonce": str}
    if not isinstance(header, dict) or any(
        not isinstance(header.get(name), kind) or isinstance(header.get(name), bool) for name, kind in required.items()
    ):
        raise ArmError(
            400, "InvalidBatch", f"The batch header needs {', '.join(required)} (see docs/replication-protocol.md)."
        )
    for name, (low, high) in HEADER_INTEGERS.items():
        if low == 0 and header.get(name) is None:
            header[name] = 0
        value = header[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ArmError(
                400, "InvalidBatch", f"The batch header's {name} must be a whole number from {low} to {high}.", name
            )
    if "full" in header and not isinstance(header["full"], bool):
        raise ArmError(400, "InvalidBatch", "The batch header's full must be true or false.", "full")
    if _base64_length(header["nonce"]) != NONCE_BYTES:
        raise ArmError(400, "InvalidBatch", f"The batch header's nonce must be {NONCE_BYTES} bytes in base64.", "nonce")
    if _base64_length(header["wrappedKey"]) is None:
        raise ArmError(400, "InvalidBatch", "The batch header's wrappedKey must be base64.", "wrappedKey")
    marker = header.get("marker")
    if marker is not None:
        _check_marker(marker, header["cycle"])
    return header, 8 + length


NONCE_BYTES = 12  # AES-GCM's
LATEST_TIMESTAMP = 32_503_680_000  # 3000-01-01: far ahead, with room for the emulated clock's offset below 9999


def _base64_length(text: str) -> int | None:
    try:
        return len(base64.b64decode(text, validate=True))
    except ValueError:
        return None


def _check_marker(marker, cycle: int) -> None:
    """A cycle's marker: its cycle, the disk's digest, and optionally its size, when it was read (unix
    seconds) and whether it is the final sync. Each is bounded: the apply reads them later."""
    if not isinstance(marker, dict) or marker.get("cycle") != cycle or not isinstance(marker.get("digest"), str):
        raise ArmError(400, "InvalidBatch", "A marker must name the batch's cycle and the disk's content digest.")
    size = marker.get("sizeBytes")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= INT64_MAX):
        raise ArmError(400, "InvalidBatch", f"A marker's sizeBytes must be a whole number from 0 to {INT64_MAX}.")
    captured = marker.get("capturedAt")
    if captured is not None and (
        not isinstance(captured, int | float) or isinstance(captured, bool) or not 0 <= captured <= LATEST_TIMESTAMP
    ):
        raise ArmError(400, "InvalidBatch", f"A marker's capturedAt must be unix seconds from 0 to {LATEST_TIMESTAMP}.")
    if marker.get("final") is not None and not isinstance(marker["final"], bool):
        raise ArmError(400, "InvalidBatch", "A marker's final must be true or false.")


GCM_TAG_BYTES = 16


def _sealed_batch(project, header: dict, sealed) -> tuple[memoryview, object]:
    """How a sealed batch is read, the one place for opening it and for checking it: AES-GCM with the data
    key the project's Key Vault key wrapped (header wrappedKey), the header's nonce, the batch's
    item/disk/sequence as associated data, and the 16-byte tag after the ciphertext. Returns the
    ciphertext and a decryptor given all but the ciphertext (its finalize checks the tag); 400 when the
    key is not the project's or the batch cannot be one."""
    data_key = keyvault.unwrap_key(project, header["wrappedKey"])
    sealed = memoryview(sealed)
    end = len(sealed) - GCM_TAG_BYTES
    if end < 0:
        raise _integrity_failed(header)
    try:
        nonce = base64.b64decode(header["nonce"], validate=True)
        decryptor = Cipher(algorithms.AES(data_key), modes.GCM(nonce, bytes(sealed[end:]))).decryptor()
    except ValueError as error:
        raise _integrity_failed(header) from error
    decryptor.authenticate_additional_data(f"{header['itemId']}/{header['diskId']}/{header['sequence']}".encode())
    return sealed[:end], decryptor


def batch_open(project, header: dict, sealed) -> bytes:
    """The batch's compressed records, its AES-GCM tag verified (_sealed_batch); 400 otherwise."""
    ciphertext, decryptor = _sealed_batch(project, header, sealed)
    try:
        records = decryptor.update(ciphertext)
        decryptor.finalize()
    except (InvalidTag, ValueError) as error:
        raise _integrity_failed(header) from error
    return records


def _integrity_failed(header: dict) -> ArmError:
    return ArmError(
        400,
        "BatchIntegrityCheckFailed",
        f"Batch {header['sequence']} of disk {header['diskId']} failed its AES-GCM integrity check: it "
        "changed after the process server encrypted it. The process server must encrypt it again and resend it.",
    )


# An upload is checked, not used: its plaintext goes through this small per-thread buffer, a piece at a
# time, instead of into a new buffer as large as the batch that is dropped at once.
VERIFY_PIECE_BYTES = 1024 * 1024
_verify_scratch = threading.local()


def batch_verify(project, header: dict, sealed) -> None:
    """batch_open's checks (the data key is the project's, the AES-GCM tag verifies), without keeping
    the plaintext; 400 otherwise."""
    ciphertext, decryptor = _sealed_batch(project, header, sealed)
    scratch = getattr(_verify_scratch, "buffer", None)
    if scratch is None:
        scratch = _verify_scratch.buffer = bytearray(VERIFY_PIECE_BYTES + 15)  # update_into's slack
    try:
        for offset in range(0, len(ciphertext), VERIFY_PIECE_BYTES):
            decryptor.update_into(ciphertext[offset : offset + VERIFY_PIECE_BYTES], scratch)
        decryptor.finalize()
    except (InvalidTag, ValueError) as error:
        raise _integrity_failed(header) from error


def batch_store(appliance, body: bytes | memoryview) -> tuple[int, bool]:
    """Keep an uploaded batch durably; (sequence, duplicate). A sequence already stored, or applied and
    pruned since, is acknowledged again without being written or counted, so a process server may
    resend whatever it is unsure of. A batch that does not decrypt is refused before it is stored.

    This runs for every batch the agents send (up to 16 MiB of their data), so it keeps to a handful of
    statements: one read of the disk with its item, the row insert under the disk's lock, and
    conditional updates of the counters."""
    header, start = parse_upload(body)
    disk = _protected_disk(appliance, header)
    item = disk.item
    # Injected faults of the cache storage account or the Key Vault refuse the batch before it is opened
    # or stored; the agent keeps it and retries.
    fault_effects.check_upload(item, storage_account_name(item.project))
    batch_verify(item.project, header, memoryview(body)[start:])
    sequence = header["sequence"]
    if sequence <= disk.stored_sequence:
        return sequence, True
    # Durable before the agent is acknowledged: both backends' put returns once the whole blob is stored.
    blob = batch_blob_name(disk, sequence, storage_account_name(item.project))
    store().put(blob, body)
    now = clock.now()
    marker = header.get("marker")
    # A deadlock or serialization failure rolled it all back: run it again (hub/db_conflicts.py).
    for attempt in db_conflicts.attempts():
        with attempt, transaction.atomic():
            locked = ProtectedDisk.objects.select_for_update().get(pk=disk.pk)
            # Every sequence up to the stored high-water mark was stored (it only grows over contiguous
            # sequences, and pruning never lowers it); above it, batches that arrived ahead of a gap.
            ahead = _stored_ahead(locked)
            if sequence <= locked.stored_sequence or sequence in ahead:
                # Stored by an earlier or concurrent upload, whose blob the batch row names: this one's
                # blob belongs to nothing.
                store().delete(blob)
                return sequence, True
            batch = ReplicationBatch.objects.create(
                disk=locked,
                sequence=sequence,
                cycle=header["cycle"],
                full=bool(header.get("full")),
                block_count=header["blockCount"],
                data_bytes=header["dataBytes"],
                wire_bytes=len(body),
                blob_name=blob,
                marker=marker,
                stored_at=now,
            )
            ahead.add(sequence)
            while locked.stored_sequence + 1 in ahead:
                locked.stored_sequence += 1
            locked.transferred_bytes += len(body)
            locked.changed_bytes += batch.data_bytes
            if batch.full:
                scanned = locked.size_bytes if marker else header["scannedBytes"]
                data_total = header.get("dataTotalBytes") or 0
                data_scanned = data_total if marker else min(data_total, header.get("dataScannedBytes") or 0)
                _advance_scanned(locked, batch.cycle, min(locked.size_bytes, max(0, scanned)), data_scanned, data_total)
            locked.save(
                update_fields=[
                    *("stored_sequence", "transferred_bytes", "changed_bytes", "scanned_bytes", "scanned_cycle"),
                    *("data_scanned_bytes", "data_total_bytes"),
                ]
            )
            _record_throughput(item, len(body), now)
            if apply_lease.lease_request(item.pk):  # else the holder or the queued apply is told (apply_lease)
                request_apply(item.pk)
            pushed = _progress_push_due(item.pk, marker is not None)
            if pushed is not None:
                transaction.on_commit(partial(pushed, item.pk), robust=True)
    return sequence, False


def _protected_disk(appliance, header: dict) -> ProtectedDisk:
    """The upload's disk, with its item and project, in one query; the precise refusal otherwise."""
    item_id = parse_uuid(header["itemId"])
    disk = (
        ProtectedDisk.objects.filter(
            item_id=item_id,
            item__appliance=appliance,
            item__migration_state__in=REPLICATING_STATES,
            disk_id=header["diskId"],
            included=True,
        )
        .select_related("item__project__resource_group")
        .first()
        if item_id
        else None
    )
    if disk is not None:
        return disk
    item = MigrationItem.objects.filter(pk=item_id, appliance=appliance).first() if item_id else None
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
    raise ArmError(
        404,
        "DiskNotProtected",
        f"Disk {header['diskId']} of {item.target_vm_name} is not selected for replication.",
    )


def _stored_ahead(disk: ProtectedDisk) -> set[int]:
    """The sequences stored above the disk's high-water mark (the locked row's): a few at most, as the
    appliance keeps only a few uploads in flight per disk."""
    return set(
        ReplicationBatch.objects.filter(disk=disk, sequence__gt=disk.stored_sequence)
        .order_by()  # not the model's ordering, which joins the disk
        .values_list("sequence", flat=True)
    )


def _advance_scanned(disk: ProtectedDisk, cycle: int, scanned: int, data_scanned: int, data_total: int) -> None:
    """How far the agent has read the disk in its current full cycle (the locked row), of the whole disk
    and of its data to send. A cycle's batches may land in any order (its small final batch often
    overtakes the full one before it), so within a cycle progress only grows; a later full cycle (a
    resync) reads the disk again from the start."""
    if cycle > disk.scanned_cycle:
        disk.scanned_cycle, disk.scanned_bytes = cycle, scanned
        disk.data_scanned_bytes, disk.data_total_bytes = data_scanned, data_total
    elif cycle == disk.scanned_cycle:
        disk.scanned_bytes = max(disk.scanned_bytes, scanned)
        disk.data_scanned_bytes = max(disk.data_scanned_bytes, data_scanned)
        disk.data_total_bytes = max(disk.data_total_bytes, data_total)


# A live push renders the item's row, its blade and the project's counts (tens of milliseconds): one
# per stored batch, several a second, cost the upload more than storing the batch. Progress is pushed
# at most this often per item from each process; a disk's marker batch always pushes the whole.
PROGRESS_PUSH_SECONDS = 1.0
# Between whole pushes the progress push sends only what a batch moves (push.item_progress, about a
# third of the cost); the project's counts and health summary, which an upload may move too (a
# condition that clears once data flows again), are pushed whole at least this often, and by the first
# push after a pause.
WHOLE_PUSH_SECONDS = 15.0
_progress_pushed_at: dict = {}  # item id -> time.monotonic() of this process's last progress push
_whole_pushed_at: dict = {}  # item id -> time.monotonic() of this process's last whole push


def _progress_push_due(item_id, marker: bool):
    """The push this upload sends once it commits (push.item_changed or push.item_progress), or None."""
    now = time.monotonic()
    if not marker and now - _progress_pushed_at.get(item_id, float("-inf")) < PROGRESS_PUSH_SECONDS:
        return None
    if len(_progress_pushed_at) > 10_000:
        _progress_pushed_at.clear()
        _whole_pushed_at.clear()
    _progress_pushed_at[item_id] = now
    if marker or now - _whole_pushed_at.get(item_id, float("-inf")) >= WHOLE_PUSH_SECONDS:
        _whole_pushed_at[item_id] = now
        return push.item_changed
    return push.item_progress


THROUGHPUT_WINDOW = timedelta(seconds=5)


def _record_throughput(item: MigrationItem, byte_count: int, now) -> None:
    """Count the bytes into the item's current window; a window older than a few seconds becomes the
    item's throughput and a new window starts. Also the project's per-minute transfer sample.

    Usually one conditional update each: the window as `item` was read at the request's start, unless a
    concurrent upload moved it since (then the row is read again under its lock)."""
    started = item.throughput_window_started_at
    if started is not None and timedelta(0) <= now - started < THROUGHPUT_WINDOW:
        counted = MigrationItem.objects.filter(pk=item.pk, throughput_window_started_at=started).update(
            last_upload_at=now, throughput_window_bytes=F("throughput_window_bytes") + byte_count
        )
    else:
        counted = 0
    if not counted:
        _record_throughput_locked(item.pk, byte_count, now)
    if item.replication_started_at is None:
        MigrationItem.objects.filter(pk=item.pk, replication_started_at__isnull=True).update(replication_started_at=now)
    minute = now.replace(second=0, microsecond=0)
    if not TransferSample.objects.filter(project_id=item.project_id, minute=minute).update(
        bytes=F("bytes") + byte_count
    ):
        sample, created = TransferSample.objects.get_or_create(
            project_id=item.project_id, minute=minute, defaults={"bytes": byte_count}
        )
        if not created:
            TransferSample.objects.filter(pk=sample.pk).update(bytes=F("bytes") + byte_count)


def _record_throughput_locked(item_id, byte_count: int, now) -> None:
    locked = (
        MigrationItem.objects.select_for_update()
        .only("pk", "throughput_window_started_at", "throughput_window_bytes")
        .get(pk=item_id)
    )
    started = locked.throughput_window_started_at
    update = {"last_upload_at": now}
    if started is None or now - started > THROUGHPUT_WINDOW * 4 or now < started:
        # Uploads (re)start: the window opens at this batch, which took its time before `now`, so its
        # bytes are not counted; an old rate no longer says anything (replication.status shows the open
        # window's rate until this one closes).
        update.update(throughput_window_started_at=now, throughput_window_bytes=0, throughput_bytes_per_second=0)
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


# By name: the task module calls into this one, so importing it here would make a circle
# (replication.tasks registers the task under this name).
APPLY_REPLICATION_TASK = "replication.tasks.apply_replication"


def request_apply(item_id) -> None:
    """Queue an apply of the item's stored batches (sent once the caller's transaction commits)."""
    outbox.send(APPLY_REPLICATION_TASK, [item_id])
