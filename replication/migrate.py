"""Test migrate, Clean up test migration, Migrate, Resynchronize and Stop replication (the tutorial's
"Run a test migration", "Migrate VMs" and "Complete the migration").

Each verb is allowed only when status.allowed_operations says so (409 OperationNotAllowed and no job
otherwise), claims the item with a conditional update, and runs as a job whose failure gives the
claim back, removes anything half-built, and can be retried. A VM's disks are copied from the replica
disks while the item's apply lease is held, so they hold exactly one recovery point.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from hub import clock
from hub.arm.errors import ArmError
from jobs.models import Job
from jobs.scenarios import JobStepError, JobStepWaiting, Scenario, Step, register
from jobs.services import job_start
from projects import access
from projects.models import VirtualNetwork
from replication import apply_lease, replica_files, uploads
from replication.jobs import push_job_item
from replication.models import (
    ManagedDisk,
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    RecoveryPoint,
    ReplicationBatch,
    TestMigrateState,
    VirtualMachine,
)
from replication.status import allowed_operations

logger = logging.getLogger(__name__)

TEST_SUFFIX = "-Test"
# Disks up to this size get a full SHA-256 when built (a sparse 2 TB disk would take hours to hash);
# larger ones are compared by the protocol's content digest.
SHA256_LIMIT_BYTES = 16 * 1024**3


def _operation_refused(item: MigrationItem, operation: str) -> ArmError:
    allowed = ", ".join(allowed_operations(item)) or "none until the running job ends"
    return ArmError(
        409,
        "OperationNotAllowed",
        f"{operation} is not allowed for {item.target_vm_name} now (migration state {item.migration_state}, test "
        f"migration state {item.test_migrate_state}); allowed: {allowed}.",
    )


def _claim(item: MigrationItem, operation: str, **update) -> MigrationItem:
    """Move the item into the operation's in-progress state if, and only if, the operation is allowed."""
    with transaction.atomic():
        locked = MigrationItem.objects.select_for_update().select_related("project__resource_group").get(pk=item.pk)
        if operation not in allowed_operations(locked):
            raise _operation_refused(locked, operation)
        for name, value in update.items():
            setattr(locked, name, value)
        locked.save(update_fields=list(update))
    return locked


def _start(user, item: MigrationItem, scenario: str, job_input: dict, link: str) -> Job:
    project = item.project
    job = job_start(
        scenario_name=scenario,
        subscription=project.subscription,
        resource_group_name=project.resource_group.name,
        target_object_id=str(item.pk),
        target_object_name=item.target_vm_name,
        target_instance_type="ProtectionEntity",
        job_input={"item_id": str(item.pk), **job_input},
        created_by=user,
        notify=True,
        link=link,
    )
    MigrationItem.objects.filter(pk=item.pk).update(current_job=job)
    return job


def _authorize_target(user, item: MigrationItem, network: VirtualNetwork | None) -> None:
    group = item.target_resource_group
    access.authorize(user, access.MANAGE_TARGET_VMS, group.subscription, group.name)
    if network is not None:
        access.authorize(
            user, access.JOIN_TARGET_NETWORK, network.resource_group.subscription, network.resource_group.name
        )


def test_migrate_start(user, item: MigrationItem, *, network: VirtualNetwork, subnet: str = "", link="") -> Job:
    _authorize_target(user, item, network)
    if network.location.lower() != item.project.target_region.lower():
        raise ArmError(
            400,
            "InvalidTestNetwork",
            f"Virtual network {network.name} is in {network.location}; the test VM is created in "
            f"{item.project.target_region}. Choose a network there (a non-production one is recommended).",
        )
    subnet = subnet or (network.subnets.order_by("name").values_list("name", flat=True).first() or "")
    if not network.subnets.filter(name__iexact=subnet).exists():
        raise ArmError(400, "SubnetNotFound", f"Virtual network {network.name} has no subnet {subnet!r}.")
    with transaction.atomic():
        item = _claim(
            item,
            "TestMigrate",
            test_migrate_state=TestMigrateState.IN_PROGRESS,
            test_network=network,
            test_subnet_name=subnet,
        )
        return _start(user, item, "TestMigrate", {"network_id": str(network.pk), "subnet": subnet}, link)


