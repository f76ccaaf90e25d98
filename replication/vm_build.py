"""Building a VM from the replica disks at a recovery point, and deleting one.

A VM's disks are sparse copies of the replicas taken while the item's apply lease is held, so they
hold exactly one recovery point; their SHA-256 and content digest are recorded on the VM's disks and
in the job. The VM's id is derived from the job, so a re-run finds what an earlier run built.
"""

from __future__ import annotations

import ipaddress
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from hub import clock
from jobs.models import Job
from jobs.scenarios import JobStepError, JobStepWaiting
from projects.models import VirtualNetwork
from replication import apply_lease, fault_effects, point_manifests, replica_files, uploads
from replication.models import ManagedDisk, MigrationItem, RecoveryPoint, VirtualMachine

TEST_SUFFIX = "-Test"
# Disks up to this size get a full SHA-256 when built (a sparse 2 TB disk would take hours to hash);
# larger ones are compared by the protocol's content digest.
SHA256_LIMIT_BYTES = 16 * 1024**3


def vm_disks_dir(vm_id) -> Path:
    return settings.REPLICATION_DIR / "disks" / str(vm_id)


def _vm_id(job: Job) -> uuid.UUID:
    """The VM's id is fixed by the job, so a re-run writes to the same files and finds its own rows."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"migrate-hub/job/{job.pk}/vm")


def _latest_whole_point(item: MigrationItem) -> RecoveryPoint | None:
    """The newest point the replicas hold right now (every disk applied to its cycle, nothing past it)."""
    disks = list(item.disks.filter(included=True))
    cycles = {disk.applied_cycle for disk in disks}
    if len(cycles) != 1:
        return None
    return RecoveryPoint.objects.filter(item=item, cycle=cycles.pop()).first()


def _point_to_build(item: MigrationItem, point_id: str | None, point_cycle: int | None) -> RecoveryPoint | None:
    if point_id:
        point = item.recovery_points.filter(pk=point_id).first()
        if point is None:
            raise JobStepError(
                "RecoveryPointNotFound",
                f"The chosen recovery point of {item.target_vm_name} no longer exists.",
                possible_causes="It was older than the replication policy keeps and was pruned.",
                recommended_action="Choose another recovery point, or the latest processed one, then retry.",
            )
        return point
    points = item.recovery_points.order_by("-cycle")
    if point_cycle is not None:
        return points.filter(cycle=point_cycle).first()
    return points.first()


def _point_manifests(item: MigrationItem, point: RecoveryPoint) -> list | None:
    """(disk, manifest, whether to take its SHA-256) for each included disk; None when the point
    predates manifests (then only the replica, at the latest point, can be built)."""
    found = []
    for disk in item.disks.filter(included=True):
        about = point.disks.get(disk.disk_id) or {}
        manifest = point_manifests.manifest_load(item, disk.pk, point.cycle) if "diskPk" in about else None
        if manifest is None:
            return None
        found.append((disk, manifest, disk.size_bytes <= SHA256_LIMIT_BYTES))
    return found


def _build_from_replicas(job: Job, item: MigrationItem, vm_id, point_cycle: int | None) -> tuple:
    """A point without manifests: copy the replicas, which hold only the latest point, under the lease."""
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
            # One read of the replica gives the copy, its SHA-256 and its content digest.
            sha256, digest = replica_files.sparse_copy_with_digests(
                replica_files.replica_path(disk),
                target,
                disk.size_bytes,
                sha256=disk.size_bytes <= SHA256_LIMIT_BYTES,
            )
            built.append((disk, sha256, digest))
    finally:
        apply_lease.lease_drop(item.pk, owner)
        uploads.request_apply(item.pk)  # whatever arrived meanwhile
    return point, built


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


def build_vm(
    job: Job, item: MigrationItem, *, test: bool, point_cycle: int | None, point_id: str | None = None
) -> VirtualMachine:
    """Create the VM (rows and disk files) at a recovery point: the one chosen (point_id), else the one
    of point_cycle (Migrate's final point), else the latest. Idempotent: a re-run of the same job finds
    its VM. Nothing is visible until the rows are committed at the end."""
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
    # Compute's quota check comes before anything is built (an injected targetQuotaExceeded fault).
    fault_effects.check_target_quota(item, test=test)
    network = item.test_network if test else item.target_network
    subnet = item.test_subnet_name if test else item.target_subnet_name
    if network is None:
        raise JobStepError(
            "TargetNetworkNotFound",
            "The virtual network chosen for the VM was deleted.",
            recommended_action="Choose another virtual network, then retry.",
        )
    point = _point_to_build(item, point_id, point_cycle)
    manifests = _point_manifests(item, point) if point is not None else None
    if manifests is not None:
        # Any kept point: its chunks never change, so no lease is needed, and applying goes on meanwhile.
        built = [
            (disk, *point_manifests.restore(item, manifest, vm_disks_dir(vm_id) / f"{disk.disk_id}.vhd", sha256=sha))
            for disk, manifest, sha in manifests
        ]
    elif point_id and point is not None and point.pk != item.last_recovery_point_id:
        raise JobStepError(
            "RecoveryPointNotBuildable",
            f"The chosen recovery point of {item.target_vm_name} was recorded before points were kept as "
            "manifests; only the latest one can be built.",
            recommended_action="Choose the latest processed recovery point, then retry.",
        )
    else:
        point, built = _build_from_replicas(job, item, vm_id, point_cycle)
    try:
        vm = _record_vm(job, item, vm_id, name, group, network, subnet, test, point, built)
    except IntegrityError:
        # A second delivery of this job built the same VM at the same moment: its rows stand.
        return VirtualMachine.objects.get(pk=vm_id)
    if test:
        fault_effects.test_vm_in_routed_network(item, network)
    return vm


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
            "recoveryPointId": str(point.pk),
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


def remove_half_built(job: Job) -> None:
    """A failed job leaves no VM: its rows (if committed) and its disk files go."""
    vm_id = _vm_id(job)
    VirtualMachine.objects.filter(pk=vm_id).delete()
    shutil.rmtree(vm_disks_dir(vm_id), ignore_errors=True)


def delete_vm(vm: VirtualMachine) -> None:
    shutil.rmtree(vm_disks_dir(vm.pk), ignore_errors=True)
    vm.delete()
