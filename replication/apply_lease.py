"""The apply lease: one worker at a time applies an item's stored batches to its replicas.

The lease is a row field with an expiry, renewed as the holder goes, so a dead worker's lease lapses.
A job copying the replicas into a VM's disks takes the same lease, so it copies one recovery point.

Between batches the holder waits for the next upload. The row's `apply_pending` flag says there is
work; with Redis (the production topology) the upload also pushes to a per-item list once its flag is
committed, and the holder blocks on that list instead of reading the row every 50 ms (a query cost
that grew with the upload's wall time, most of it under load). The row stays the truth: a wake-up is
only a hint to read it, and a wait that times out reads it once, so a lost push costs a delay, never
an apply. Embedded (no Redis), the holder reads the row every 50 ms as before.

At most one apply is queued per item: an upload that finds no holder marks the row (no owner,
`apply_lease_until` ahead: "an apply is queued, awaited until then") in the same statement that decides
to queue, so the uploads that follow only flag the row (lease_request). 200 slow items once queued a
task per stored batch (about 920 waiting at once). A worker that takes the lease clears the mark; a
task lost on the way lets the mark lapse, and the heartbeat's stalled-apply check queues it again
(replication/uploads.py, apply_stalled). The mark is long while the task waits in the broker's queue
(APPLY_QUEUED_FOR) and short once a worker has received it (lease_received, APPLY_RECEIVED_FOR): a
worker killed between receiving the task and taking the lease held the item for the long mark, and
the broker hands the task out again only after the same 300 s, so the replica waited five minutes.
The holder lingers for more of its cycle only while no other item's apply waits: one fast item keeps
its task, 200 slow ones share the worker's threads.
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
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
# A wake-up list outlives a holder that stopped waiting by this long, so lists of finished items go.
WAKE_KEY_SECONDS = 60
# One BLPOP blocks at most this long, under the client's socket timeout: a Redis that stops answering
# fails the wait (and the holder falls back to the row) instead of hanging the worker.
WAKE_BLOCK_SECONDS = 5.0
WAKE_SOCKET_SECONDS = WAKE_BLOCK_SECONDS + 5
# An apply queued for an item (and not yet taken by a worker) is not queued again for this long, by
# uploads or heartbeats; a task lost on the way (an in-memory broker restarted) is queued again once
# it lapses. It must outlast the worker's backlog: with 30 s, 200 items during initial replication on a
# loaded machine queued a task again at each lapse, and the backlog that caused it grew (732 applies
# for 185 items, up to 8 each), and 120 s still 2–3 each with the queue ~150 s deep. As long as the
# broker's visibility timeout (settings.TASK_VISIBILITY_TIMEOUT_SECONDS, 300 s by default): a task held
# by a worker that died is handed out again after that long anyway.
APPLY_QUEUED_FOR = timedelta(seconds=300)
# Once a worker has received the queued task (lease_received), the mark only has to last until that
# task takes the lease, milliseconds later (its worker reserves no more tasks than it has threads).
# Should the worker die first, the mark lapses as a dead holder's lease does, and the next upload or
# heartbeat queues the apply again; a worker slower than this to start it costs a second task, which
# finds the lease taken and leaves.
APPLY_RECEIVED_FOR = APPLY_LEASE

logger = logging.getLogger(__name__)


def unreceived_marks_lapse() -> int:
    """A worker died (jobs.supervision): the apply tasks it had fetched but not yet received died with
    it, their items still marked queued for APPLY_QUEUED_FOR, and the broker handed none out again
    (seen: a worker killed at the moment it fetched one left its item unapplied for minutes). Which
    item's task it held is unknown, so every mark not yet received lapses now: the next upload or
    heartbeat queues those applies again; one still waiting in the broker costs a second task, which
    finds the lease taken or nothing to apply. Returns how many lapsed."""
    now = timezone.now()
    return MigrationItem.objects.filter(apply_lease_owner="", apply_lease_until__gt=now + APPLY_RECEIVED_FOR).update(
        apply_lease_until=now
    )


def lease_received(item_id) -> bool:
    """A worker received the item's queued apply task: shorten the queued mark to APPLY_RECEIVED_FOR.
    Conditional, so it never lengthens a mark nor touches a holder's lease; True when it shortened one."""
    now = timezone.now()
    return bool(
        MigrationItem.objects.filter(
            pk=item_id, apply_lease_owner="", apply_lease_until__gt=now + APPLY_RECEIVED_FOR
        ).update(apply_lease_until=now + APPLY_RECEIVED_FOR)
    )


def lease_take(item_id, owner: str) -> bool:
    if snapshots.writes_paused():
        # A snapshot is being saved or restored (replication/snapshot_hooks.py): the replicas stay as
        # they are until it is done; the next upload or heartbeat queues the apply again. So the mark
        # this task was queued under goes with it: left, it would have those uploads only flag a queued
        # apply that no longer exists, and the replica would wait for the mark to lapse.
        MigrationItem.objects.filter(pk=item_id, apply_lease_owner="").update(apply_lease_until=None)
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
    transaction.on_commit(lambda: lease_wake(item_id), robust=True)
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