def test_migrate_cleanup_start(user, item: MigrationItem, *, comments: str = "", link="") -> Job:
    _authorize_target(user, item, None)
    with transaction.atomic():
        item = _claim(item, "TestMigrateCleanup", test_migrate_state=TestMigrateState.CLEANUP_IN_PROGRESS)
        return _start(user, item, "TestMigrateCleanup", {"comments": comments[:1000]}, link)


def migrate_start(user, item: MigrationItem, *, shutdown: bool = True, link="") -> Job:
    _authorize_target(user, item, item.target_network)
    with transaction.atomic():
        item = _claim(
            item,
            "Migrate",
            migration_state=MigrationState.MIGRATION_IN_PROGRESS,
            shutdown_requested_at=clock.now() if shutdown else None,
        )
        return _start(user, item, "Migrate", {"shutdown": shutdown, "requested_at": clock.now().isoformat()}, link)


def resync_start(user, item: MigrationItem, *, link="") -> Job:
    """Resynchronize: the agent sends every included disk again in full (it sees each disk's resync
    generation go up at its next heartbeat). The replica keeps its latest recovery point meanwhile, so
    test migration and migration stay possible."""
    group = item.project.resource_group
    access.authorize(user, access.REPLICATE_SERVERS, group.subscription, group.name)
    with transaction.atomic():
        item = _claim(item, "StartResync")
        return _start(user, item, "MigrationStartResync", {}, link)


def stop_replication_start(user, item: MigrationItem, *, link="") -> Job:
    group = item.project.resource_group
    access.authorize(user, access.REPLICATE_SERVERS, group.subscription, group.name)
    with transaction.atomic():
        migrated = item.migration_state == MigrationState.MIGRATION_SUCCEEDED
        item = _claim(item, "DisableMigration", replication_stopped_at=clock.now())
        if not migrated:
            MigrationItem.objects.filter(pk=item.pk).update(
                migration_state=MigrationState.DISABLE_MIGRATION_IN_PROGRESS
            )
        return _start(user, item, "DisableMigration", {"migrated": migrated}, link)


# Building a VM from the replica


def _item(job: Job) -> MigrationItem:
    item = (
        MigrationItem.objects.filter(pk=job.input["item_id"])
        .select_related("project__resource_group__subscription", "server", "target_resource_group", "policy")
        .first()
    )
    if item is None:
        raise JobStepError(
            "MigrationItemNotFound",
            f"Replication of {job.target_object_name} was stopped while the job ran.",
            recommended_action="Replicate the server again.",
        )
    return item


def vm_disks_dir(vm_id) -> Path:
    return settings.REPLICATION_DIR / "disks" / str(vm_id)


