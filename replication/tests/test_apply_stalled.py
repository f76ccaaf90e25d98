"""The heartbeat's stalled-apply check (replication/uploads.py, apply_stalled) for an item whose holder
died: its lease lapses, the heartbeat queues one apply and marks it awaited, and the heartbeats after
that queue nothing more until it is taken. The mark used to be written only on rows without an owner,
so a dead holder's row kept its lapsed lease and every heartbeat queued another apply for it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from replication import apply_lease, uploads
from replication.models import MigrationItem
from replication.tests.test_apply_queueing import apply_messages, send
from replication.tests.test_data_path import MIB, ProcessServer, apply, image

pytestmark = pytest.mark.django_db


def test_a_dead_holders_item_gets_one_queued_apply_across_heartbeats(replicating):
    item, source = replicating, image(3, MIB)
    send(item, ProcessServer(item.project), 1, source)
    assert apply_lease.lease_take(item.pk, "killed-worker")  # ... and its worker is SIGKILLed
    lapsed = timezone.now() - timedelta(seconds=1)
    quiet = timezone.now() - timedelta(minutes=5)
    MigrationItem.objects.filter(pk=item.pk).update(apply_lease_until=lapsed, last_upload_at=quiet)
    queued = apply_messages(item)

    uploads.apply_stalled(item.appliance)
    assert apply_messages(item) == queued + 1
    item.refresh_from_db()
    assert item.apply_lease_owner == "" and item.apply_lease_until > timezone.now(), "marked queued"
    for _ in range(3):
        uploads.apply_stalled(item.appliance)
    assert apply_messages(item) == queued + 1, "awaited: not queued again at each heartbeat"
    apply(item)
    assert item.disks.get(disk_id="disk0").applied_sequence == 1


def test_a_live_holder_is_left_alone(replicating):
    item, source = replicating, image(3, MIB)
    send(item, ProcessServer(item.project), 1, source)
    assert apply_lease.lease_take(item.pk, "live-worker")
    MigrationItem.objects.filter(pk=item.pk).update(last_upload_at=timezone.now() - timedelta(minutes=5))
    queued = apply_messages(item)
    uploads.apply_stalled(item.appliance)
    assert apply_messages(item) == queued
    item.refresh_from_db()
    assert item.apply_lease_owner == "live-worker"
