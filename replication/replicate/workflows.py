"""Replicate's two workflows. `replication_enable` creates nothing unless the rules find no problem,
then one migration item and one Start replication job per server; `replication_update` is Manage >
Replicating machines (and PATCH): the same rules, refused once replication has started. Both check
the user's roles first and the rules again under a lock, as two requests may race."""

from __future__ import annotations

from django.db import transaction

from hub import clock, secrets
from hub.arm.errors import ArmError
from jobs.models import Job
from projects import access
from projects.services import job_start_in_group
from replication.models import (
    LicenseType,
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    RunAsAccount,
)
from replication.policies import replication_policy
from replication.replicate.plan import ReplicationInvalid, ReplicationPlan, ServerPlan, target_vm_size
from replication.replicate.rules import replication_plan_problems


def replication_enable(user, project, plan: ReplicationPlan, *, link: str = "") -> list[Job]:
    """Start replicating every server of the plan, or nothing (ReplicationInvalid names each problem)."""
    _authorize(user, project, plan)
    _refuse_problems(user, project, plan)
    jobs = []
    with transaction.atomic():
        # Serialise Replicate per project: two requests must not both take one server or one VM name.
        type(project).objects.select_for_update().filter(pk=project.pk).first()
        _refuse_problems(user, project, plan)
        policy = plan.policy or replication_policy(project)
        run_as_account = _run_as_account(plan)
        for server_plan in plan.servers:
            item = _create_item(user, project, plan, server_plan, policy, run_as_account)
            job = job_start_in_group(
                user=user,
                group=project.resource_group,
                scenario_name="EnableMigration",
                target_object_id=str(item.pk),
                target_object_name=item.target_vm_name,
                target_instance_type="ProtectionEntity",
                job_input={"item_id": str(item.pk)},
                link=link,
            )
            MigrationItem.objects.filter(pk=item.pk).update(current_job=job)
            jobs.append(job)
    return jobs


def replication_update(user, item: MigrationItem, plan: ReplicationPlan) -> MigrationItem:
    """Change a replicating server's settings; only before replication starts, as the tutorial says."""
    project = item.project
    _authorize(user, project, plan)
    with transaction.atomic():
        locked = MigrationItem.objects.select_for_update().select_related("server", "project").get(pk=item.pk)
        refuse_locked_settings(locked)
        _refuse_problems(user, project, plan, item=locked)
        server_plan = plan.servers[0]
        locked.target_resource_group = plan.target_resource_group
        locked.target_vm_name = server_plan.vm_name
        locked.target_vm_size = target_vm_size(locked.server, server_plan)
        locked.target_vm_size_auto = not server_plan.vm_size
        locked.target_network, locked.target_subnet_name = plan.target_network, plan.target_subnet
        locked.test_network, locked.test_subnet_name = plan.test_network, plan.test_subnet
        locked.license_type = LicenseType.WINDOWS_SERVER if plan.hybrid_benefit else LicenseType.NO_LICENSE
        locked.target_availability_set_id = server_plan.availability_set.arm_id if server_plan.availability_set else ""
        locked.save()
        for disk in locked.disks.all():
            choice = server_plan.disk_choice(disk.disk_id)
            disk.included, disk.disk_type = choice.include, choice.disk_type
            disk.is_os_disk = disk.disk_id == server_plan.os_disk_id
            disk.save(update_fields=["included", "disk_type", "is_os_disk"])
    return locked


def refuse_locked_settings(item: MigrationItem) -> None:
    if item.settings_locked:
        raise ArmError(
            409,
            "ReplicationSettingsLocked",
            f"Replication of {item.target_vm_name} has started: settings can't be changed after replication "
            "starts. Stop replication and replicate the server again to change them.",
        )


def replication_activate(item_id) -> None:
    """Start replication's last task: the agent may start sending (settings lock at its first batch)."""
    MigrationItem.objects.filter(pk=item_id, migration_state=MigrationState.ENABLE_MIGRATION_IN_PROGRESS).update(
        migration_state=MigrationState.INITIAL_SEEDING_IN_PROGRESS
    )


def _authorize(user, project, plan: ReplicationPlan) -> None:
    access.authorize(user, access.REPLICATE_SERVERS, project.subscription, project.resource_group.name)
    if plan.target_resource_group is not None:
        access.authorize(
            user, access.MANAGE_TARGET_VMS, plan.target_resource_group.subscription, plan.target_resource_group.name
        )
    for network in (plan.target_network, plan.test_network):
        if network is not None:
            group = network.resource_group
            access.authorize(user, access.JOIN_TARGET_NETWORK, group.subscription, group.name)


def _refuse_problems(user, project, plan: ReplicationPlan, *, item=None) -> None:
    problems = replication_plan_problems(user, project, plan, item=item)
    if problems:
        raise ReplicationInvalid(problems)


def _run_as_account(plan: ReplicationPlan) -> RunAsAccount | None:
    if plan.run_as_account is not None or not plan.new_credentials:
        return plan.run_as_account
    friendly_name, username, password = (part.strip() for part in plan.new_credentials)
    account, _ = RunAsAccount.objects.update_or_create(
        appliance=plan.appliance.configuration_server,
        friendly_name=friendly_name[:80],
        defaults={
            "username": username[:120],
            "encrypted_password": secrets.encrypt(password.encode(), purpose="guest credentials"),
        },
    )
    return account


def _create_item(user, project, plan, server_plan: ServerPlan, policy, run_as_account) -> MigrationItem:
    server = server_plan.server
    item = MigrationItem.objects.create(
        project=project,
        server=server,
        appliance=plan.appliance,
        policy=policy,
        run_as_account=run_as_account,
        created_by=user,
        created_at=clock.now(),
        target_resource_group=plan.target_resource_group,
        target_vm_name=server_plan.vm_name,
        target_vm_size=target_vm_size(server, server_plan),
        target_vm_size_auto=not server_plan.vm_size,
        target_network=plan.target_network,
        target_subnet_name=plan.target_subnet,
        test_network=plan.test_network,
        test_subnet_name=plan.test_subnet,
        license_type=LicenseType.WINDOWS_SERVER
        if plan.hybrid_benefit and server.os_type == "Windows"
        else LicenseType.NO_LICENSE,
        target_availability_set_id=server_plan.availability_set.arm_id if server_plan.availability_set else "",
    )
    ProtectedDisk.objects.bulk_create(
        ProtectedDisk(
            item=item,
            disk_id=disk["diskId"],
            name=disk.get("name") or disk["diskId"],
            is_os_disk=disk["diskId"] == server_plan.os_disk_id,
            size_bytes=disk["sizeBytes"],
            disk_type=server_plan.disk_choice(disk["diskId"]).disk_type,
            included=server_plan.disk_choice(disk["diskId"]).include,
        )
        for disk in server.disks
    )
    return item
