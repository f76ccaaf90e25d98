"""The apply lease: one worker at a time applies an item's stored batches to its replicas.

The lease is a row field with an expiry, renewed as the holder goes, so a dead worker's lease lapses.
A job copying the replicas into a VM's disks takes the same lease, so it copies one recovery point.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from hub import snapshots
from replication.models import MigrationItem

# A worker applying an item's batches holds a lease, renewed as it goes; a dead worker's lease lapses.
APPLY_LEASE = timedelta(seconds=15)
# The holder renews at most this often: a renewal per 4 MiB batch was a statement per batch for nothing.
RENEW_EVERY = timedelta(seconds=3)
# Once it has applied everything stored, the holder waits this long for the next upload to flag it
# before letting go: during a cycle batches arrive every few tens of milliseconds, and one task that
# keeps applying costs far less than a task (and a lease taken and let go) per batch.
LINGER_SECONDS = 1.0
LINGER_CHECK_SECONDS = 0.05


def lease_take(item_id, owner: str) -> bool:
    if snapshots.writes_paused():
        # A snapshot is being saved or restored (replication/snapshot_hooks.py): the replicas stay as
        # they are until it is done; the next upload or heartbeat queues the apply again.
        return False

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


class LeaseLost(Exception):
    """The holder's lease lapsed (a long write without a renewal) and another worker took it: the holder
    must stop at once, committing nothing more. Two appliers at once corrupted replicas: each wrote its
    host's working copy and the item's rows, and a point could be recorded from a copy the other moved."""


def lease_renew(item_id, owner: str) -> bool:
    """Extend the lease; False when it is no longer this owner's (see LeaseLost)."""
    return bool(
        MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(
            apply_lease_until=timezone.now() + APPLY_LEASE
        )
    )


def lease_flag_pending(item_id) -> bool:
    """For an upload: when a worker holds the item's live lease, tell it to look again before it lets
    go (True), instead of queueing another apply task. False: nobody holds it, queue one. Run in the
    upload's transaction: a holder letting go meanwhile waits for its commit, then sees the flag."""
    return bool(
        MigrationItem.objects.filter(pk=item_id, apply_lease_until__gt=timezone.now())
        .exclude(apply_lease_owner="")
        .update(apply_pending=True)
    )


def lease_wait_for_work(item_id, owner: str, seconds: float = LINGER_SECONDS) -> bool:
    """The holder, with nothing left to apply: wait up to `seconds` for an upload to flag more work.
    True when one did; False when none came (or the lease is no longer this owner's)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(LINGER_CHECK_SECONDS)
        state = MigrationItem.objects.filter(pk=item_id).values_list("apply_lease_owner", "apply_pending").first()
        if state is None or state[0] != owner:
            return False
        if state[1]:
            # Seen: cleared before the next pass, which finds whatever the flagging upload committed.
            MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(
                apply_pending=False, apply_lease_until=timezone.now() + APPLY_LEASE
            )
            return True
    return False


def lease_drop(item_id, owner: str) -> None:
    """Let go, whatever arrived meanwhile: for a holder that is not applying (a job copying the
    replicas; the caller queues an apply for what arrived), or one whose applying failed."""
    MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(
        apply_lease_owner="", apply_lease_until=None
    )


def lease_release(item_id, owner: str) -> bool:
    """Let go unless work arrived meanwhile (then keep the lease and say so). A lease another worker
    took meanwhile counts as let go: that worker applies what arrived."""
    if MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner, apply_pending=False).update(
        apply_lease_owner="", apply_lease_until=None
    ):
        return True
    return not MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).update(apply_pending=False)
