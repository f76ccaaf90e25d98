"""The job scenarios of Test migrate, Clean up test migration, Migrate, Stop replication and
Resynchronize: the steps the worker runs, each idempotent. The verbs that start them are in
replication/migrate.py; building the VM is in replication/vm_build.py.

A failed job removes what it built and gives the item's claim back, so the verb can be retried.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

from django.db import transaction
from django.db.models import F

from hub import clock
from jobs.models import Job
from jobs.scenarios import JobStepError, JobStepWaiting, Scenario, Step, register
from replication import point_manifests, push
from replication.jobs import job_row, push_job_item
from replication.models import (
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    ReplicationBatch,
    TestMigrateState,
    VirtualMachine,
)
from replication.replica_files import batches_delete, replicas_dir
from replication.vm_build import build_vm, delete_vm, remove_half_built


def _item(job: Job) -> MigrationItem:
    return job_row(
        MigrationItem.objects.filter(pk=job.input["item_id"])
        .select_related("project__resource_group__subscription", "server", "target_resource_group", "policy")
        .first(),
        "MigrationItemNotFound",
        f"Replication of {job.target_object_name} was stopped while the job ran.",
        "Replicate the server again.",
    )


def _require_recovery_point(job: Job, recommended_action: str) -> None:
    item = _item(job)
    if not item.recovery_points.exists():
        raise JobStepError(
            "NoRecoveryPoint",
            f"{item.target_vm_name} has no recovery point yet.",
            recommended_action=recommended_action,
        )


def _move_item(job: Job, expected: dict, **update) -> None:
    """Change the job's item only while it is in the state this job put it in: a job delivered again
    after the item moved on changes nothing."""
    MigrationItem.objects.filter(pk=job.input["item_id"], **expected).update(**update)


# Test migration


def _test_prerequisites(job: Job) -> None:
    _require_recovery_point(job, "Wait until initial replication completes (status Ready to migrate), then retry.")


def _create_test_vm(job: Job) -> None:
    build_vm(job, _item(job), test=True, point_cycle=None, point_id=job.input.get("recovery_point_id"))


def _test_succeeded(job: Job) -> None:
    _move_item(job, {"test_migrate_state": TestMigrateState.IN_PROGRESS}, test_migrate_state=TestMigrateState.SUCCEEDED)
    push_job_item(job)


def _test_migration_ended(job: Job, running_state: str, status: str) -> None:
    """The test migration is over (it failed, or it was cleaned up): the server can be tested again."""
    _move_item(
        job,
        {"test_migrate_state": running_state},
        test_migrate_state=TestMigrateState.NONE,
        last_test_migration_status=status,
        last_test_migration_at=clock.now(),
    )
    push_job_item(job)


def _test_failed(job: Job) -> None:
    remove_half_built(job)
    _test_migration_ended(job, TestMigrateState.IN_PROGRESS, "Failed")


register(
    Scenario(
        name="TestMigrate",
        friendly_name="Test migration",
        steps=(
            Step("PrerequisitesCheck", "Prerequisites check for test migration", _test_prerequisites),
            Step("CreateTestVirtualMachine", "Create test virtual machine", _create_test_vm, atomic=False),
            Step("StartTestVirtualMachine", "Start the virtual machine", _test_succeeded),
        ),
        running_title="Test migrating {target}...",
        succeeded_title="Test migration succeeded for {target}",
        failed_title="Test migration failed for {target}",
        succeeded_message="{target}-Test is running in the test network. Check it, then select Clean up test "
        "migration.",
        on_failure=_test_failed,
    )
)


def _delete_test_vm(job: Job) -> None:
    item = _item(job)
    for vm in VirtualMachine.objects.filter(migration_item=item, is_test=True):
        delete_vm(vm)


def _cleanup_succeeded(job: Job) -> None:
    _test_migration_ended(job, TestMigrateState.CLEANUP_IN_PROGRESS, "Succeeded")


def _cleanup_failed(job: Job) -> None:
    _move_item(
        job, {"test_migrate_state": TestMigrateState.CLEANUP_IN_PROGRESS}, test_migrate_state=TestMigrateState.SUCCEEDED
    )


register(
    Scenario(
        name="TestMigrateCleanup",
        friendly_name="Test migration cleanup",
        steps=(
            Step("DeleteTestVirtualMachine", "Delete the test virtual machine", _delete_test_vm),
            Step("CompleteCleanup", "Complete test migration cleanup", _cleanup_succeeded),
        ),
        running_title="Cleaning up the test migration of {target}...",
        succeeded_title="Test migration cleaned up for {target}",
        failed_title="Cleaning up the test migration failed for {target}",
        succeeded_message="The test VM {target}-Test was deleted: the test migration of {target} counts as done.",
        on_failure=_cleanup_failed,
    )
)


# Migration

FINAL_SYNC_TIMEOUT = timedelta(minutes=30)


def _migrate_prerequisites(job: Job) -> None:
    _require_recovery_point(job, "Wait until initial replication completes, then retry.")


def _shut_down_source(job: Job) -> None:
    """With shutdown, the agent stops the source and sends a final cycle; wait for its recovery point."""
    if not job.input.get("shutdown"):
        return
    item = _item(job)
    requested = item.shutdown_requested_at
    final = item.recovery_points.filter(is_final=True, recorded_at__gte=requested).order_by("-cycle").first()
    if final is not None:
        job_input = {**job.input, "final_cycle": final.cycle}
        Job.objects.filter(pk=job.pk).update(input=job_input)
        job.input = job_input
        return
    if clock.now() - requested > FINAL_SYNC_TIMEOUT:
        raise JobStepError(
            "FinalSyncTimedOut",
            f"The source server {item.server.name} did not shut down and send its final changes within "
            f"{int(FINAL_SYNC_TIMEOUT.total_seconds() // 60)} minutes.",
            possible_causes="The server's Mobility service stopped or lost its connection to the appliance, or the "
            "appliance cannot reach the hub.",
            recommended_action="Check the Mobility service and the appliance, then select Migrate again. To migrate "
            "without waiting, select Migrate with shutdown set to No (changes after the latest recovery point are "
            "lost).",
        )
    raise JobStepWaiting("Waiting for the source to shut down and send its final changes.", retry_after=1)


def _prepare_migration(job: Job) -> None:
    item = _item(job)
    if item.test_migrate_state != TestMigrateState.NONE:
        raise JobStepError(
            "TestMigrationNotCleanedUp",
            f"The test migration of {item.target_vm_name} has not been cleaned up.",
            recommended_action="Select Clean up test migration, then Migrate.",
        )


def _create_vm(job: Job) -> None:
    item = _item(job)
    build_vm(
        job, item, test=False, point_cycle=job.input.get("final_cycle"), point_id=job.input.get("recovery_point_id")
    )


def _migration_ended(job: Job, state: str, status: str, **update) -> None:
    _move_item(
        job,
        {"migration_state": MigrationState.MIGRATION_IN_PROGRESS},
        migration_state=state,
        last_migration_status=status,
        last_migration_at=clock.now(),
        **update,
    )
    push_job_item(job)


def _start_vm(job: Job) -> None:
    _migration_ended(job, MigrationState.MIGRATION_SUCCEEDED, "Succeeded")


def _migrate_failed(job: Job) -> None:
    remove_half_built(job)
    # The server replicates on, and its agent starts the source again (the shutdown is called off).
    _migration_ended(job, MigrationState.REPLICATING, "Failed", shutdown_requested_at=None)


register(
    Scenario(
        name="Migrate",
        friendly_name="Migrate",
        steps=(
            Step("PrerequisitesCheck", "Prerequisites check for migration", _migrate_prerequisites),
            Step("ShutdownSource", "Shut down the virtual machine", _shut_down_source, atomic=False),
            Step("PrepareMigration", "Preparing for migration", _prepare_migration),
            Step("CreateVirtualMachine", "Creating Azure virtual machine", _create_vm, atomic=False),
            Step("StartVirtualMachine", "Starting Azure virtual machine", _start_vm),
        ),
        running_title="Migrating {target}...",
        succeeded_title="Migration succeeded for {target}",
        failed_title="Migration failed for {target}",
        succeeded_message="{target} is running in Azure. Select Stop migration to complete the migration.",
        on_failure=_migrate_failed,
    )
)


# Stop replication


def _disable_replication(job: Job) -> None:
    """The agent learns at its next heartbeat that the server no longer replicates."""
    _item(job)


def _delete_replication_data(job: Job) -> None:
    item = _item(job)
    for test_vm in VirtualMachine.objects.filter(migration_item=item, is_test=True):
        delete_vm(test_vm)  # a test VM not cleaned up goes with the replication it came from
    batches_delete(ReplicationBatch.objects.filter(disk__item=item))
    shutil.rmtree(replicas_dir(item.pk), ignore_errors=True)
    item.recovery_points.all().delete()
    point_manifests.item_points_delete(item)
    if job.input.get("migrated"):
        push_job_item(job)
        return
    # Never migrated: the server can be replicated again, so the item goes.
    project = item.project
    item.delete()
    transaction.on_commit(lambda: push.replicating_servers_changed(project, []), robust=True)


def _stop_failed(job: Job) -> None:
    _move_item(
        job,
        {"migration_state": MigrationState.DISABLE_MIGRATION_IN_PROGRESS},
        migration_state=MigrationState.REPLICATING,
        replication_stopped_at=None,
    )
    if job.input.get("migrated"):
        # A migrated item keeps its state while stopping; without this it would allow nothing again.
        _move_item(job, {"migration_state": MigrationState.MIGRATION_SUCCEEDED}, replication_stopped_at=None)


register(
    Scenario(
        name="DisableMigration",
        friendly_name="Stop replication",
        steps=(
            Step("DisableReplication", "Disable replication", _disable_replication),
            Step("DeleteReplicationData", "Delete replication data, cache and replica disks", _delete_replication_data),
        ),
        running_title="Stopping migration of {target}...",
        succeeded_title="Replication stopped for {target}",
        failed_title="Stop migration failed for {target}",
        succeeded_message="Replication of {target} stopped: its replication data, cache and replica disks are deleted.",
        on_failure=_stop_failed,
    )
)


# Resynchronize

RESYNC_REASON = "Resynchronization was requested (Resynchronize replication)."


def _request_full_cycle(job: Job) -> None:
    item = _item(job)
    if item.migration_state != MigrationState.REPLICATING or item.replication_stopped_at is not None:
        raise JobStepError(
            "ReplicationNotInDeltaSync",
            f"{item.target_vm_name} is no longer replicating (migration state {item.migration_state}).",
            recommended_action="Resynchronize only a server whose status is Ready to migrate.",
        )
    ProtectedDisk.objects.filter(item=item, included=True).update(
        resync_required=True, resync_reason=RESYNC_REASON, resync_generation=F("resync_generation") + 1
    )
    push_job_item(job)


register(
    Scenario(
        name="MigrationStartResync",
        friendly_name="Resynchronize replication",
        steps=(Step("StartResync", "Start resynchronization", _request_full_cycle),),
        running_title="Resynchronizing {target}...",
        succeeded_title="Resynchronization started for {target}",
        failed_title="Resynchronization failed for {target}",
        succeeded_message="Every disk of {target} is being sent again in full; its latest recovery point stays "
        "usable meanwhile.",
    )
)
