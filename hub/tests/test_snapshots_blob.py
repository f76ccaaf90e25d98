"""Snapshots with the Blob backend (OBJECT_STORE=azure, Azurite): the store's objects are saved and
restored like the local backend's, and the hold is an object in the store, so a worker on another host
(a SNAPSHOT_DIR of its own) pauses too."""

import pytest
from django.core.management import call_command

from hub import snapshot_storage, snapshots
from hub.object_store import store

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def blob_hub(settings, tmp_path, azurite):
    settings.DATA_DIR = tmp_path / "data"
    settings.REPLICATION_DIR = tmp_path / "data" / "replication"
    settings.SNAPSHOT_DIR = tmp_path / "data" / "snapshots"
    settings.OBJECT_STORE = "azure"
    settings.AZURE_STORAGE_CONNECTION_STRING = azurite.connection_string
    store.cache_clear()
    for container in store().containers():  # Azurite is one per test worker: start from an empty account
        store().delete_container(container)
    snapshots._epoch_cache = snapshots._shared_cache = None
    call_command("seed_demo", verbosity=0)
    yield settings
    store.cache_clear()
    snapshots._shared_cache = None


def test_save_and_restore_give_back_the_blob_containers_objects(blob_hub):
    store().put("cache-1/points/item-1/chunks/ab/ab01", b"chunk one")
    store().put("cache-1/item-1/disk-1/000000000001.batch", b"batch one")
    snapshots.snapshot_save("before-cutover")
    store().put("cache-1/item-1/disk-1/000000000002.batch", b"batch two")
    store().delete("cache-1/points/item-1/chunks/ab/ab01")

    snapshots.snapshot_restore("before-cutover")
    assert store().get("cache-1/points/item-1/chunks/ab/ab01") == b"chunk one"
    assert store().get("cache-1/item-1/disk-1/000000000001.batch") == b"batch one"
    assert not store().exists("cache-1/item-1/disk-1/000000000002.batch")
    assert not store().exists(snapshot_storage.HOLD_OBJECT), "the hold ends with the restore"
    saved = blob_hub.SNAPSHOT_DIR / "before-cutover"
    assert not any("hub-snapshot-hold" in path.as_posix() for path in saved.rglob("*")), "no snapshot holds it"


def test_a_save_pauses_workers_on_another_host(blob_hub, tmp_path, monkeypatch):
    seen = []

    def busy() -> str:
        # Asked while the save holds the hub: a worker on another host sees no hold file of its own.
        with monkeypatch.context() as other_host:
            other_host.setattr(snapshots, "snapshot_dir", lambda: tmp_path / "other-host" / "snapshots")
            snapshots._shared_cache = None
            seen.append(snapshots.writes_paused())
        return ""

    monkeypatch.setitem(snapshots._participants, "probe", snapshots.Participant(busy=busy, after_restore=None))
    snapshots.snapshot_save("held")
    assert seen == [True]
    snapshots._shared_cache = None
    assert not snapshots.writes_paused()
