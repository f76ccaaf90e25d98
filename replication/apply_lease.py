"""The apply lease: one worker at a time applies an item's stored batches to its replicas.

The lease is a row field with an expiry, renewed as the holder goes, so a dead worker's lease lapses.
A job copying the replicas into a VM's disks takes the same lease, so it copies one recovery point.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from replication.models import MigrationItem

# A worker applying an item's batches holds a lease, renewed as it goes; a dead worker's lease lapses.
APPLY_LEASE = timedelta(seconds=15)


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


def lease_renew(item_id, owner: str) -> None:
    MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(
        apply_lease_until=timezone.now() + APPLY_LEASE
    )


def lease_drop(item_id, owner: str) -> None:
    """Let go, whatever arrived meanwhile: for a holder that is not applying (a job copying the
    replicas; the caller queues an apply for what arrived), or one whose applying failed."""
    MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(
        apply_lease_owner="", apply_lease_until=None
    )


def lease_release(item_id, owner: str) -> bool:
    """Let go unless work arrived meanwhile (then keep the lease and say so)."""
    if MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner, apply_pending=False).update(
        apply_lease_owner="", apply_lease_until=None
    ):
        return True
    MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(apply_pending=False)
    return False
