"""The appliance's side of the hub's data path (docs/replication-protocol.md): what its heartbeat is
told to replicate, and the batches its process server uploads.

`batch_store` keeps each uploaded batch durably in the project's cache storage account before
answering, so the agent is acknowledged only for data that is safe, then queues the apply
(replication/data_path.py). It also keeps the item's throughput and pushes its progress live.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from hub import clock
from hub.arm.errors import ArmError
from hub.ids import parse_uuid
from jobs import outbox
from replication import push
from replication.models import (
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    ReplicationBatch,
    TransferSample,
)
from replication.replica_files import blob_path, storage_account_name

UPLOAD_MAGIC = b"MHE1"
MAX_HEADER_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 24 * 1024 * 1024
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
        request_apply(item.pk)
        if _progress_push_due(item.pk, marker is not None):
            transaction.on_commit(lambda: push.item_changed(item.pk), robust=True)
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


# By name: the task module calls into this one, so importing it here would make a circle
# (replication.tasks registers the task under this name).
APPLY_REPLICATION_TASK = "replication.tasks.apply_replication"


def request_apply(item_id) -> None:
    """Queue an apply of the item's stored batches (sent once the caller's transaction commits)."""
    outbox.send(APPLY_REPLICATION_TASK, [item_id])
