"""Recovery-point history: each point is a manifest of content-addressed chunks, so points share what
did not change; any kept point can be test-migrated or migrated and its VM's disk equals the source at
that point; points past the policy's history are pruned, except one a test VM uses, until clean-up;
and a worker's replica file is a working copy rebuilt from the latest manifest."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest

from hub import clock
from hub.object_store import store
from jobs.models import State
from projects.models import VirtualNetwork
from replication import migrate, point_manifests, replica_files, uploads
from replication.chunk_packs import pack_name
from replication.models import MigrationState, RecoveryPoint, VirtualMachine
from replication.recovery_points import points_prune
from replication.tests.conftest import admin, replicating_item, run
from replication.tests.encoder import BLOCK, MIB, ProcessServer, apply, image, marker, records, send_full

pytestmark = pytest.mark.django_db

DISK_BYTES = 8 * MIB
CHUNKS = DISK_BYTES // point_manifests.CHUNK_BYTES


@pytest.fixture
def item(settings, tmp_path, django_capture_on_commit_callbacks):
    """A server replicating one 8 MiB disk (a second, excluded one is left out of the VM)."""
    settings.REPLICATION_DIR = tmp_path / "replication"
    return replicating_item(django_capture_on_commit_callbacks, "points", (DISK_BYTES, MIB))


class Source:
    """The source disk and its process server: a full cycle, then delta cycles of changed blocks."""

    def __init__(self, item):
        self.item, self.ps = item, ProcessServer(item.project)
        self.data = image(5, DISK_BYTES)
        self.cycle = 1
        self.next_sequence = send_full(self.ps, item, "disk0", self.data, cycle=1, first_sequence=1)
        apply(item)

    def change(self, blocks: list[int], *, apply_now: bool = True) -> None:
        for index in blocks:
            self.data[index * BLOCK : (index + 1) * BLOCK] = os.urandom(BLOCK)
        self.cycle += 1
        body = self.ps.body(
            self.item,
            "disk0",
            self.next_sequence,
            self.cycle,
            records(bytes(self.data), blocks),
            full=False,
            marker=marker(self.cycle, bytes(self.data)),
        )
        uploads.batch_store(self.item.appliance, body)
        self.next_sequence += 1
        if apply_now:
            apply(self.item)

    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def chunk_names(item) -> list[str]:
    """The item's stored chunk data: packs, and chunk objects of points written before packs."""
    prefix = point_manifests.item_prefix(item)
    return [*store().names(f"{prefix}/packs/"), *store().names(f"{prefix}/chunks/")]


def chunk_bytes(item) -> int:
    return sum(store().size(name) for name in chunk_names(item))


def objects_named(item, manifest) -> set[str]:
    """The packs and chunk objects a point's manifest needs."""
    prefix = point_manifests.item_prefix(item)
    return {
        pack_name(prefix, manifest.places[index][0])
        if index in manifest.places
        else point_manifests.chunk_name(prefix, sha)
        for index, sha in manifest.chunks.items()
    }


def test_points_share_unchanged_chunks_so_storage_grows_with_the_data_changed(item):
    source = Source(item)
    assert chunk_bytes(item) == DISK_BYTES  # the image has data in every chunk, each one different
    for round_number in range(5):
        source.change([round_number * 7 + 1])  # one block in the first chunk, each time
    assert item.recovery_points.count() == 6
    # Each point added one chunk (the changed one, in a pack of its own), not another 8 MiB, and a small
    # manifest.
    assert chunk_bytes(item) == DISK_BYTES + 5 * point_manifests.CHUNK_BYTES
    prefix = point_manifests.item_prefix(item)
    manifest_bytes = [store().size(name) for name in store().names(f"{prefix}/manifests/")]
    assert len(manifest_bytes) == 6 and max(manifest_bytes[1:]) < 400 < manifest_bytes[0]
    latest = item.recovery_points.order_by("-cycle").first()
    disk = item.disks.get(disk_id="disk0")
    manifest = point_manifests.manifest_load(item, disk.pk, latest.cycle)
    assert sorted(manifest.chunks) == list(range(CHUNKS)) and manifest.depth == 5
    assert latest.disks["disk0"]["newChunkBytes"] == point_manifests.CHUNK_BYTES
    disk.refresh_from_db()
    assert disk.dirty_chunks == []


