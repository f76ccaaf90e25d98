"""Snapshots of the whole hub (hub/snapshots.py): save, change, restore gives back the same rows (the
database's data dump, byte for byte, sequences included) and the same replication files and objects."""

import hashlib
import json
import os
import socket
import subprocess

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from hub import clock, snapshot_database, snapshots
from hub.models import ApiToken
from hub.object_store import store

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hub_dirs(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.REPLICATION_DIR = tmp_path / "data" / "replication"
    settings.SNAPSHOT_DIR = tmp_path / "data" / "snapshots"
    store.cache_clear()
    snapshots._epoch_cache = None
    call_command("seed_demo", verbosity=0)
    yield settings
    store.cache_clear()


def write_sparse_replica(path, size, writes):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset, data in writes:
            handle.seek(offset)
            handle.write(data)


def tree_digest(root):
    """SHA-256 of every file (name and bytes) under root: what the replication storage holds."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def test_save_change_restore_gives_back_the_same_rows_and_storage(hub_dirs):
    replica = hub_dirs.REPLICATION_DIR / "replicas" / "item-1" / "disk-1.img"
    write_sparse_replica(replica, 64 * 1024 * 1024, [(0, b"boot" * 1024), (40 * 1024 * 1024, b"data" * 2048)])
    store().put("cache-1/item-1/disk-1/000000000001.batch", b"batch one")
    clock.advance(clock.parse_duration("2d"))
    saved_rows = snapshot_database.data_text()
    saved_storage = tree_digest(hub_dirs.REPLICATION_DIR)
    epoch_before = snapshots.hub_epoch()

    manifest = snapshots.snapshot_save("cutover-night", created_by="test")
    assert manifest["name"] == "cutover-night" and manifest["database"] == snapshot_database.vendor()
    assert [m["name"] for m in snapshots.snapshot_list()] == ["cutover-night"]
    # The copy is sparse: the 64 MB replica costs its 12 KB of data.
    assert manifest["fileBytes"] < 1024 * 1024
    assert snapshot_database.data_text(hub_dirs.SNAPSHOT_DIR / "cutover-night" / snapshot_database.dump_name()) == (
        saved_rows
    )

    # Change everything a rehearsal changes: rows, sequences, the clock, replicas, stored objects.
    get_user_model().objects.create_user(email="new@contoso.com", password="x" * 12)
    clock.reset()
    write_sparse_replica(replica, 64 * 1024 * 1024, [(8192, b"changed" * 100)])
    (replica.parent / "disk-2.img").write_bytes(b"new replica")
    store().put("cache-1/item-1/disk-1/000000000002.batch", b"batch two")
    store().delete("cache-1/item-1/disk-1/000000000001.batch")
    assert snapshot_database.data_text() != saved_rows

    restored = snapshots.snapshot_restore("cutover-night")
    assert snapshot_database.data_text() == saved_rows  # byte-identical, sequences included
    assert tree_digest(hub_dirs.REPLICATION_DIR) == saved_storage
    assert store().get("cache-1/item-1/disk-1/000000000001.batch") == b"batch one"
    assert not store().exists("cache-1/item-1/disk-1/000000000002.batch")
    assert os.stat(replica).st_blocks * 512 < 1024 * 1024  # still sparse
    # Appliances and agents are told: a new epoch.
    assert restored["hubEpoch"] == snapshots.hub_epoch() != epoch_before
    clock._cached = None
    assert clock.offset().days == 2


def test_reset_goes_back_to_the_demo_data(hub_dirs):
    fresh = snapshot_database.data_text()
    write_sparse_replica(hub_dirs.REPLICATION_DIR / "replicas" / "i" / "d.img", 4096, [(0, b"x")])
    store().put("cache-1/i/d/1.batch", b"x")
    get_user_model().objects.create_user(email="new@contoso.com", password="x" * 12)
    snapshots.snapshot_reset()
    assert not get_user_model().objects.filter(email="new@contoso.com").exists()
    assert get_user_model().objects.filter(email="admin@contoso.com", is_staff=True).exists()
    assert list(store().names("")) == []
    assert not (hub_dirs.REPLICATION_DIR / "replicas" / "i" / "d.img").exists()
    assert len(snapshot_database.data_text()) == pytest.approx(len(fresh), rel=0.2)


def test_bounded_names_and_clear_refusals(hub_dirs):
    for bad in ("", "../up", "a" * 64, "spaces in it", ".hidden", None):
        with pytest.raises(snapshots.SnapshotError) as refused:
            snapshots.snapshot_save(bad)
        assert refused.value.code == "InvalidSnapshotName" and refused.value.status == 400
    snapshots.snapshot_save("one")
    with pytest.raises(snapshots.SnapshotError, match="exists") as exists:
        snapshots.snapshot_save("one")
    assert exists.value.status == 409
    with pytest.raises(snapshots.SnapshotError) as missing:
        snapshots.snapshot_restore("two")
    assert missing.value.code == "SnapshotNotFound" and missing.value.status == 404
    # Another operation under way: a second one is refused, naming it.
    (hub_dirs.SNAPSHOT_DIR / ".hold").write_text(json.dumps({"operation": "save", "name": "x", "since": "now"}))
    assert snapshots.writes_paused()
    with pytest.raises(snapshots.SnapshotError, match="save x") as busy:
        snapshots.snapshot_save("three")
    assert busy.value.code == "SnapshotOperationInProgress"
    # A holder that died on this host (killed mid-save) pauses nothing.
    dead = subprocess.Popen(["true"])
    dead.wait()
    hold = {"operation": "save", "name": "x", "pid": dead.pid, "host": socket.gethostname()}
    (hub_dirs.SNAPSHOT_DIR / ".hold").write_text(json.dumps(hold))
    assert not snapshots.writes_paused()
    snapshots.snapshot_save("three")
    snapshots.snapshot_delete("three")
    snapshots.snapshot_delete("one")
    assert snapshots.snapshot_list() == []


def test_a_snapshot_of_other_migrations_is_refused(hub_dirs):
    snapshots.snapshot_save("old")
    manifest_path = hub_dirs.SNAPSHOT_DIR / "old" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["migrations"] = manifest["migrations"][:-1]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(snapshots.SnapshotError, match="other database migrations") as refused:
        snapshots.snapshot_restore("old")
    assert refused.value.code == "SnapshotIncompatible"


def test_a_save_waits_for_work_under_way_and_names_it(hub_dirs, monkeypatch):
    monkeypatch.setattr(snapshots, "QUIET_SECONDS", 0.3)
    monkeypatch.setitem(snapshots._participants, "test", snapshots.Participant(lambda: "1 job(s) running", None))
    with pytest.raises(snapshots.SnapshotError, match="1 job") as busy:
        snapshots.snapshot_save("busy")
    assert busy.value.code == "HubBusy"
    assert snapshots.snapshot_list() == [] and not snapshots.writes_paused()


def test_the_command_saves_lists_restores_and_explains_refusals(hub_dirs, capsys):
    call_command("snapshot", "save", "rehearsal-1")
    call_command("snapshot", "list")
    assert "rehearsal-1" in capsys.readouterr().out
    call_command("snapshot", "restore", "rehearsal-1")
    assert "Restored snapshot rehearsal-1" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no snapshot named"):
        call_command("snapshot", "restore", "nope")


def test_the_api_is_for_staff_or_their_token(hub_dirs):
    User = get_user_model()
    admin = User.objects.get(email="admin@contoso.com")
    _, admin_token = ApiToken.issue(admin, "emulator")
    _, migrator_token = ApiToken.issue(User.objects.get(email="migrator@contoso.com"), "emulator")
    client = APIClient()
    assert client.get("/emulator/snapshots").status_code in (401, 403)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {migrator_token}")
    refused = client.post("/emulator/snapshots", {"action": "save", "name": "x"}, format="json")
    assert refused.status_code == 403 and "staff" in refused.json()["error"]["message"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    created = client.post("/emulator/snapshots", {"action": "save", "name": "api-1"}, format="json")
    assert created.status_code == 201 and created.json()["createdBy"] == "admin@contoso.com"
    listed = client.get("/emulator/snapshots").json()
    assert [m["name"] for m in listed["value"]] == ["api-1"] and listed["hubEpoch"]
    bad = client.post("/emulator/snapshots", {"action": "save", "name": "../x"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidSnapshotName"
    assert client.post("/emulator/snapshots", {"action": "fly"}, format="json").status_code == 400
    restored = client.post("/emulator/snapshots", {"action": "restore", "name": "api-1"}, format="json")
    assert restored.status_code == 200 and restored.json()["hubEpoch"] == snapshots.hub_epoch()
    missing = client.post("/emulator/snapshots", {"action": "restore", "name": "api-2"}, format="json")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "SnapshotNotFound"
    deleted = client.post("/emulator/snapshots", {"action": "delete", "name": "api-1"}, format="json")
    assert deleted.status_code == 200 and deleted.json()["value"] == []


def test_requests_wait_while_a_restore_runs(hub_dirs, client):
    hub_dirs.SNAPSHOT_DIR.mkdir(parents=True, exist_ok=True)
    (hub_dirs.SNAPSHOT_DIR / ".hold").write_text(json.dumps({"operation": "restore", "name": "x"}))
    response = client.get("/signin/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "HubRestoring"
    assert client.get("/healthz").status_code == 200


def test_the_snapshots_tab_is_for_staff_and_explains_a_bad_name(hub_dirs, client):
    client.force_login(get_user_model().objects.get(email="migrator@contoso.com"))
    assert client.get("/emulator/portal/snapshots/").status_code == 302  # to sign-in
    client.force_login(get_user_model().objects.get(email="admin@contoso.com"))
    refused = client.post("/emulator/portal/snapshots/save/", {"name": "no/slashes"})
    assert refused.status_code == 400 and b"A snapshot name is 1 to 63" in refused.content
    saved = client.post("/emulator/portal/snapshots/save/", {"name": "tab-1"}, follow=True)
    assert b"Saved snapshot tab-1" in saved.content and b'data-snapshot="tab-1"' in saved.content
    again = client.post("/emulator/portal/snapshots/save/", {"name": "tab-1"})
    assert again.status_code == 409 and b"exists" in again.content
    restored = client.post("/emulator/portal/snapshots/restore/", {"name": "tab-1"}, follow=True)
    assert b"Restored snapshot tab-1" in restored.content  # still signed in
    missing = client.post("/emulator/portal/snapshots/restore/", {"name": "tab-2"}, follow=True)
    assert b"no snapshot named" in missing.content
