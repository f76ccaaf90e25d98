"""A worker killed after receiving an item's queued apply task, before the task took the item's lease
(tests/test_blob_storage_workers.py, now and then): the broker keeps such a task unacknowledged until
its visibility timeout (300 s), and the item's queued mark (apply_lease.lease_request) lasted as long,
so neither an upload nor the heartbeat queued the apply again and the replica stayed at "Initial
replication 99%". The receipt shortens the mark (replication.tasks.apply_received)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from celery import signals
from django.utils import timezone

from replication import apply_lease, tasks, uploads
from replication.models import MigrationItem
from replication.tests.test_apply_queueing import apply_messages, send
from replication.tests.test_data_path import MIB, ProcessServer, apply, image
from replication.uploads import APPLY_REPLICATION_TASK

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def connection_kept(monkeypatch):
    """The receiver hands its connection back after each receipt; here that connection holds the test's
    transaction (Django's test client keeps its request connections open the same way)."""
    monkeypatch.setattr(tasks, "close_old_connections", lambda: None)


def received(item, task_name: str = APPLY_REPLICATION_TASK, eta=None) -> None:
    """What a worker's consumer signals as it takes the task off the broker (celery.worker.strategy), to
    the receiver that the worker's import of replication.tasks connected."""
    assert tasks.apply_received
    signals.task_received.send(sender=None, request=SimpleNamespace(name=task_name, args=[str(item.pk)], eta=eta))


@pytest.fixture
def later(monkeypatch):
    """`later(seconds)`: the real clock moved on that far (leases and marks are in real time)."""
    real_now = timezone.now

    def move(seconds: float) -> None:
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=seconds))

    return move


def test_a_worker_killed_between_receiving_the_apply_and_taking_the_lease_holds_nothing_for_long(replicating, later):
    item, source = replicating, image(3, MIB)
    ps = ProcessServer(item.project)
    send(item, ps, 1, source)
    queued = apply_messages(item)
    received(item)  # ... and the worker is SIGKILLed: the task never runs, the broker keeps it 300 s
    MigrationItem.objects.filter(pk=item.pk).update(last_upload_at=timezone.now() - timedelta(minutes=5))

    later(apply_lease.APPLY_RECEIVED_FOR.total_seconds() + 1)  # well short of APPLY_QUEUED_FOR
    uploads.apply_stalled(item.appliance)
    assert apply_messages(item) == queued + 1, "the heartbeat queues the apply again"
    uploads.apply_stalled(item.appliance)
    assert apply_messages(item) == queued + 1, "once: the new task is awaited as the first was"
    apply(item)
    assert item.disks.get(disk_id="disk0").applied_sequence == 1


def test_an_upload_after_the_killed_receipt_queues_the_apply_again(replicating, later):
    item, source = replicating, image(3, MIB)
    ps = ProcessServer(item.project)
    send(item, ps, 1, source)
    queued = apply_messages(item)
    received(item)
    later(apply_lease.APPLY_RECEIVED_FOR.total_seconds() + 1)
    send(item, ps, 2, source)
    assert apply_messages(item) == queued + 1
    send(item, ps, 3, source)
    assert apply_messages(item) == queued + 1, "the uploads that follow only flag it"


def test_a_receipt_only_shortens_a_queued_mark(replicating):
    item = replicating
    received(item)
    item.refresh_from_db()
    assert item.apply_lease_until is None, "no mark: nothing to shorten, nothing marked"

    assert apply_lease.lease_request(item.pk)
    received(item, task_name="replication.tasks.discover_server")
    received(item, eta=timezone.now() + timedelta(minutes=1))
    item.refresh_from_db()
    assert item.apply_lease_until > timezone.now() + apply_lease.APPLY_RECEIVED_FOR, "another task, a countdown"
    received(item)
    item.refresh_from_db()
    assert item.apply_lease_until <= timezone.now() + apply_lease.APPLY_RECEIVED_FOR
    shortened = item.apply_lease_until
    received(item)  # a second delivery of the task (after the visibility timeout)
    item.refresh_from_db()
    assert item.apply_lease_until == shortened, "never lengthened"

    assert apply_lease.lease_take(item.pk, "worker-a"), "the received task takes the lease as before"
    received(item)
    item.refresh_from_db()
    assert item.apply_lease_owner == "worker-a"
    assert item.apply_lease_until > timezone.now() + timedelta(seconds=10), "a holder's lease is left alone"


def test_a_database_error_on_receipt_leaves_the_worker_receiving(replicating, monkeypatch, caplog):
    def refuse(item_id):
        raise apply_lease.redis.RedisError("stand-in for any failure")

    monkeypatch.setattr("replication.tasks.lease_received", refuse)
    received(replicating)  # no exception reaches the consumer
    assert "could not shorten its queued mark" in caplog.text


def test_a_worker_found_dead_lets_the_marks_of_unreceived_applies_lapse(replicating, monkeypatch):
    """A worker killed as it fetched an item's apply task, before its receipt shortened the mark
    (tests/test_migrate_worker_kill.py on a loaded machine: 57 s with no apply, and the broker never
    handed the task out again): once the worker is found dead, the next upload queues the apply again."""
    from jobs import supervision, workers
    from jobs.models import WorkerHeartbeat

    item, source = replicating, image(3, MIB)
    ps = ProcessServer(item.project)
    send(item, ps, 1, source)
    queued = apply_messages(item)  # ... fetched by a worker that is SIGKILLed: no receipt
    send(item, ps, 2, source)
    assert apply_messages(item) == queued, "the uploads that follow only flag it"

    WorkerHeartbeat.objects.create(name="killed", last_seen_at=timezone.now() - workers.STALE_AFTER * 2)
    supervision.jobs_resume_lost()
    send(item, ps, 3, source)
    assert apply_messages(item) == queued + 1, "queued again after the death"
    apply(item)
    assert item.disks.get(disk_id="disk0").applied_sequence == 3


def test_a_worker_death_leaves_received_marks_and_leases_alone(replicating):
    from jobs import supervision, workers
    from jobs.models import WorkerHeartbeat

    item = replicating
    assert apply_lease.lease_take(item.pk, "worker-a")
    WorkerHeartbeat.objects.create(name="killed", last_seen_at=timezone.now() - workers.STALE_AFTER * 2)
    supervision.jobs_resume_lost()
    item.refresh_from_db()
    assert item.apply_lease_owner == "worker-a" and item.apply_lease_until > timezone.now()
