"""Applying hands over between worker hosts with no shared folder, in one process: each "host" is a
replicas directory of its own, and both share one object store and one database. What went wrong with
two live worker hosts on the Blob backend (tests/test_blob_storage_workers.py): a point written from a
host's stale working copy, and a worker that kept applying (and committing) after its lease lapsed and
another worker took it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from replication import data_path, point_manifests, replica_files
from replication.models import MigrationItem
from replication.tests.encoder import apply
from replication.tests.test_recovery_point_history import Source, item  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def hosts(monkeypatch, tmp_path):
    """`hosts("a")` makes host a's folder the one replicas are read and written in from then on."""

    def switch(name: str) -> Path:
        folder = tmp_path / f"host-{name}"
        monkeypatch.setattr(replica_files, "replicas_dir", lambda item_id: folder / "replicas" / str(item_id))
        data_path._cycle_digests.clear()  # each host's worker has its own memory
        return folder

    return switch


def latest_point_sha256(replicating) -> str:
    point = replicating.recovery_points.order_by("-cycle").first()
    disk = replicating.disks.get(disk_id="disk0")
    manifest = point_manifests.manifest_load(replicating, disk.pk, point.cycle)
    return point_manifests.manifest_sha256(replicating, manifest)


def test_a_point_due_when_the_other_host_died_is_written_from_a_rebuilt_copy(item, hosts, monkeypatch):  # noqa: F811
    """Host a applies a cycle's marker and dies before recording its point; host b, whose copy is
    missing, must not write the point from it: it rebuilds its copy, applies the cycle again, then
    records the point, which equals the source."""
    hosts("a")
    source = Source(item)
    monkeypatch.setattr(data_path, "recovery_point_record", lambda *args, **kwargs: None)
    source.change([40, 700])  # applied through the marker; no point
    monkeypatch.undo()
    assert not item.recovery_points.filter(cycle=source.cycle).exists()
    hosts("b")
    apply(item)
    assert item.recovery_points.filter(cycle=source.cycle).exists()
    assert latest_point_sha256(item) == source.sha256()
    assert replica_files.replica_path(item.disks.get(disk_id="disk0")).read_bytes() == bytes(source.data)


def test_applying_hands_over_and_back_between_hosts(item, hosts):  # noqa: F811
    """Each cycle applied on the other host: every point equals the source at that point."""
    hosts("a")
    source = Source(item)
    for round_number, name in enumerate(["b", "a", "b", "a"]):
        hosts(name)
        source.change([round_number * 31 + 3, 1500 - round_number])
        assert latest_point_sha256(item) == source.sha256()
    assert item.recovery_points.count() == 5


def test_a_worker_whose_lease_another_took_stops_and_commits_nothing(item, hosts, monkeypatch):  # noqa: F811
    """The lease lapses mid-pass (a long write on a loaded host) and another worker takes it: the first
    stops at its next commit, leaves the applied sequence as it was, and marks its host's copy stale."""
    hosts("a")
    source = Source(item)
    disk = item.disks.get(disk_id="disk0")
    applied_before = disk.applied_sequence
    writing = data_path._write_records

    def taken_meanwhile(*args, **kwargs):
        MigrationItem.objects.filter(pk=item.pk).update(
            apply_lease_owner="another-worker", apply_lease_until=timezone.now() + timedelta(minutes=1)
        )
        return writing(*args, **kwargs)

    releasing, releases = data_path.lease_release, []

    def release(*args):
        releases.append(args)
        assert len(releases) < 5, "a worker without the lease went on applying"
        return releasing(*args)

    monkeypatch.setattr(data_path, "_write_records", taken_meanwhile)
    monkeypatch.setattr(data_path, "lease_release", release)
    source.change([12])
    disk.refresh_from_db()
    assert disk.applied_sequence == applied_before
    assert not item.recovery_points.filter(cycle=source.cycle).exists()
    assert MigrationItem.objects.get(pk=item.pk).apply_lease_owner == "another-worker"
    assert replica_files.local_sequence(disk) == -1  # rebuilt before this host applies again