def test_test_migrate_and_migrate_build_the_chosen_older_point(item, django_capture_on_commit_callbacks):
    source = Source(item)
    first_sha = source.sha256()
    first = item.recovery_points.get(cycle=1)
    source.change([3, 300, 1500])  # chunks 0, 1 and 5 change
    assert source.sha256() != first_sha
    # What a host with no working copy reads of each point (manage.py replica): the source as it was.
    (only_disk,) = item.disks.filter(included=True)
    latest = item.recovery_points.order_by("-cycle").first()
    for point, expected in ((first, first_sha), (latest, source.sha256())):
        manifest = point_manifests.manifest_load(item, only_disk.pk, point.cycle)
        assert point_manifests.manifest_sha256(item, manifest) == expected
    network = VirtualNetwork.objects.get(name="vnet-test")
    with django_capture_on_commit_callbacks():
        job = migrate.test_migrate_start(admin(), item, network=network, point=first)
    assert run(job).state == State.SUCCEEDED
    (disk,) = VirtualMachine.objects.get(name="web01-Test").disks.all()
    assert disk.sha256 == first_sha
    assert job.input["vm"]["recoveryPointId"] == str(first.pk)

    with django_capture_on_commit_callbacks():
        assert run(migrate.test_migrate_cleanup_start(admin(), item)).state == State.SUCCEEDED
    with django_capture_on_commit_callbacks():
        job = migrate.test_migrate_start(admin(), item, network=network)  # the latest processed point
    assert run(job).state == State.SUCCEEDED
    (disk,) = VirtualMachine.objects.get(name="web01-Test").disks.all()
    assert disk.sha256 == source.sha256()
    with django_capture_on_commit_callbacks():
        assert run(migrate.test_migrate_cleanup_start(admin(), item)).state == State.SUCCEEDED

    with django_capture_on_commit_callbacks():
        job = migrate.migrate_start(admin(), item, shutdown=False, point=first)
    assert run(job).state == State.SUCCEEDED
    (disk,) = VirtualMachine.objects.get(name="web01").disks.all()
    assert disk.sha256 == first_sha


def test_points_past_the_history_are_pruned_but_a_test_vms_point_is_kept_until_clean_up(
    item, django_capture_on_commit_callbacks
):
    policy = item.policy
    policy.recovery_point_history_minutes = 60
    policy.save()
    source = Source(item)
    first = item.recovery_points.get(cycle=1)
    network = VirtualNetwork.objects.get(name="vnet-test")
    with django_capture_on_commit_callbacks():
        job = migrate.test_migrate_start(admin(), item, network=network, point=first)
    assert run(job).state == State.SUCCEEDED
    source.change([10])  # cycle 2
    clock.advance(timedelta(minutes=30))
    source.change([2000])  # cycle 3
    clock.advance(timedelta(minutes=45))  # cycles 1 and 2 are past the history; 3 is not
    assert points_prune() == 1
    assert sorted(item.recovery_points.values_list("cycle", flat=True)) == [1, 3]  # 1: the test VM's
    disk = item.disks.get(disk_id="disk0")
    # Cycle 3's manifest lists only what changed since cycle 2's, so that one stays as its base.
    assert point_manifests.manifest_chain(item, disk.pk, 3) == [3, 2, 1]
    # cycle 1's chunks, and the two that changed since
    assert chunk_bytes(item) == DISK_BYTES + 2 * point_manifests.CHUNK_BYTES

    with django_capture_on_commit_callbacks():
        assert run(migrate.test_migrate_cleanup_start(admin(), item)).state == State.SUCCEEDED
    assert points_prune() == 1
    assert list(item.recovery_points.values_list("cycle", flat=True)) == [3]
    names = set(chunk_names(item))
    latest = point_manifests.manifest_load(item, disk.pk, 3)
    assert objects_named(item, latest) <= names
    clock.advance(timedelta(days=30))
    assert points_prune() == 0  # the latest point is never pruned
    assert item.recovery_points.count() == 1


