"""Apply scheduling for many items (issue 14 item 5): at most one apply queued per item, marked on its
row by the statement that decides to queue it (replication/apply_lease.py, lease_request); a worker
taking the lease clears the mark; a lost task is queued again by the heartbeat once the mark lapses; a
holder with nothing to apply lets go at once while another item's apply waits. And an upload's
transaction refused by a PostgreSQL deadlock is run again, never answered 500 (hub/db_conflicts.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg.errors
import pytest
from django.db import OperationalError
from django.utils import timezone

from jobs.models import OutboxMessage
from replication import apply_lease, snapshot_hooks, uploads
from replication.models import DiscoveredServer, MigrationItem, ReplicationBatch
from replication.tests.test_data_path import MIB, ProcessServer, apply, image, records, upload_over_http
from replication.uploads import APPLY_REPLICATION_TASK

pytestmark = pytest.mark.django_db

LONG_WAIT = 30.0  # never reached: a holder with others waiting returns before waiting at all


def apply_messages(item) -> int:
    return OutboxMessage.objects.filter(task_name=APPLY_REPLICATION_TASK, args=[str(item.pk)]).count()


def send(item, ps, sequence: int, source) -> None:
    uploads.batch_store(
        item.appliance, ps.body(item, "disk0", sequence, 1, records(bytes(source), [sequence]), full=True)
    )


def test_uploads_with_no_holder_queue_one_apply_until_a_worker_takes_it(replicating):
    item, source = replicating, image(3, MIB)
    ps = ProcessServer(item.project)
    before = apply_messages(item)
    for sequence in (1, 2, 3):
        send(item, ps, sequence, source)
    assert apply_messages(item) == before + 1, "one queued apply per item, not one per stored batch"
    item.refresh_from_db()
    assert item.apply_lease_owner == "" and item.apply_lease_until > timezone.now(), "marked queued"
    assert item.apply_pending, "the queued apply is told of the batches that came after it"

    # The queued task runs: it takes the lease (clearing the mark), applies all three and lets go.
    apply(item)
    item.refresh_from_db()
    assert item.apply_lease_owner == "" and item.apply_lease_until is None
    assert item.disks.get(disk_id="disk0").applied_sequence == 3
    send(item, ps, 4, source)
    assert apply_messages(item) == before + 2, "nothing queued or held: the next upload queues one"


def test_deciding_again_is_idempotent_and_a_live_holder_is_flagged_not_queued(replicating):
    item = replicating
    assert apply_lease.lease_request(item.pk), "the first asks for a task"
    assert not apply_lease.lease_request(item.pk), "a second (a re-run, a concurrent upload) does not"
    assert apply_lease.lease_take(item.pk, "worker-a")
    item.refresh_from_db()
    assert not item.apply_pending, "taking the lease clears the mark and the flag"
    assert not apply_lease.lease_request(item.pk)
    item.refresh_from_db()
    assert item.apply_pending and item.apply_lease_owner == "worker-a"
    assert not apply_lease.lease_release(item.pk, "worker-a"), "flagged: the holder looks again"
    assert apply_lease.lease_release(item.pk, "worker-a")
    assert apply_lease.lease_request(item.pk)


def test_a_lost_queued_apply_is_queued_again_by_the_heartbeat_once_its_mark_lapses(replicating):
    item, source = replicating, image(5, MIB)
    send(item, ProcessServer(item.project), 1, source)
    queued = apply_messages(item)
    MigrationItem.objects.filter(pk=item.pk).update(last_upload_at=timezone.now() - timedelta(minutes=5))
    uploads.apply_stalled(item.appliance)
    assert apply_messages(item) == queued, "its apply is still awaited: not queued again"

    # The task was lost (an in-memory broker restarted): its mark lapses and the heartbeat queues another.
    MigrationItem.objects.filter(pk=item.pk).update(apply_lease_until=timezone.now() - timedelta(seconds=1))
    uploads.apply_stalled(item.appliance)
    uploads.apply_stalled(item.appliance)
    assert apply_messages(item) == queued + 1
    apply(item)
    assert item.disks.get(disk_id="disk0").applied_sequence == 1


def another_item(item) -> MigrationItem:
    """A second item row on the same appliance (only its lease fields are read): web01's, copied."""
    server = DiscoveredServer.objects.get(pk=item.server_id)
    server.pk, server.machine_id, server.name = uuid.uuid4(), "m-web02", "web02"
    server.save(force_insert=True)
    other = MigrationItem.objects.get(pk=item.pk)
    other.pk, other.server, other.current_job = uuid.uuid4(), server, None
    other.save(force_insert=True)
    return other


