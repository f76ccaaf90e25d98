"""This app's part of deleting a project or a resource group (projects.deletion runs the order).

For a project: its vault's contents go first, dependants before what they depend on: replicating
servers that no longer replicate (their cache blobs, replica disks, recovery points and leftover test
VMs), the appliances (with their discovered servers and guest credentials), the replication
policies; the project's rows then cascade. A vault still protecting servers refuses, as Azure Site
Recovery's does: `ServiceResourceNotEmpty`, naming the servers and how to stop their replication.

For a resource group: the VMs in it (their managed disks and NICs with them) before anything else.
A server replicating from another group's vault into this group refuses the deletion: the hub would
be left with a replication that has no target (Azure lets the deletion go and fails the migration
later; the hub says so up front).

Files are removed once the deleting transaction has committed, so a rolled-back deletion keeps its
data."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.db import transaction
from django.db.models import Q

from hub.object_store import store
from jobs.models import TERMINAL_STATES
from projects import deletion
from projects.models import MigrateProject, MigrationResource, ResourceGroup
from replication.models import MigrationItem, MigrationState, VirtualMachine
from replication.replica_files import replicas_dir, storage_account_name
from replication.vm_build import vm_disks_dir

SHOWN = 5  # servers named in a refusal; the rest are counted


def _still_protected(items):
    """Items Site Recovery still protects: replicating (or about to), or with a job in flight on them."""
    replicating = Q(replication_stopped_at__isnull=True) & ~Q(migration_state=MigrationState.ENABLE_MIGRATION_FAILED)
    busy = Q(current_job__isnull=False) & ~Q(current_job__state__in=TERMINAL_STATES)
    return items.filter(replicating | busy).select_related("server")


def _names(items) -> str:
    names = [item.server.name for item in items[: SHOWN + 1]]
    shown = ", ".join(names[:SHOWN])
    more = items.count() - SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _project_refusal(project: MigrateProject) -> deletion.DeletionRefused | None:
    protected = _still_protected(project.migration_items.all())
    if not protected.exists():
        return None
    vault = project.migration_resource(MigrationResource.Kind.RECOVERY_SERVICES_VAULT)
    where = f"Vault {vault.name} of project {project.name}" if vault else f"Project {project.name}"
    resource = f"{vault.kind}/{vault.name}" if vault else f"{MigrateProject.arm_type}/{project.name}"
    return deletion.DeletionRefused(
        "ServiceResourceNotEmpty",
        f"{where} cannot be deleted as there are existing resources within the vault: {protected.count()} "
        f"replicating server(s) ({_names(protected)}). Stop replication of each (Replicating servers > the "
        "server > Stop migration, or DELETE its replicationMigrationItem), wait for those jobs to end, then "
        "delete again.",
        (resource,),
    )


def _group_refusal(group: ResourceGroup) -> deletion.DeletionRefused | None:
    elsewhere = _still_protected(MigrationItem.objects.filter(target_resource_group=group)).exclude(
        project__resource_group=group
    )
    if not elsewhere.exists():
        return None
    vaults = MigrationResource.objects.filter(
        kind=MigrationResource.Kind.RECOVERY_SERVICES_VAULT, project__migration_items__in=elsewhere
    ).distinct()
    return deletion.DeletionRefused(
        "TargetResourceGroupInUse",
        f"Resource group {group.name} is the target of {elsewhere.count()} replicating server(s) "
        f"({_names(elsewhere)}) of another resource group's project: their migration would have nowhere to go. "
        "Change their target resource group (the server's Compute and Network settings) or stop their "
        "replication, then delete again.",
        tuple(f"{vault.kind}/{vault.name}" for vault in vaults),
    )


def _remove_after_commit(paths: list[Path]) -> None:
    def remove():
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)

    transaction.on_commit(remove, robust=True)


def _remove_vms(vms) -> None:
    vm_ids = list(vms.values_list("pk", flat=True))
    VirtualMachine.objects.filter(pk__in=vm_ids).delete()  # managed disks cascade; NICs are the VMs'
    _remove_after_commit([vm_disks_dir(vm_id) for vm_id in vm_ids])


def _remove_from_project(project: MigrateProject) -> None:
    items = MigrationItem.objects.filter(project=project)
    item_ids = list(items.values_list("pk", flat=True))
    # A test VM not cleaned up goes with the replication it came from; migrated VMs stay (they are
    # resources of their own in the target group).
    _remove_vms(VirtualMachine.objects.filter(migration_item__in=item_ids, is_test=True))
    items.delete()  # disks, batches and recovery points cascade
    _remove_after_commit([replicas_dir(item_id) for item_id in item_ids])
    # The cache storage account's container, on whichever backend holds it (hub/object_store.py).
    account = storage_account_name(project)
    transaction.on_commit(lambda: store().delete_container(account), robust=True)
    project.appliances.all().delete()  # discovered servers and guest credentials cascade
    project.policies.all().delete()


def _remove_from_group(group: ResourceGroup) -> None:
    _remove_vms(VirtualMachine.objects.filter(resource_group=group))
    # Servers that no longer replicate keep their record in another project; their target is gone.
    MigrationItem.objects.filter(target_resource_group=group).exclude(project__resource_group=group).update(
        target_resource_group=None
    )


def register() -> None:
    deletion.register(
        deletion.DeletionPart(
            name="replication",
            project_refusal=_project_refusal,
            remove_from_project=_remove_from_project,
            group_refusal=_group_refusal,
            remove_from_group=_remove_from_group,
        )
    )
