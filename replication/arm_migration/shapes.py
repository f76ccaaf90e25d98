"""The response bodies of Site Recovery migration items and their recovery points, in the shapes
SiteRecoveryManagementClient reads, and the ids below a vault that every body of the package names.
States, health and allowed operations come from replication.status, so the portal and the API say the
same thing."""

from __future__ import annotations

import math
from datetime import datetime

from django.db.models import Prefetch

from hub import clock
from hub.arm.errors import found
from hub.arm.schema import members
from hub.arm.views import arm_time
from hub.ids import parse_uuid
from jobs.models import Job
from projects import access
from projects.models import MigrationResource
from replication import planning
from replication.arm import Vault
from replication.arm_compute import disk_id
from replication.arm_migration import openapi
from replication.health import InitialReplicationStalled
from replication.models import MigrationItem, MigrationState, RecoveryPoint, ReplicationPolicy, VirtualMachine
from replication.status import item_status

ITEM_TYPE = access.MIGRATION_ITEM_TYPE
PROVIDER, VMWARE_CBT = openapi.INSTANCE_TYPES
PROVIDER_DETAILS = "properties.providerSpecificDetails"
# ASR's idle currentJob (ARM-API.md 4.3): a job named "None" that started at SQL Server's minimum date.
IDLE_JOB_START = "1753-01-01T01:01:01Z"
GIB = 1024**3


def _flag(value: bool) -> str:
    """ASR's InMageRcm shapes carry booleans as the strings "true" and "false"."""
    return "true" if value else "false"


def item_id(vault: Vault, item: MigrationItem) -> str:
    return f"{vault.container_id}/replicationMigrationItems/{item.arm_name}"


def policy_id(vault: Vault, policy: ReplicationPolicy) -> str:
    return f"{vault.id}/replicationPolicies/{policy.name}"


def job_id(vault: Vault, job_pk) -> str:
    return f"{vault.id}/replicationJobs/{job_pk}"


# The VM Migrate built (not a test VM), whose disks are the items' targetManagedDiskIds.
_MIGRATED_VMS = (
    VirtualMachine.objects.filter(is_test=False)
    .select_related("resource_group__subscription")
    .prefetch_related("disks")
)


# What an item's body reads besides the item, fetched with it; the target's ids name their subscription.
ITEM_PARENTS = ("server", "appliance", "policy", "run_as_account", "current_job", "project")
TARGET_PARENTS = ("target_resource_group", "target_network__resource_group", "test_network__resource_group")


def items_of(vault: Vault):
    """The vault's migration items that are not stopped, with what their bodies read."""
    return (
        MigrationItem.objects.active()
        .filter(project=vault.project)
        .select_related(*ITEM_PARENTS, *(f"{parent}__subscription" for parent in TARGET_PARENTS))
        .prefetch_related("disks", Prefetch("virtual_machines", _MIGRATED_VMS))
        .order_by("created_at", "pk")
    )


def job_reference(vault: Vault, job: Job) -> dict:
    return {
        "jobName": job.scenario_name,
        "jobId": job_id(vault, job.pk),
        "startTime": arm_time(job.started_at or job.created_at),
    }


def _current_job(vault: Vault, job: Job | None) -> dict:
    if job is None or job.is_terminal:
        return {"jobName": "None", "jobId": job_id(vault, "None"), "startTime": IDLE_JOB_START}
    return job_reference(vault, job)


def item_bodies(vault: Vault, items: list[MigrationItem]) -> list[dict]:
    """The bodies of `items`, with what they share read once: the log storage account, the job history."""
    storage = vault.project.migration_resource(MigrationResource.Kind.STORAGE_ACCOUNT)
    history: dict[str, list[Job]] = {}
    for job in Job.objects.filter(target_object_id__in=[str(item.pk) for item in items]).order_by("-created_at"):
        history.setdefault(job.target_object_id, []).append(job)
    now, storage_id = clock.now(), storage.arm_id if storage else None
    return [_item_body(vault, item, now, storage_id, history.get(str(item.pk), [])) for item in items]


