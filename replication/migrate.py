"""Test migrate, Clean up test migration, Migrate, Resynchronize and Stop replication (the tutorial's
"Run a test migration", "Migrate VMs" and "Complete the migration").

Each verb is allowed only when status.allowed_operations says so (409 OperationNotAllowed and no job
otherwise), claims the item with a conditional update, and runs as a job whose failure gives the
claim back, removes anything half-built, and can be retried.

Where the rest lives: the scenarios' steps in replication/migrate_jobs.py, building and deleting VMs in
replication/vm_build.py.
"""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse

from hub import clock
from hub.arm.errors import ArmError
from jobs.models import Job
from projects import access
from projects.models import VirtualNetwork
from projects.regions import region_display_name
from projects.services import job_start_in_group
from replication.models import MigrationItem, MigrationState, RecoveryPoint, TestMigrateState
from replication.status import allowed_operations


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
    """Start the verb's job; its notification names the server and leads to its blade unless the caller
    says otherwise."""
    job = job_start_in_group(
        user=user,
        group=item.project.resource_group,
        scenario_name=scenario,
        target_object_id=str(item.pk),
        target_object_name=item.target_vm_name,
        target_instance_type="ProtectionEntity",
        job_input={"item_id": str(item.pk), **job_input},
        link=link or reverse("replication:replicating-server", args=[item.pk]),
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


def _point_input(point: RecoveryPoint | None) -> dict:
    """A chosen point, for the job (and for pruning, which keeps it while the job runs); none: the latest."""
    if point is None:
        return {}
    return {"recovery_point_id": str(point.pk), "recovery_point_cycle": point.cycle}


def test_migrate_start(
    user, item: MigrationItem, *, network: VirtualNetwork, subnet: str = "", point: RecoveryPoint | None = None, link=""
) -> Job:
    """No subnet named: the item's test subnet on its test network, else the network's first. No point
    chosen: the latest processed one when the VM is built."""
    _authorize_target(user, item, network)
    if network.location.lower() != item.project.target_region.lower():
        raise ArmError(
            400,
            "InvalidTestNetwork",
            f"Virtual network {network.name} is in {region_display_name(network.location)}; the test VM is created "
            f"in {region_display_name(item.project.target_region)}. Choose a network there (a non-production one is "
            "recommended).",
        )
    if not subnet and network == item.test_network:
        subnet = item.test_subnet_name  # chosen at Replicate; it belongs to that network only
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
        job_input = {"network_id": str(network.pk), "subnet": subnet, **_point_input(point)}
        return _start(user, item, "TestMigrate", job_input, link)


def test_migrate_cleanup_start(user, item: MigrationItem, *, comments: str = "", link="") -> Job:
    _authorize_target(user, item, None)
    with transaction.atomic():
        item = _claim(item, "TestMigrateCleanup", test_migrate_state=TestMigrateState.CLEANUP_IN_PROGRESS)
        return _start(user, item, "TestMigrateCleanup", {"comments": comments[:1000]}, link)


def migrate_start(
    user, item: MigrationItem, *, shutdown: bool = True, point: RecoveryPoint | None = None, link=""
) -> Job:
    """With shutdown, the source stops and sends its final changes first; the VM is built from the chosen
    point if one was chosen, else from that final point (or, without shutdown, the latest)."""
    _authorize_target(user, item, item.target_network)
    with transaction.atomic():
        item = _claim(
            item,
            "Migrate",
            migration_state=MigrationState.MIGRATION_IN_PROGRESS,
            shutdown_requested_at=clock.now() if shutdown else None,
        )
        job_input = {"shutdown": shutdown, "requested_at": clock.now().isoformat(), **_point_input(point)}
        return _start(user, item, "Migrate", job_input, link)


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