def _vm_id(job: Job) -> uuid.UUID:
    """The VM's id is fixed by the job, so a re-run writes to the same files and finds its own rows."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"migrate-hub/job/{job.pk}/vm")


def sparse_copy(source: Path, target: Path, size: int) -> None:
    """Copy only the source's data extents (a sparse 2 TB replica costs its data)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as reader, open(target, "wb") as writer:
        writer.truncate(size)
        descriptor, offset = reader.fileno(), 0
        end = min(size, os.fstat(descriptor).st_size)
        while offset < end:
            try:
                start = os.lseek(descriptor, offset, os.SEEK_DATA)
            except OSError:
                break
            stop = min(end, os.lseek(descriptor, start, os.SEEK_HOLE))
            position = start
            while position < stop:
                chunk = os.pread(descriptor, min(8 * 1024 * 1024, stop - position), position)
                os.pwrite(writer.fileno(), chunk, position)
                position += len(chunk)
            offset = stop
        writer.flush()
        os.fsync(writer.fileno())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(8 * 1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _latest_whole_point(item: MigrationItem) -> RecoveryPoint | None:
    """The newest point the replicas hold right now (every disk applied to its cycle, nothing past it)."""
    disks = list(item.disks.filter(included=True))
    cycles = {disk.applied_cycle for disk in disks}
    if len(cycles) != 1:
        return None
    return RecoveryPoint.objects.filter(item=item, cycle=cycles.pop()).first()


def _free_ip(network: VirtualNetwork, subnet_name: str) -> str | None:
    subnet = network.subnets.filter(name__iexact=subnet_name).first()
    if subnet is None:
        return None
    taken = set(
        VirtualMachine.objects.filter(network=network, subnet_name__iexact=subnet_name).values_list(
            "private_ip", flat=True
        )
    )
    hosts = ipaddress.ip_network(subnet.address_prefix, strict=False).hosts()
    # Azure keeps the first three host addresses of a subnet for itself.
    return next((str(address) for index, address in enumerate(hosts) if index >= 3 and str(address) not in taken), None)


def build_vm(job: Job, item: MigrationItem, *, test: bool, point_cycle: int | None) -> VirtualMachine:
    """Create the VM (rows and disk files) from the replica at a recovery point. Idempotent: a re-run of
    the same job finds its VM. Nothing is visible until the rows are committed at the end."""
    vm_id = _vm_id(job)
    existing = VirtualMachine.objects.filter(pk=vm_id).first()
    if existing is not None:
        return existing
    name = f"{item.target_vm_name}{TEST_SUFFIX if test else ''}"
    group = item.target_resource_group
    if VirtualMachine.objects.filter(resource_group=group, name__iexact=name).exists():
        raise JobStepError(
            "TargetVmNameExists",
            f"Target VM name already exists: resource group {group.name} has a VM named {name}.",
            possible_causes="A VM of that name was created outside this migration, or by an earlier test "
            "migration that was not cleaned up.",
            recommended_action="Delete or rename that VM, or change the target VM name, then retry.",
        )
    network = item.test_network if test else item.target_network
    subnet = item.test_subnet_name if test else item.target_subnet_name
    if network is None:
        raise JobStepError(
            "TargetNetworkNotFound",
            "The virtual network chosen for the VM was deleted.",
            recommended_action="Choose another virtual network, then retry.",
        )
    owner = f"job-{job.pk}"
    if not apply_lease.lease_take(item.pk, owner):
        raise JobStepWaiting("The replica is being updated; waiting for it to reach a recovery point.")
    try:
        point = _latest_whole_point(item)
        if point is None or (point_cycle is not None and point.cycle != point_cycle):
            raise JobStepWaiting("Waiting for the replica disks to reach the same recovery point.")
        disks_dir = vm_disks_dir(vm_id)
        built = []
        for disk in item.disks.filter(included=True):
            target = disks_dir / f"{disk.disk_id}.vhd"
            replica = replica_files.replica_path(disk)
            if replica.exists():
                sparse_copy(replica, target, disk.size_bytes)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as handle:
                    handle.truncate(disk.size_bytes)
            built.append(
                (
                    disk,
                    file_sha256(target) if disk.size_bytes <= SHA256_LIMIT_BYTES else "",
                    replica_files.file_content_digest(target, disk.size_bytes),
                )
            )
    finally:
        apply_lease.lease_drop(item.pk, owner)
        uploads.request_apply(item.pk)  # whatever arrived meanwhile
    try:
        return _record_vm(job, item, vm_id, name, group, network, subnet, test, point, built)
    except IntegrityError:
        # A second delivery of this job built the same VM at the same moment: its rows stand.
        return VirtualMachine.objects.get(pk=vm_id)


def _record_vm(job, item, vm_id, name, group, network, subnet, test, point, built) -> VirtualMachine:
    server = item.server
    with transaction.atomic():
        vm = VirtualMachine.objects.create(
            id=vm_id,
            resource_group=group,
            name=name,
            location=item.project.target_region,
            size=item.target_vm_size,
            os_type=server.os_type,
            os_name=server.os_name,
            license_type=item.license_type,
            availability_set_id="" if test else item.target_availability_set_id,
            network=network,
            subnet_name=subnet,
            private_ip=_free_ip(network, subnet),
            tags={"migrate-test": "true", "migrate-source": server.name} if test else {"migrate-source": server.name},
            is_test=test,
            migration_item=item,
            source_server_name=server.name,
            recovery_point_time=point.captured_at,
            created_by_job=job,
            created_at=clock.now(),
        )
        ManagedDisk.objects.bulk_create(
            ManagedDisk(
                vm=vm,
                name=f"{name}-{disk.disk_id}",
                source_disk_id=disk.disk_id,
                is_os_disk=disk.is_os_disk,
                size_bytes=disk.size_bytes,
                disk_type=disk.disk_type,
                sha256=sha256,
                content_digest=digest,
            )
            for disk, sha256, digest in built
        )
        job_input = dict(job.input)
        job_input["vm"] = {
            "id": vm.arm_id,
            "recoveryPointCycle": point.cycle,
            "recoveryPointTime": point.captured_at.isoformat(),
            "disks": [
                {
                    "diskId": disk.disk_id,
                    "sourceSha256": point.disks.get(disk.disk_id, {}).get("sourceSha256", ""),
                    "vmDiskSha256": sha256,
                    "contentDigest": digest,
                }
                for disk, sha256, digest in built
            ],
        }
        Job.objects.filter(pk=job.pk).update(input=job_input)
        job.input = job_input
    return vm


def _remove_half_built(job: Job) -> None:
    """A failed job leaves no VM: its rows (if committed) and its disk files go."""
    vm_id = _vm_id(job)
    VirtualMachine.objects.filter(pk=vm_id).delete()
    shutil.rmtree(vm_disks_dir(vm_id), ignore_errors=True)


def delete_vm(vm: VirtualMachine) -> None:
    shutil.rmtree(vm_disks_dir(vm.pk), ignore_errors=True)
    vm.delete()


# Test migration


def _test_prerequisites(job: Job) -> None:
    item = _item(job)
    if not item.recovery_points.exists():
        raise JobStepError(
            "NoRecoveryPoint",
            f"{item.target_vm_name} has no recovery point yet.",
            recommended_action="Wait until initial replication completes (status Ready to migrate), then retry.",
        )


def _create_test_vm(job: Job) -> None:
    build_vm(job, _item(job), test=True, point_cycle=None)


def _test_succeeded(job: Job) -> None:
    MigrationItem.objects.filter(pk=job.input["item_id"], test_migrate_state=TestMigrateState.IN_PROGRESS).update(
        test_migrate_state=TestMigrateState.SUCCEEDED
    )
    push_job_item(job)


def _test_failed(job: Job) -> None:
    _remove_half_built(job)
    MigrationItem.objects.filter(pk=job.input["item_id"], test_migrate_state=TestMigrateState.IN_PROGRESS).update(
        test_migrate_state=TestMigrateState.NONE,
        last_test_migration_status="Failed",
        last_test_migration_at=clock.now(),
    )
    push_job_item(job)


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
        succeeded_title="Test migration succeeded",
        failed_title="Test migration failed",
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
    MigrationItem.objects.filter(
        pk=job.input["item_id"], test_migrate_state=TestMigrateState.CLEANUP_IN_PROGRESS
    ).update(
        test_migrate_state=TestMigrateState.NONE,
        last_test_migration_status="Succeeded",
        last_test_migration_at=clock.now(),
    )
    push_job_item(job)


def _cleanup_failed(job: Job) -> None:
    MigrationItem.objects.filter(
        pk=job.input["item_id"], test_migrate_state=TestMigrateState.CLEANUP_IN_PROGRESS
    ).update(test_migrate_state=TestMigrateState.SUCCEEDED)


register(
    Scenario(
        name="TestMigrateCleanup",
        friendly_name="Test migration cleanup",
        steps=(
            Step("DeleteTestVirtualMachine", "Delete the test virtual machine", _delete_test_vm),
            Step("CompleteCleanup", "Complete test migration cleanup", _cleanup_succeeded),
        ),
        running_title="Cleaning up the test migration of {target}...",
        succeeded_title="Test migration cleaned up",
        failed_title="Cleaning up the test migration failed",
        on_failure=_cleanup_failed,
    )
)


# Migration

FINAL_SYNC_TIMEOUT = timedelta(minutes=30)


def _migrate_prerequisites(job: Job) -> None:
    item = _item(job)
    if not item.recovery_points.exists():
        raise JobStepError(
            "NoRecoveryPoint",
            f"{item.target_vm_name} has no recovery point yet.",
            recommended_action="Wait until initial replication completes, then retry.",
        )


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
    build_vm(job, item, test=False, point_cycle=job.input.get("final_cycle"))


def _start_vm(job: Job) -> None:
    now = clock.now()
    MigrationItem.objects.filter(pk=job.input["item_id"], migration_state=MigrationState.MIGRATION_IN_PROGRESS).update(
        migration_state=MigrationState.MIGRATION_SUCCEEDED, last_migration_at=now, last_migration_status="Succeeded"
    )
    push_job_item(job)


def _migrate_failed(job: Job) -> None:
    _remove_half_built(job)
    MigrationItem.objects.filter(pk=job.input["item_id"], migration_state=MigrationState.MIGRATION_IN_PROGRESS).update(
        migration_state=MigrationState.REPLICATING,
        shutdown_requested_at=None,
        last_migration_status="Failed",
        last_migration_at=clock.now(),
    )
    push_job_item(job)


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
        succeeded_title="Migration succeeded",
        failed_title="Migration failed",
        succeeded_message="{target} is running in Azure. Select Stop replication to complete the migration.",
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
    batches = ReplicationBatch.objects.filter(disk__item=item)
    for blob_name in batches.values_list("blob_name", flat=True):
        (settings.REPLICATION_DIR / blob_name).unlink(missing_ok=True)
    batches.delete()
    shutil.rmtree(settings.REPLICATION_DIR / "replicas" / str(item.pk), ignore_errors=True)
    item.recovery_points.all().delete()
    if job.input.get("migrated"):
        push_job_item(job)
        return
    # Never migrated: the server can be replicated again, so the item goes.
    project = item.project
    item.delete()
    from replication import push

    transaction.on_commit(lambda: push.replicating_servers_changed(project, []), robust=True)


def _stop_failed(job: Job) -> None:
    MigrationItem.objects.filter(
        pk=job.input["item_id"], migration_state=MigrationState.DISABLE_MIGRATION_IN_PROGRESS
    ).update(migration_state=MigrationState.REPLICATING, replication_stopped_at=None)
    if job.input.get("migrated"):
        # A migrated item keeps its state while stopping; without this it would allow nothing again.
        MigrationItem.objects.filter(
            pk=job.input["item_id"], migration_state=MigrationState.MIGRATION_SUCCEEDED
        ).update(replication_stopped_at=None)


register(
    Scenario(
        name="DisableMigration",
        friendly_name="Stop replication",
        steps=(
            Step("DisableReplication", "Disable replication", _disable_replication),
            Step("DeleteReplicationData", "Delete replication data, cache and replica disks", _delete_replication_data),
        ),
        running_title="Stopping replication of {target}...",
        succeeded_title="Replication stopped",
        failed_title="Stopping replication failed",
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
        succeeded_title="Resynchronization started",
        failed_title="Resynchronization failed",
        succeeded_message="Every disk of {target} is being sent again in full; its latest recovery point stays "
        "usable meanwhile.",
    )
)
