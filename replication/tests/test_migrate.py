"""Test migrate, clean up, Migrate (with and without shutdown) and Stop replication over a replica
built by the data path; the migrated disk's SHA-256 equals the source's at shutdown."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from hub import clock
from hub.arm.errors import ArmError
from jobs.models import Job, State
from projects.models import VirtualNetwork
from replication import migrate, replica_files, uploads
from replication.models import MigrationItem, MigrationState, TestMigrateState, VirtualMachine
from replication.selectors import server_migration_counts
from replication.status import allowed_operations
from replication.tests.conftest import admin, run
from replication.tests.encoder import MIB, ProcessServer, apply, image, marker, send_full

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(replicating):
    item = replicating
    ps = ProcessServer(item.project)
    source = image(11, MIB)
    next_sequence = send_full(ps, item, "disk0", source, cycle=1, first_sequence=1)
    apply(item)
    item.refresh_from_db()
    assert item.migration_state == MigrationState.REPLICATING
    return item, ps, source, next_sequence


def test_test_migration_builds_a_tagged_test_vm_and_cleanup_removes_it(ready, django_capture_on_commit_callbacks):
    item, _, source, _ = ready
    network = VirtualNetwork.objects.get(name="vnet-test")
    with django_capture_on_commit_callbacks():
        job = migrate.test_migrate_start(admin(), item, network=network)
    assert run(job).state == State.SUCCEEDED
    vm = VirtualMachine.objects.get(name="web01-Test")
    assert vm.is_test and vm.tags["migrate-test"] == "true" and vm.network == network
    (disk,) = vm.disks.all()  # disk1 was excluded: absent from the VM
    assert disk.sha256 == hashlib.sha256(source).hexdigest()
    item.refresh_from_db()
    assert item.test_migrate_state == TestMigrateState.SUCCEEDED
    assert allowed_operations(item) == ["DisableMigration", "TestMigrateCleanup"]
    with pytest.raises(ArmError) as refused:
        migrate.migrate_start(admin(), item)
    assert refused.value.status == 409 and not Job.objects.filter(scenario_name="Migrate").exists()
    assert server_migration_counts(item.project, clock.now())["test_migrated"] == 0  # not until cleaned up

    with django_capture_on_commit_callbacks():
        cleanup = migrate.test_migrate_cleanup_start(admin(), item)
    assert run(cleanup).state == State.SUCCEEDED
    assert not VirtualMachine.objects.filter(name="web01-Test").exists()
    assert server_migration_counts(item.project, clock.now())["test_migrated"] == 1


def test_migrate_with_shutdown_waits_for_the_final_sync_and_loses_nothing(ready, django_capture_on_commit_callbacks):
    item, ps, source, next_sequence = ready
    with django_capture_on_commit_callbacks():
        job = migrate.migrate_start(admin(), item, shutdown=True)
    assert run(job).state == State.IN_PROGRESS  # waiting for the source to shut down
    (instruction,) = uploads.replication_instructions(item.appliance)
    assert instruction["shutdown"] is True
    source[0:4096] = b"last write before shutdown".ljust(4096, b".")
    final = marker(2, bytes(source)) | {"final": True, "sha256": hashlib.sha256(source).hexdigest()}
    from replication.tests.encoder import records

    uploads.batch_store(
        item.appliance, ps.body(item, "disk0", next_sequence, 2, records(bytes(source), [0]), full=False, marker=final)
    )
    apply(item)
    assert run(job).state == State.SUCCEEDED
    vm = VirtualMachine.objects.get(name="web01")
    (disk,) = vm.disks.all()
    assert disk.sha256 == hashlib.sha256(source).hexdigest()
    (recorded,) = job.input["vm"]["disks"]
    assert recorded["sourceSha256"] == recorded["vmDiskSha256"] == disk.sha256
    item.refresh_from_db()
    assert item.migration_state == MigrationState.MIGRATION_SUCCEEDED

    with django_capture_on_commit_callbacks():
        stop = migrate.stop_replication_start(admin(), item)
    assert run(stop).state == State.SUCCEEDED
    item.refresh_from_db()
    assert item.replication_stopped_at is not None and not item.recovery_points.exists()
    assert not (replica_files.replica_path(item.disks.get(disk_id="disk0"))).exists()
    counts = server_migration_counts(item.project, clock.now())
    assert (counts["replicating"], counts["migrated"]) == (0, 1)
    assert VirtualMachine.objects.filter(name="web01").exists()  # the migrated VM stays


def test_a_migration_whose_source_never_answers_fails_cleanly_and_can_be_retried(
    ready, django_capture_on_commit_callbacks
):
    item, *_ = ready
    with django_capture_on_commit_callbacks():
        job = migrate.migrate_start(admin(), item, shutdown=True)
    assert run(job).state == State.IN_PROGRESS
    clock.advance(timedelta(minutes=31))
    assert run(job).state == State.FAILED
    assert job.errors[0]["serviceErrorDetails"]["code"] == "FinalSyncTimedOut"
    assert job.errors[0]["serviceErrorDetails"]["recommendedAction"]
    item.refresh_from_db()
    assert item.migration_state == MigrationState.REPLICATING and item.shutdown_requested_at is None
    assert not VirtualMachine.objects.exists()
    with django_capture_on_commit_callbacks():
        retry = migrate.migrate_start(admin(), item, shutdown=False)
    assert run(retry).state == State.SUCCEEDED
    assert VirtualMachine.objects.filter(name="web01").count() == 1


def test_stopping_replication_before_migration_frees_the_server(ready, django_capture_on_commit_callbacks):
    item, *_ = ready
    with django_capture_on_commit_callbacks():
        stop = migrate.stop_replication_start(admin(), item)
    assert run(stop).state == State.SUCCEEDED
    assert not MigrationItem.objects.filter(pk=item.pk).exists()