def _item_body(vault: Vault, item: MigrationItem, now: datetime, storage_id: str | None, history: list[Job]) -> dict:
    server, status = item.server, item_status(item, now)
    disks = list(item.disks.all())
    this_id = item_id(vault, item)
    progress_health = "None"
    initial_done = item.initial_replication_completed_at is not None
    if item.migration_state == MigrationState.INITIAL_SEEDING_IN_PROGRESS and item.replication_started_at:
        stalled = any(error["errorCode"] == InitialReplicationStalled.code for error in status.health_errors)
        progress_health = "NoProgress" if stalled else "InProgress"
    resync = any(disk.resync_required for disk in disks if disk.included)
    migrated = [vm for vm in item.virtual_machines.all() if not vm.is_test]
    target_disks = {d.source_disk_id: disk_id(vm, d) for vm in migrated for d in vm.disks.all()}
    primary_ip = next((ip for nic in server.nics if nic.get("isPrimary") for ip in nic.get("ipAddresses", [])), None)
    details = {
        **openapi.ITEM_DETAILS_FIXED,
        **members(openapi.MIGRATION_ITEM_DETAILS, item=item, status=status),
        "fabricDiscoveryMachineId": f"{vault.container_id}/replicationProtectableItems/{server.pk}",
        "osName": f"{server.os_name} {server.os_version}".strip(),
        "primaryNicIpAddress": primary_ip or next(iter(server.ip_addresses), None),
        "targetGeneration": "V2" if server.firmware.upper() == "UEFI" else "V1",
        "lastRpoCalculatedTime": arm_time(now) if status.rpo_seconds is not None else None,
        "lastRecoveryPointId": (
            f"{this_id}/migrationRecoveryPoints/{item.last_recovery_point_id}" if item.last_recovery_point_id else None
        ),
        "initialReplicationProgressHealth": progress_health,
        "resyncRequired": _flag(resync),
        "resyncState": "StartedResynchronization" if resync else "None",
        "protectedDisks": [
            {
                **openapi.PROTECTED_DISK_FIXED,
                **members(openapi.PROTECTED_DISK, disk=disk),
                "diskName": disk.name or disk.disk_id,
                "isOSDisk": _flag(disk.is_os_disk),
                "diskState": "Protected" if initial_done else "InitialReplicationPending",
                "logStorageAccountId": storage_id,
                "targetManagedDiskId": target_disks.get(disk.disk_id),
                "isInitialReplicationComplete": _flag(initial_done),
                "diskSizeInGB": math.ceil(disk.size_bytes / GIB),
            }
            for disk in disks
            if disk.included
        ],
        "unprotectedDisks": [
            {"diskId": disk.disk_id, "diskName": disk.name or disk.disk_id, "capacityInBytes": disk.size_bytes}
            for disk in disks
            if not disk.included
        ],
        "mobilityAgentDetails": {
            **openapi.MOBILITY_AGENT_FIXED,
            **members(openapi.MOBILITY_AGENT, server=server),
            "distroName": f"{server.os_name} {server.os_version}".strip(),
        },
        "vmNics": [
            {
                **openapi.VM_NIC_FIXED,
                **members(openapi.VM_NIC, item=item),
                "nicId": nic.get("nicId", f"nic{index}"),
                "isPrimaryNic": _flag(nic.get("isPrimary", index == 0)),
                "sourceIPAddress": next(iter(nic.get("ipAddresses") or []), None),
            }
            for index, nic in enumerate(server.nics or [])
        ],
    }
    return {
        "id": this_id,
        "name": item.arm_name,
        "type": ITEM_TYPE,
        "properties": {
            **members(openapi.MIGRATION_ITEM_PROPERTIES, item=item, status=status),
            "policyId": policy_id(vault, item.policy),
            "recoveryServicesProviderId": vault.provider_id(item.appliance),
            "currentJob": _current_job(vault, item.current_job),
            "criticalJobHistory": [{**job_reference(vault, job), "jobStatus": job.state} for job in history[:10]],
            # A Migrate with shutdown's expected downtime, named after Google Migrate to VMs' (replication.planning).
            "cutoverForecast": planning.forecast_properties(item) if "Migrate" in status.allowed_operations else None,
            "providerSpecificDetails": details,
        },
    }


def recovery_point_body(vault: Vault, item: MigrationItem, point: RecoveryPoint) -> dict:
    return {
        "id": f"{item_id(vault, item)}/migrationRecoveryPoints/{point.pk}",
        "name": str(point.pk),
        "type": f"{ITEM_TYPE}/migrationRecoveryPoints",
        "properties": members(openapi.RECOVERY_POINT_PROPERTIES, point=point),
    }


def find_item(vault: Vault, name: str) -> MigrationItem | None:
    """The vault's migration item of this name (the server's id), if any."""
    return items_of(vault).filter(server_id=parse_uuid(name)).first()


def item_or_404(vault: Vault, name: str) -> MigrationItem:
    message = f"Migration item '{name}' was not found in vault {vault.resource.name}."
    return found(find_item(vault, name), "MigrationItemNotFound", message)


def one_item_body(vault: Vault, name: str) -> dict:
    """The body of the item the URL names, as it is now (404 when there is none)."""
    return item_bodies(vault, [item_or_404(vault, name)])[0]
