"""Deleting a project or a resource group as Azure does, through the ARM API (DRF's client) and the
job that deletes a group: dependants first (VMs and their disks, replicating servers' data, vault
contents, projects, networks), a vault still protecting servers refuses with Site Recovery's code
and words, a refused group deletion rolls the group back and removes nothing, and files go only
once the rows are gone. tests/test_arm_deletes.py drives the same through the official SDK."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import clock
from hub.arm.errors import ArmError
from jobs.models import Job, State
from jobs.services import job_run
from projects import services as project_services
from projects.models import MigrateProject, MigrationResource, ResourceGroup, Solution, VirtualNetwork
from replication.models import (
    Appliance,
    DiscoveredServer,
    ManagedDisk,
    MigrationItem,
    MigrationState,
    ReplicationPolicy,
    VirtualMachine,
)
from replication.replica_files import replicas_dir, storage_account_name
from replication.tests.test_arm_migration import SUB, World, job_of
from replication.vm_build import vm_disks_dir

pytestmark = pytest.mark.django_db
API = "?api-version=2018-09-01-preview"
GROUP = f"/subscriptions/{SUB}/resourcegroups/rg-migrate"


@pytest.fixture
def world(django_capture_on_commit_callbacks, settings, tmp_path):
    settings.REPLICATION_DIR = tmp_path
    world = World(django_capture_on_commit_callbacks)
    world.data_dir = tmp_path
    return world


def replicating(world, host: str = "web01") -> MigrationItem:
    client = world.client()
    job_run(job_of(world.enable(client, host)).pk)
    return MigrationItem.objects.get(server=world.servers[host])


def stopped(item: MigrationItem) -> MigrationItem:
    """As after Migrate and Complete migration: the record stays, nothing replicates any more."""
    MigrationItem.objects.filter(pk=item.pk).update(
        migration_state=MigrationState.MIGRATION_SUCCEEDED, replication_stopped_at=clock.now()
    )
    return MigrationItem.objects.get(pk=item.pk)


def data_files(world, item: MigrationItem) -> list[Path]:
    """A replica disk and a cache blob, where the data path keeps them."""
    replica = replicas_dir(item.pk) / "disk0.img"
    blob = world.data_dir / "storage" / storage_account_name(world.project) / str(item.pk) / "1.batch"
    for path in (replica, blob):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"data")
    return [replica, blob]


def vm_in(group: ResourceGroup, name: str, *, item: MigrationItem | None = None, test: bool = False) -> Path:
    vm = VirtualMachine.objects.create(
        resource_group=group, name=name, location="westeurope", size="Standard_B2s", os_type="Linux",
        migration_item=item, is_test=test,
    )  # fmt: skip
    ManagedDisk.objects.create(
        vm=vm, name=f"{name}-osdisk", source_disk_id="disk0", size_bytes=1, disk_type="Premium_LRS"
    )
    disk = vm_disks_dir(vm.pk) / "osdisk.img"
    disk.parent.mkdir(parents=True, exist_ok=True)
    disk.write_bytes(b"disk")
    return disk


def delete_group(world, client=None):
    client = client or world.client()
    with world.capture(execute=True):
        response = client.delete(f"{GROUP}?api-version=2025-04-01")
    assert response.status_code == 202
    job = Job.objects.filter(scenario_name="DeleteResourceGroup").latest("created_at")
    with world.capture(execute=True):
        job_run(job.pk)
    return client.get(response.headers["Location"]), Job.objects.get(pk=job.pk)


def test_a_project_with_an_appliance_and_discovered_servers_is_deleted_with_them(world):
    project = world.project
    client = world.client()
    with world.capture(execute=True):
        response = client.delete(project.arm_id + API)
    assert response.status_code == 200
    assert not MigrateProject.objects.filter(pk=project.pk).exists()
    assert not Appliance.objects.filter(project_id=project.pk).exists()
    assert not DiscoveredServer.objects.filter(project_id=project.pk).exists()
    assert not MigrationResource.objects.filter(project_id=project.pk).exists(), "vault, Key Vault, storage"
    assert not Solution.objects.filter(project_id=project.pk).exists()
    assert client.delete(project.arm_id + API).status_code == 204, "deleting what is gone succeeds"
    assert ResourceGroup.objects.filter(name="rg-migrate").exists(), "the group stays"


def test_a_vault_protecting_servers_refuses_and_nothing_is_deleted(world):
    item = replicating(world)
    response = world.client().delete(world.project.arm_id + API)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "ServiceResourceNotEmpty"
    assert "web01" in error["message"] and "Stop migration" in error["message"]
    assert (
        MigrationItem.objects.filter(pk=item.pk).exists() and Appliance.objects.filter(pk=world.appliance.pk).exists()
    )


def test_once_replication_stopped_the_project_goes_with_its_data_and_test_vm_and_the_migrated_vm_stays(world):
    item = stopped(replicating(world))
    files = data_files(world, item)
    group = ResourceGroup.objects.get(name="rg-migrate")
    test_disk = vm_in(group, "web01-Test", item=item, test=True)
    migrated_disk = vm_in(group, "web01", item=item)
    with world.capture(execute=True):
        response = world.client().delete(world.project.arm_id + API)
    assert response.status_code == 200, response.content
    assert not MigrationItem.objects.filter(pk=item.pk).exists()
    assert not ReplicationPolicy.objects.filter(project_id=world.project.pk).exists()
    assert not any(path.exists() for path in [*files, test_disk])
    assert not VirtualMachine.objects.filter(name="web01-Test").exists()
    assert VirtualMachine.objects.get(name="web01").migration_item is None and migrated_disk.exists()


def test_a_refused_group_deletion_rolls_the_group_back_and_says_why(world):
    item = replicating(world)
    poll, job = delete_group(world)
    assert job.state == State.FAILED
    assert poll.status_code == 409
    error = poll.json()["error"]
    assert error["code"] == "ResourceGroupDeletionBlocked"
    assert "Microsoft.RecoveryServices/vaults/" in error["message"]
    assert "ServiceResourceNotEmpty" in error["message"] and "web01" in error["message"]
    assert "{<" not in error["message"] and "Cannot delete some instances" not in error["message"], "no repr"
    group = ResourceGroup.objects.get(name="rg-migrate")
    assert group.provisioning_state == "Succeeded"
    assert MigrationItem.objects.filter(pk=item.pk).exists() and VirtualNetwork.objects.filter(resource_group=group)


def test_a_group_deletion_removes_everything_in_dependency_order(world):
    item = stopped(replicating(world))
    files = data_files(world, item)
    group = ResourceGroup.objects.get(name="rg-migrate")
    disks = [vm_in(group, "web01", item=item), vm_in(group, "web01-Test", item=item, test=True)]
    poll, job = delete_group(world)
    assert job.state == State.SUCCEEDED, job.first_error
    assert poll.status_code == 200
    assert not ResourceGroup.objects.filter(pk=group.pk).exists()
    for model in (MigrateProject, VirtualNetwork, VirtualMachine):
        assert not model.objects.filter(resource_group_id=group.pk).exists(), model
    assert not Appliance.objects.filter(pk=world.appliance.pk).exists()
    assert not any(path.exists() for path in [*files, *disks])
    assert world.client().get(f"{GROUP}?api-version=1").status_code == 404


def test_a_group_that_another_groups_servers_replicate_into_refuses(world):
    target = project_services.resource_group_create_or_update(
        user=world.admin, subscription=world.project.subscription, name="rg-target", location="westeurope"
    )[0]
    item = replicating(world)
    MigrationItem.objects.filter(pk=item.pk).update(target_resource_group=target)
    client = world.client()
    with world.capture(execute=True):
        response = client.delete(f"/subscriptions/{SUB}/resourcegroups/rg-target?api-version=1")
    job = Job.objects.filter(scenario_name="DeleteResourceGroup").latest("created_at")
    with world.capture(execute=True):
        job_run(job.pk)
    error = client.get(response.headers["Location"]).json()["error"]
    assert error["code"] == "ResourceGroupDeletionBlocked"
    assert "TargetResourceGroupInUse" in error["message"] and "web01" in error["message"]
    assert ResourceGroup.objects.get(pk=target.pk).provisioning_state == "Succeeded"

    # Once replication stopped, the record keeps its server and loses the deleted target.
    stopped(item)
    with world.capture(execute=True):
        response = client.delete(f"/subscriptions/{SUB}/resourcegroups/rg-target?api-version=1")
    job = Job.objects.filter(scenario_name="DeleteResourceGroup").latest("created_at")
    with world.capture(execute=True):
        job_run(job.pk)
    assert Job.objects.get(pk=job.pk).state == State.SUCCEEDED
    assert MigrationItem.objects.get(pk=item.pk).target_resource_group is None


def test_a_delete_racing_an_earlier_ones_job_answers_not_found_not_500(world):
    """The group is looked up, then an earlier DELETE's job removes it before this one marks it."""
    group = ResourceGroup.objects.get(name="rg-migrate")
    ResourceGroup.objects.filter(pk=group.pk).delete()
    with pytest.raises(ArmError) as refused:
        project_services.resource_group_delete_start(user=world.admin, resource_group=group)
    assert (refused.value.status, refused.value.code) == (404, "ResourceGroupNotFound")
