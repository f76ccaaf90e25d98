"""Recovery points: once every disk's replica holds the same verified cycle, that cycle is a point
the item can be test-migrated or migrated from. Each point is a manifest per disk of content-addressed
chunks (replication/point_manifests.py), so any point kept can be built, not only the latest.

Recording a point lets the cache storage account forget the batches it holds. Points older than the
replication policy's recoveryPointHistoryInMinutes go, at each new point and in a periodic job (for an
item whose replication went quiet), except the latest and those a test VM or a running verb uses.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hub import clock
from jobs.models import TERMINAL_STATES
from replication import apply_lease, point_manifests, push
from replication.models import (
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    RecoveryPoint,
    ReplicationBatch,
    VirtualMachine,
)
from replication.replica_files import batches_delete, building_path, local_sequence_note, replica_path

logger = logging.getLogger(__name__)


def recovery_point_record(item: MigrationItem, renew=None) -> None:
    """Once every disk's replica holds the same cycle, and it was verified, that cycle is a point: its
    manifests are written, then its row. Called by the item's apply-lease holder only, which `renew`
    keeps (writing a large disk's chunks can outlast the lease)."""
    disks = list(item.disks.filter(included=True))
    cycles = {disk.applied_cycle for disk in disks}
    if len(cycles) != 1 or not disks:
        return
    cycle = cycles.pop()
    if cycle == 0 or any(disk.resync_required for disk in disks):
        return
    if RecoveryPoint.objects.filter(item=item, cycle=cycle).exists():
        return
    marker_batches = {
        batch.disk_id: batch
        for batch in ReplicationBatch.objects.filter(disk__in=disks, cycle=cycle, marker__isnull=False)
    }
    for disk in disks:
        marker = marker_batches.get(disk.pk)
        sequence = marker.sequence if marker else disk.applied_sequence
        # A replica that has taken delta batches past its marker (a crash between the marker and this
        # point) no longer holds the cycle: the next cycle's point will be recorded instead.
        if ReplicationBatch.objects.filter(
            disk=disk, sequence__gt=sequence, sequence__lte=disk.applied_sequence, full=False
        ).exists():
            return
    markers = {disk_pk: batch.marker for disk_pk, batch in marker_batches.items()}
    previous = item.recovery_points.order_by("-cycle").first()
    point_disks = {}
    for disk in disks:
        base = point_manifests.manifest_load(item, disk.pk, previous.cycle) if previous is not None else None
        manifest, new_bytes = point_manifests.manifest_write(
            item, disk, cycle, replica_path(disk), base, disk.dirty_chunks, renew
        )
        marker = marker_batches.get(disk.pk)
        point_disks[disk.disk_id] = {
            "digest": disk.replica_digest,
            "sizeBytes": disk.size_bytes,
            "sourceSha256": (markers.get(disk.pk) or {}).get("sha256", ""),
            "diskPk": str(disk.pk),
            "sequence": marker.sequence if marker else disk.applied_sequence,
            "chunks": len(manifest.chunks),
            "newChunkBytes": new_bytes,
        }
    captured = [marker.get("capturedAt") for marker in markers.values() if marker.get("capturedAt")]
    # A final point: the agent shut the source down before reading it (Migrate with shutdown).
    is_final = bool(markers) and all(marker.get("final") for marker in markers.values())
    now = clock.now()
    captured_at = min(now, datetime.fromtimestamp(max(captured), tz=UTC) + (now - timezone.now())) if captured else now
    with transaction.atomic():
        # The disks' rows before the item's, in the order an upload takes them (its disk, then the item's
        # lease flag): the other order deadlocked against uploads arriving while a point was recorded.
        list(ProtectedDisk.objects.select_for_update().filter(pk__in=[disk.pk for disk in disks]).order_by("pk"))
        locked = MigrationItem.objects.select_for_update().get(pk=item.pk)
        point, created = RecoveryPoint.objects.get_or_create(
            item=locked,
            cycle=cycle,
            defaults={"recorded_at": now, "captured_at": captured_at, "is_final": is_final, "disks": point_disks},
        )
        if not created:
            return
        # The manifests now hold what was written: the next point reads only what is written after.
        ProtectedDisk.objects.filter(pk__in=[disk.pk for disk in disks]).update(dirty_chunks=[])
        locked.last_recovery_point_at, locked.last_recovery_point_id = point.captured_at, point.pk
        fields = ["last_recovery_point_at", "last_recovery_point_id"]
        if locked.migration_state == MigrationState.INITIAL_SEEDING_IN_PROGRESS:
            locked.migration_state = MigrationState.REPLICATING
            locked.initial_replication_completed_at = now
            fields += ["migration_state", "initial_replication_completed_at"]
        locked.save(update_fields=fields)
        batches_delete(ReplicationBatch.objects.filter(disk__item=locked, cycle__lte=cycle, applied_at__isnull=False))
        transaction.on_commit(lambda: push.item_changed(item.pk), robust=True)
    _prune_item(locked, renew)


def held_cycles(item: MigrationItem) -> set[int]:
    """The points in use: a test VM's (kept until Clean up test migration) and a running verb's choice."""
    held = set()
    for job_input in VirtualMachine.objects.filter(migration_item=item).values_list("created_by_job__input", flat=True):
        cycle = ((job_input or {}).get("vm") or {}).get("recoveryPointCycle")
        if cycle is not None:
            held.add(cycle)
    job = item.current_job
    if job is not None and job.state not in TERMINAL_STATES and job.input.get("recovery_point_cycle") is not None:
        held.add(job.input["recovery_point_cycle"])
    return held


def _prune_item(item: MigrationItem, renew=None) -> int:
    """Forget the points past the policy's history (never the latest, nor a held one), their manifests,
    and the chunks no remaining manifest names. Run under the item's apply lease, which `renew` keeps
    between deletions (a large item's sweep can outlast it). Returns how many went."""
    if item.migration_state == MigrationState.MIGRATION_IN_PROGRESS:
        return 0  # the VM is being built from one of them
    horizon = clock.now() - timedelta(minutes=item.policy.recovery_point_history_minutes)
    latest = item.recovery_points.order_by("-cycle").values_list("cycle", flat=True).first()
    expired = list(
        item.recovery_points.filter(recorded_at__lt=horizon)
        .exclude(cycle=latest)
        .exclude(cycle__in=held_cycles(item))
        .values_list("pk", "cycle", "disks")
    )
    if not expired:
        return 0
    RecoveryPoint.objects.filter(pk__in=[pk for pk, _, _ in expired]).delete()
    kept: dict[str, list[int]] = {}
    for cycle, disks in item.recovery_points.values_list("cycle", "disks"):
        for about in disks.values():
            if "diskPk" in about:
                kept.setdefault(about["diskPk"], []).append(cycle)
    point_manifests.manifests_sweep(item, kept, renew)
    if not _full_cycle_open(item, latest):
        point_manifests.chunks_sweep(item, renew)
    return len(expired)


def _full_cycle_open(item: MigrationItem, latest_cycle: int) -> bool:
    """Whether a full cycle (initial replication or resync) past the latest point has batches stored. Its
    chunks are cut into packs as its batches are applied (chunk_cutting.ChunkCutter), and no manifest
    names them until its point is recorded: a chunk sweep then would delete them, and the point, once
    recorded, could not be restored. Its batches stay until that point covers them (record_point deletes
    them), so while one is left the sweep waits for a later prune; the points' rows still go now."""
    return ReplicationBatch.objects.filter(disk__item=item, full=True, cycle__gt=latest_cycle or 0).exists()


def _lease_keeper(item_id, owner: str):
    """The periodic prune's `renew`: renews the lease at most every RENEW_EVERY, and raises LeaseLost once
    another worker holds it, so a long sweep stops before it deletes anything more."""
    renewed_at = time.monotonic()

    def renew() -> None:
        nonlocal renewed_at
        if time.monotonic() - renewed_at >= apply_lease.RENEW_EVERY.total_seconds():
            if not apply_lease.lease_renew(item_id, owner):
                raise apply_lease.LeaseLost(item_id)
            renewed_at = time.monotonic()

    return renew


def points_prune() -> int:
    """The periodic job: prune every item that has a point past its policy's history. An item whose
    lease another holds is left for the next round (its holder prunes at its next point anyway)."""
    pruned = 0
    now = clock.now()
    candidates = MigrationItem.objects.filter(recovery_points__isnull=False).select_related("policy", "project")
    for item in candidates.distinct():
        horizon = now - timedelta(minutes=item.policy.recovery_point_history_minutes)
        if not item.recovery_points.filter(recorded_at__lt=horizon).exists():
            continue
        owner = f"prune-{os.getpid()}"
        if not apply_lease.lease_take(item.pk, owner):
            continue
        try:
            pruned += _prune_item(item, _lease_keeper(item.pk, owner))
        except apply_lease.LeaseLost:
            # The points' rows went; what the sweep left, the item's next prune sweeps.
            logger.warning("Item %s: its apply lease lapsed while pruning; the sweep stopped", item.pk)
        finally:
            apply_lease.lease_drop(item.pk, owner)
    return pruned


def working_copy_rebuild(item: MigrationItem, disk: ProtectedDisk, renew=None) -> None:
    """Make this host's replica the latest point's (from its manifest) and move the disk's applied
    sequence back to that point's marker, so what came after it is applied again from the stored
    batches (they are kept until a later point). No point yet: an empty disk, from sequence 0."""
    point = next(
        (point for point in item.recovery_points.order_by("-cycle") if "sequence" in point.disks.get(disk.disk_id, {})),
        None,
    )
    building_path(disk).unlink(missing_ok=True)
    manifest = point_manifests.manifest_load(item, disk.pk, point.cycle) if point is not None else None
    if manifest is None:
        replica_path(disk).unlink(missing_ok=True)
        update = {"applied_sequence": 0, "applied_cycle": 0, "dirty_chunks": None}
        if point is not None or item.recovery_points.exists():
            # Points from before manifests were kept: their batches are gone, so only the source can
            # give the disk back.
            logger.warning("Disk %s: no manifest to rebuild its working copy from; resynchronizing", disk.pk)
            update.update(
                resync_required=True,
                resync_reason="The replica's working copy was lost and no recovery point manifest holds it.",
                resync_generation=F("resync_generation") + 1,
            )
        ProtectedDisk.objects.filter(pk=disk.pk).update(**update)
        local_sequence_note(disk, 0)
        return
    point_manifests.restore(item, manifest, replica_path(disk), sha256=False, renew=renew)
    about = point.disks[disk.disk_id]
    ProtectedDisk.objects.filter(pk=disk.pk).update(
        applied_sequence=about["sequence"], applied_cycle=point.cycle, dirty_chunks=[], replica_digest=about["digest"]
    )
    local_sequence_note(disk, about["sequence"])
    logger.info("Disk %s: working copy rebuilt from the point of cycle %s", disk.pk, point.cycle)