def test_a_holder_lets_go_at_once_while_another_items_apply_waits(replicating, monkeypatch):
    item = replicating
    other = another_item(item)
    assert apply_lease.lease_take(item.pk, "worker-a")
    monkeypatch.setattr(apply_lease, "_redis", lambda url: pytest.fail("no wait while others wait"))
    monkeypatch.setattr(apply_lease, "_poll_for_work", lambda *args: pytest.fail("no wait while others wait"))
    MigrationItem.objects.filter(pk=other.pk).update(
        apply_lease_owner="", apply_lease_until=timezone.now() + apply_lease.APPLY_QUEUED_FOR
    )
    assert apply_lease.others_waiting(item.pk)
    assert not apply_lease.lease_wait_for_work(item.pk, "worker-a", seconds=LONG_WAIT)
    assert apply_lease.lease_release(item.pk, "worker-a")


def deadlock() -> OperationalError:
    """What Django raises when PostgreSQL picks this transaction as a deadlock's victim."""
    error = OperationalError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return error


def test_an_upload_whose_transaction_deadlocks_is_run_again_and_stored_once(replicating, monkeypatch):
    item, source = replicating, image(9, MIB)
    real, refusals = uploads._record_throughput, []

    def deadlocking_once(*args, **kwargs):
        if not refusals:
            refusals.append(1)
            raise deadlock()
        return real(*args, **kwargs)

    monkeypatch.setattr(uploads, "_record_throughput", deadlocking_once)
    send(item, ProcessServer(item.project), 1, source)
    assert refusals == [1]
    disk = item.disks.get(disk_id="disk0")
    assert disk.stored_sequence == 1
    assert ReplicationBatch.objects.filter(disk=disk, sequence=1).count() == 1
    assert apply_messages(item) == 1


def test_an_upload_that_keeps_deadlocking_gets_a_retryable_503_envelope_not_a_500(replicating, monkeypatch):
    item, source = replicating, image(11, MIB)

    def deadlocking(*args, **kwargs):
        raise deadlock()

    monkeypatch.setattr(uploads, "_record_throughput", deadlocking)
    body = ProcessServer(item.project).body(item, "disk0", 1, 1, records(bytes(source), [1]), full=True)
    response = upload_over_http(item, body)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "RetryableError"
    assert response["Retry-After"] == "1"
    assert item.disks.get(disk_id="disk0").stored_sequence == 0, "nothing of it was kept"
    monkeypatch.undo()
    assert upload_over_http(item, body).status_code == 201, "the resend is stored"


def test_a_task_refused_by_a_snapshot_hold_leaves_no_queued_mark_behind(replicating, monkeypatch):
    """A task refused while a snapshot holds the hub takes its queued mark with it: left, the uploads
    after the hold would only flag an apply that no longer exists until the mark lapsed."""
    item = replicating
    assert apply_lease.lease_request(item.pk)
    monkeypatch.setattr(apply_lease.snapshots, "writes_paused", lambda: True)
    assert not apply_lease.lease_take(item.pk, "worker-1")
    monkeypatch.undo()
    item.refresh_from_db()
    assert item.apply_lease_until is None
    assert apply_lease.lease_request(item.pk), "the hold ended: the next upload queues an apply again"


def test_a_restore_lets_go_of_the_leases_and_queued_marks_the_snapshot_held(replicating):
    item = replicating
    MigrationItem.objects.filter(pk=item.pk).update(
        apply_lease_owner="", apply_lease_until=timezone.now() + timedelta(seconds=300), apply_pending=True
    )
    snapshot_hooks.forget_apply_leases()
    item.refresh_from_db()
    assert (item.apply_lease_owner, item.apply_lease_until, item.apply_pending) == ("", None, False)
    assert apply_lease.lease_request(item.pk), "an upload after the restore queues an apply"
