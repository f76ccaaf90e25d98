"""Recovery points: once every disk's replica holds the same verified cycle, that cycle is a point
the item can be test-migrated or migrated from. Recording one lets the cache storage account forget the
batches it holds, and forgets points older than the replication policy keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from hub import clock
from replication import push
from replication.models import MigrationItem, MigrationState, RecoveryPoint, ReplicationBatch
from replication.replica_files import batches_delete


def recovery_point_record(item: MigrationItem) -> None:
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
        transaction.on_commit(lambda: push.item_changed(item.pk), robust=True)


def _prune(item: MigrationItem, cycle: int) -> None:
    """Batches up to a recorded point are in the replica: the cache storage account lets them go. Old
    recovery points beyond the policy's history are forgotten (only the replica's latest is buildable)."""
    batches_delete(ReplicationBatch.objects.filter(disk__item=item, cycle__lte=cycle, applied_at__isnull=False))
    horizon = clock.now() - timedelta(minutes=item.policy.recovery_point_history_minutes)
    item.recovery_points.filter(recorded_at__lt=horizon).exclude(cycle=cycle).delete()