def lease_request(item_id) -> bool:
    """For an upload, in its transaction, once its batch is stored: True when the caller should queue an
    apply task (nobody holds the lease and none is queued: the row is marked queued in the same
    statement, so concurrent uploads queue one between them). Otherwise the holder, or the queued task,
    is flagged (apply_pending) and applies the batch: the flag's row lock is held until the upload
    commits, so a holder letting go, or a queued task taking the lease, waits for it and then sees the
    batch. Each decision is one conditional statement; a row that changed between the two (the holder
    let go) is tried again."""
    for _ in range(3):
        now = timezone.now()
        if MigrationItem.objects.filter(pk=item_id, apply_lease_until__gt=now).update(apply_pending=True):
            # A lingering holder blocks on the wake-up, not on the row; a queued task needs none.
            transaction.on_commit(lambda: lease_wake(item_id), robust=True)
            return False
        if (
            MigrationItem.objects.filter(pk=item_id)
            .filter(Q(apply_lease_until__isnull=True) | Q(apply_lease_until__lte=now))
            .update(apply_lease_owner="", apply_lease_until=now + APPLY_QUEUED_FOR)
        ):
            return True
    return True  # the row kept changing under us: a second task costs a lease_take, a lost one an RPO


def others_waiting(item_id) -> bool:
    """Whether another item's apply is queued and not yet taken (its row marked by lease_request or the
    heartbeat): then a holder with nothing to apply lets go at once rather than keep a worker thread."""
    return (
        MigrationItem.objects.filter(apply_lease_owner="", apply_lease_until__gt=timezone.now())
        .exclude(pk=item_id)
        .exists()
    )


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=WAKE_SOCKET_SECONDS)


def _wake_key(item_id) -> str:
    # Hubs that share a Redis but not a database (test rigs, side-by-side installs) wake their own holders.
    return f"migratehub:apply-wake:{settings.DATABASES['default']['NAME']}:{item_id}"


def lease_wake(item_id) -> None:
    """Wake the item's lingering holder: for an upload that flagged it, once that flag is committed (the
    holder reads the row when woken). Nothing embedded, where the holder reads the row itself."""
    if not settings.REDIS_URL:
        return
    key = _wake_key(item_id)
    try:
        pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
        pipe.rpush(key, 1).expire(key, WAKE_KEY_SECONDS).execute()
    except redis.RedisError as error:
        # The holder's wait times out and reads the flag from the row: later, not lost.
        logger.warning("Item %s: could not wake its apply holder (%s)", item_id, error)


def lease_wait_for_work(item_id, owner: str, seconds: float = LINGER_SECONDS) -> bool:
    """The holder, with nothing left to apply: wait up to `seconds` for an upload to flag more work.
    True when one did; False when none came (or the lease is no longer this owner's), and at once when
    another item's apply waits for a worker: the holder lets go unless work arrived meanwhile
    (lease_release), and the next upload queues its apply again."""
    if others_waiting(item_id):
        return False
    if not settings.REDIS_URL:
        return _poll_for_work(item_id, owner, seconds)
    deadline = time.monotonic() + seconds
    key, client = _wake_key(item_id), _redis(settings.REDIS_URL)
    while True:
        remaining = deadline - time.monotonic()
        try:
            # BLPOP's timeout 0 means for ever: a wait already over only reads the row.
            woken = remaining > 0 and client.blpop([key], timeout=min(remaining, WAKE_BLOCK_SECONDS)) is not None
            if woken:
                # Wake-ups pushed meanwhile are for flags the read below sees; later ones stay listed.
                client.delete(key)
        except redis.RedisError as error:
            logger.warning("Item %s: waiting for uploads through the database (%s)", item_id, error)
            return _poll_for_work(item_id, owner, max(remaining, 0.0))
        if _take_flag(item_id, owner):
            return True
        if not woken and time.monotonic() >= deadline:
            return False
        # Woken for a flag an earlier read took already (or a long wait's slice ended): wait on, unless
        # the lease went to another worker.
        if not MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner).exists():
            return False


def _take_flag(item_id, owner: str) -> bool:
    """Clear the flag if it is set and the lease still this owner's; cleared before the next pass, which
    finds whatever the flagging upload committed."""
    return bool(
        MigrationItem.objects.filter(pk=item_id, apply_lease_owner=owner, apply_pending=True).update(
            apply_pending=False, apply_lease_until=timezone.now() + APPLY_LEASE
        )
    )


def _poll_for_work(item_id, owner: str, seconds: float) -> bool:
    """lease_wait_for_work without Redis: the row read every LINGER_CHECK_SECONDS."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(LINGER_CHECK_SECONDS)
        state = MigrationItem.objects.filter(pk=item_id).values_list("apply_lease_owner", "apply_pending").first()
        if state is None or state[0] != owner:
            return False
        if state[1] and _take_flag(item_id, owner):
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
