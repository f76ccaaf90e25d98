"""Replication's part in hub snapshots (replication/snapshot_hooks.py): uploads carry the hub epoch and
another epoch's are refused; no apply lease is taken while a snapshot holds the hub; batches a
snapshot caught beyond a gap are forgotten after a restore."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from hub import snapshots
from replication import apply_lease, snapshot_hooks, uploads
from replication.models import ReplicationBatch
from replication.tests.encoder import BLOCK, ProcessServer, image, records
from replication.tests.test_data_path import upload_over_http

pytestmark = pytest.mark.django_db


@pytest.fixture
def hub_dirs(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.SNAPSHOT_DIR = tmp_path / "data" / "snapshots"
    snapshots._epoch_cache = None
    yield
    snapshots._epoch_cache = None


def with_epoch(body: bytes, epoch: str) -> bytes:
    """The batch with hubEpoch in its header, as the process server passes on the agent's."""
    length = int.from_bytes(body[4:8], "little")
    header = json.loads(body[8 : 8 + length])
    encoded = json.dumps({**header, "hubEpoch": epoch}).encode()
    return b"MHE1" + len(encoded).to_bytes(4, "little") + encoded + body[8 + length :]


def test_a_batch_of_another_epoch_is_refused_and_one_of_this_epoch_stored(replicating, hub_dirs):
    item = replicating
    ps = ProcessServer(item.project)
    source = bytes(image(3, 4 * BLOCK))
    body = ps.body(item, "disk0", 1, 1, records(source, [0, 1]), full=True, scanned=BLOCK)
    refused = upload_over_http(item, with_epoch(body, "an-epoch-before-the-restore"))
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "HubEpochChanged"
    assert not ReplicationBatch.objects.filter(disk__item=item).exists()
    stored = upload_over_http(item, with_epoch(body, snapshots.hub_epoch()))
    assert stored.status_code == 201, stored.content
    older_agent = upload_over_http(item, ps.body(item, "disk0", 2, 1, records(source, [2]), full=True))
    assert older_agent.status_code == 201, "a batch with no epoch (an agent from before epochs) is taken"


def test_no_apply_lease_is_taken_while_a_snapshot_holds_the_hub(replicating, hub_dirs):
    item = replicating
    hold = settings.SNAPSHOT_DIR / ".hold"
    hold.parent.mkdir(parents=True, exist_ok=True)
    hold.write_text(json.dumps({"operation": "save", "name": "x"}))
    assert not apply_lease.lease_take(item.pk, "worker-1")
    hold.unlink()
    assert apply_lease.lease_take(item.pk, "worker-1")
    assert snapshot_hooks.items_applying() == "1 server(s) applying replicated data"
    apply_lease.lease_drop(item.pk, "worker-1")
    assert snapshot_hooks.items_applying() == ""


def test_batches_beyond_a_gap_are_forgotten_after_a_restore(replicating, hub_dirs):
    item = replicating
    ps = ProcessServer(item.project)
    source = bytes(image(4, 4 * BLOCK))
    for sequence in (1, 3):  # 2 never arrived
        uploads.batch_store(item.appliance, ps.body(item, "disk0", sequence, 1, records(source, [sequence]), full=True))
    ahead = ReplicationBatch.objects.get(disk__item=item, sequence=3)
    snapshot_hooks.forget_batches_ahead_of_a_gap()
    assert list(ReplicationBatch.objects.filter(disk__item=item).values_list("sequence", flat=True)) == [1]
    assert not (settings.REPLICATION_DIR / ahead.blob_name).exists()
