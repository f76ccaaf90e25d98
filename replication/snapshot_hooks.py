"""Replication's part in hub snapshots (hub/snapshots.py).

While a snapshot is saved or restored, no worker takes an item's apply lease (apply_lease.lease_take
refuses), so no replica changes and no stored batch is pruned; the snapshot waits for leases already
held to be let go. Uploads go on being stored meanwhile; once the hold ends, the next upload or the
appliance's heartbeat (uploads.apply_stalled) queues their apply.

After a restore the hub has a new epoch: appliances learn it at their next heartbeat, agents drop
their state of the other timeline and resend each disk in full from the sequence the hub expects, and
uploads made in another epoch are refused (appliance_api.BatchUploadView).
"""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from replication.models import MigrationItem, ReplicationBatch
from replication.replica_files import batches_delete


def items_applying() -> str:
    count = MigrationItem.objects.exclude(apply_lease_owner="").filter(apply_lease_until__gt=timezone.now()).count()
    return f"{count} server(s) applying replicated data" if count else ""


def forget_batches_ahead_of_a_gap() -> None:
    """Batches the snapshot caught stored beyond a gap (uploads overtake each other) would take the
    place of the agents' resent ones of the same sequence: they go. Usually there are none, and the
    restored rows stay exactly the snapshot's."""
    batches_delete(ReplicationBatch.objects.filter(sequence__gt=F("disk__stored_sequence")))


def forget_apply_leases() -> None:
    """The restored rows hold the apply leases and queued-apply marks (apply_lease.lease_request) of the
    moment the snapshot was saved: their tasks are gone, yet a mark still in the future would make each
    upload flag it rather than queue an apply, and the replica would wait for the mark to lapse. No
    worker holds a lease while a restore runs (items_applying), so every lease is let go; the next
    upload, or the appliance's heartbeat (uploads.apply_stalled), queues what is left to apply."""
    MigrationItem.objects.exclude(apply_lease_owner="", apply_lease_until=None, apply_pending=False).update(
        apply_lease_owner="", apply_lease_until=None, apply_pending=False
    )


def after_restore() -> None:
    forget_batches_ahead_of_a_gap()
    forget_apply_leases()


def register() -> None:
    from hub import snapshots

    snapshots.register_participant("replication", busy=items_applying, after_restore=after_restore)
