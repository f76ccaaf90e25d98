"""The cache storage account on Azure Blob Storage (OBJECT_STORE=azure, Azurite here): uploaded batches
are blobs in the account's container, the apply reads them from there, and nothing is written to the
hub's local folder; a recorded point deletes them, and a blob lost from the service makes the disk resync."""

from __future__ import annotations

import hashlib

import pytest

from hub.object_store import store
from replication.models import ReplicationBatch
from replication.replica_files import storage_account_name
from replication.tests.encoder import MIB, ProcessServer, apply, image, replica_bytes, send_full

pytestmark = pytest.mark.django_db


@pytest.fixture
def blob_replicating(settings, azurite, request):
    settings.OBJECT_STORE = "azure"
    settings.AZURE_STORAGE_CONNECTION_STRING = azurite.connection_string
    return request.getfixturevalue("replicating")


def test_batches_are_blobs_in_the_accounts_container_and_apply_from_there(blob_replicating, settings):
    item = blob_replicating
    account = storage_account_name(item.project)
    ps = ProcessServer(item.project)
    source = image(7, MIB)
    send_full(ps, item, "disk0", source, cycle=1, first_sequence=1, batch_blocks=40)
    names = [batch.blob_name for batch in ReplicationBatch.objects.filter(disk__item=item)]
    assert len(names) > 1 and all(name.startswith(f"{account}/{item.pk}/") for name in names)
    assert sorted(store().names(f"{account}/{item.pk}/")) == sorted(names)
    assert not (settings.REPLICATION_DIR / "storage").exists(), "nothing stored on the hub's own disk"

    apply(item)
    assert hashlib.sha256(replica_bytes(item, "disk0")).digest() == hashlib.sha256(source).digest()
    # The recovery point covers them: the cache storage account lets them go.
    assert not ReplicationBatch.objects.filter(disk__item=item).exists()
    assert list(store().names(f"{account}/{item.pk}/")) == []


def test_a_batch_lost_from_blob_storage_makes_the_disk_resync(blob_replicating):
    item = blob_replicating
    ps = ProcessServer(item.project)
    send_full(ps, item, "disk0", image(8, MIB), cycle=1, first_sequence=1, batch_blocks=40)
    lost = ReplicationBatch.objects.filter(disk__item=item).order_by("sequence").first()
    store().delete(lost.blob_name)
    apply(item)
    disk = item.disks.get(disk_id="disk0")
    assert disk.resync_required
