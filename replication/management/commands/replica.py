"""Where a replicating server's replica stands, for operators and tests:

    manage.py replica <migration item id> [--sha256]

Prints JSON: the item's state, its recovery points (with the bytes of new chunks each stored), what
all its points take in the object store (`pointStorageBytes`), and per disk the replica file, the sequences
stored and applied, the cycle applied, bytes moved, and with --sha256 the replica's SHA-256."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from hub.ids import parse_uuid
from replication.models import MigrationItem
from replication.point_manifests import manifest_load, manifest_sha256, stored_bytes
from replication.replica_files import file_sha256, replica_path


class Command(BaseCommand):
    help = "Show a replicating server's replica disks, sequences, cycles and recovery points as JSON."

    def add_arguments(self, parser):
        parser.add_argument(
            "item_id", help="The migration item's id (ARM: providerSpecificDetails.internalIdentifier)."
        )
        parser.add_argument("--sha256", action="store_true", help="Also hash each replica file (reads it whole).")

    def handle(self, *args, item_id, sha256, **options):
        item = MigrationItem.objects.filter(pk=parse_uuid(item_id)).first() if parse_uuid(item_id) else None
        if item is None:
            raise CommandError(f"No migration item {item_id}.")
        disks = []
        latest = item.recovery_points.order_by("-cycle").first()
        for disk in item.disks.all():
            path = replica_path(disk)
            sha, sha_of = None, None
            if sha256 and path.exists():
                sha, sha_of = file_sha256(path), "replica"
            elif sha256 and latest is not None:
                manifest = manifest_load(item, disk.pk, latest.cycle)
                if manifest is not None:
                    sha, sha_of = manifest_sha256(item, manifest), "latestRecoveryPoint"
            disks.append(
                {
                    "diskId": disk.disk_id,
                    "included": disk.included,
                    "replica": str(path),
                    "storedSequence": disk.stored_sequence,
                    "appliedSequence": disk.applied_sequence,
                    "appliedCycle": disk.applied_cycle,
                    "changedBytes": disk.changed_bytes,
                    "transferredBytes": disk.transferred_bytes,
                    "resyncGeneration": disk.resync_generation,
                    "sha256": sha,
                    "sha256Of": sha_of,
                }
            )
        points = [
            {
                "cycle": point.cycle,
                "final": point.is_final,
                "capturedAt": point.captured_at.isoformat(),
                "newChunkBytes": sum(about.get("newChunkBytes", 0) for about in point.disks.values()),
            }
            for point in item.recovery_points.order_by("cycle")
        ]
        self.stdout.write(
            json.dumps(
                {
                    "item": str(item.pk),
                    "migrationState": item.migration_state,
                    "disks": disks,
                    "recoveryPoints": points,
                    "pointStorageBytes": stored_bytes(item),
                }
            )
        )