def test_pruning_deletes_manifests_and_chunks_no_kept_point_needs(item):
    policy = item.policy
    policy.recovery_point_history_minutes = 60
    policy.save()
    source = Source(item)
    disk = item.disks.get(disk_id="disk0")
    for round_number in range(point_manifests.MAX_DEPTH + 2):
        source.change([round_number * 64 + 3])  # a new chunk each time
    # The chain was cut at MAX_DEPTH: the latest point's manifest is whole again or stands on a short chain.
    latest = item.recovery_points.order_by("-cycle").first()
    assert len(point_manifests.manifest_chain(item, disk.pk, latest.cycle)) <= 2
    clock.advance(timedelta(minutes=61))
    assert points_prune() == point_manifests.MAX_DEPTH + 2
    prefix = point_manifests.item_prefix(item)
    manifests = list(store().names(f"{prefix}/manifests/"))
    assert len(manifests) == len(point_manifests.manifest_chain(item, disk.pk, latest.cycle))
    manifest = point_manifests.manifest_load(item, disk.pk, latest.cycle)
    needed = objects_named(item, manifest)
    # What is kept: the packs the point needs, and at most one per delta of its chain (a pack whose one
    # chunk a later delta overrides).
    assert needed <= set(chunk_names(item)) and len(set(chunk_names(item)) - needed) <= len(manifests) - 1
    target = replica_files.replica_path(disk).with_name("restored.img")
    point_manifests.restore(item, manifest, target, sha256=True)
    assert target.read_bytes() == bytes(source.data)


def test_a_point_pruned_after_it_was_chosen_fails_the_job_with_a_reason(item, django_capture_on_commit_callbacks):
    source = Source(item)
    first = item.recovery_points.get(cycle=1)
    source.change([10])
    network = VirtualNetwork.objects.get(name="vnet-test")
    with django_capture_on_commit_callbacks():
        job = migrate.test_migrate_start(admin(), item, network=network, point=first)
    RecoveryPoint.objects.filter(pk=first.pk).delete()
    assert run(job).state == State.FAILED
    assert job.errors[0]["serviceErrorDetails"]["code"] == "RecoveryPointNotFound"
    item.refresh_from_db()
    assert item.migration_state == MigrationState.REPLICATING and not VirtualMachine.objects.exists()


def test_a_lost_working_copy_is_rebuilt_from_the_latest_manifest(item):
    """Another host (no shared filesystem) takes over applying: it has no replica file, so it rebuilds
    one from the latest point's manifest and applies what came after it."""
    source = Source(item)
    source.change([40])
    source.change([900], apply_now=False)  # stored, not yet applied
    disk = item.disks.get(disk_id="disk0")
    replica_files.replica_path(disk).unlink()
    replica_files.local_state_path(disk).unlink()
    apply(item)
    assert replica_files.replica_path(disk).read_bytes() == bytes(source.data)
    assert item.recovery_points.filter(cycle=source.cycle).exists()
    disk.refresh_from_db()
    assert disk.resync_required is False


def test_a_stale_working_copy_is_rebuilt_rather_than_applied_onto(item):
    """A host whose copy is behind (another host applied meanwhile) must not apply onto it."""
    source = Source(item)
    disk = item.disks.get(disk_id="disk0")
    stale = replica_files.replica_path(disk).read_bytes()
    source.change([41])
    source.change([1200], apply_now=False)
    replica_files.replica_path(disk).write_bytes(stale)  # as the other host left it
    replica_files.local_sequence_note(disk, 1)
    apply(item)
    assert replica_files.replica_path(disk).read_bytes() == bytes(source.data)
    disk.refresh_from_db()
    assert disk.resync_required is False and disk.applied_cycle == source.cycle
