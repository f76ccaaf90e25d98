"""Shared by the replication tests: a Contoso project whose resources were created, key issuing, a
server replicating (the `replicating` fixture), and the stub appliance and stub hub of stubs.py as
fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from jobs.models import Job
from jobs.services import job_run
from projects import services
from projects.models import MigrateProject, ResourceGroup, User
from replication import services as replication_services
from replication.keys import registration_key_issue
from replication.models import Appliance, MigrationItem, MigrationState
from replication.replicate import DiskChoice, replication_enable
from replication.services import appliance_register
from replication.tests.plans import machine_profile, plan_into_vnet_prod
from replication.tests.stubs import StubHub, StubProcessServer

MIB = 1024 * 1024

# The appliance package, importable as the installer ships it (top-level "appliance"). The agent's
# package is put on the path by stubs.py, imported above.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def migration_project(capture_on_commit, name: str, target_region: str = "westeurope") -> MigrateProject:
    """The demo data, and a Contoso project in rg-migrate with Server Migration whose resources were
    created (vault, Key Vault, cache storage) for `target_region`."""
    call_command("seed_demo", verbosity=0)
    admin = User.objects.get(email="admin@contoso.com")
    group = ResourceGroup.objects.get(name="rg-migrate")
    project, _ = services.migrate_project_create_or_update(
        user=admin, resource_group=group, name=name, location="westeurope"
    )
    services.tool_register(user=admin, project=project, tool="ServerMigration")
    with capture_on_commit():
        job = services.create_resources_start(
            user=admin, project=project, target_region=target_region, machines_virtualized="physical"
        )
    job_run(job.pk)
    return MigrateProject.objects.get(pk=project.pk)


def finalized_appliance(project: MigrateProject, name: str = "appliance-1") -> Appliance:
    """An appliance registered with a fresh key and finalized (its heartbeat is the registration's)."""
    return finalized_appliance_and_credential(project, name)[0]


def finalized_appliance_and_credential(project: MigrateProject, name: str = "appliance-1") -> tuple[Appliance, str]:
    """finalized_appliance, with the credential it calls the appliance API with."""
    appliance, credential = appliance_register(key_text=issue(project)[1], name=name)
    Appliance.objects.filter(pk=appliance.pk).update(state=Appliance.State.FINALIZED)
    appliance.refresh_from_db()
    return appliance, credential


def admin() -> User:
    return User.objects.get(email="admin@contoso.com")


def run(job):
    """The job run to its end here, as a worker would, and read again."""
    job_run(job.pk)
    job.refresh_from_db()
    return job


def start_replication_job(project: MigrateProject, state: str, target_object_id: str, target_object_name: str) -> Job:
    """A Start replication job of the project's resource group, recorded in `state` without running."""
    return Job.objects.create(
        subscription=project.subscription,
        resource_group_name=project.resource_group.name,
        scenario_name="EnableMigration",
        friendly_name="Start replication",
        state=state,
        target_object_id=target_object_id,
        target_object_name=target_object_name,
        target_instance_type="ProtectionEntity",
    )


def replicating_item(capture_on_commit, project_name: str, disk_bytes: tuple[int, int]) -> MigrationItem:
    """A server, web01, replicating through a finalized appliance of a new project: its disk0 included,
    its disk1 left out (their sizes `disk_bytes`); its enable job run, nothing sent yet."""
    project = migration_project(capture_on_commit, project_name)
    appliance = finalized_appliance(project)
    machine = machine_profile("web01", "Linux", "Ubuntu", osVersion="22.04", disk_bytes=disk_bytes)
    with capture_on_commit():
        server = replication_services.server_report(
            appliance=appliance, machine_id="m-web01", agent_version="9.60", machine=machine
        )
    replication_services.server_discover(server.pk)
    server.refresh_from_db()
    plan = plan_into_vnet_prod(appliance, project, [server])
    plan.servers[0].disks = [DiskChoice("disk0"), DiskChoice("disk1", include=False)]
    with capture_on_commit():
        (job,) = replication_enable(admin(), project, plan)
    job_run(job.pk)
    return MigrationItem.objects.get(server=server)


@pytest.fixture
def replicating(settings, tmp_path, django_capture_on_commit_callbacks):
    """A Contoso server replicating through a finalized appliance, its disks 1 MiB and 512 KiB."""
    settings.REPLICATION_DIR = tmp_path / "replication"
    item = replicating_item(django_capture_on_commit_callbacks, "datapath", (MIB, MIB // 2))
    assert item.migration_state == MigrationState.INITIAL_SEEDING_IN_PROGRESS
    return item


@pytest.fixture
def project(django_capture_on_commit_callbacks):
    return migration_project(django_capture_on_commit_callbacks, "keys", target_region="northeurope")


def issue(project, email="admin@contoso.com"):
    return registration_key_issue(
        user=User.objects.get(email=email),
        project=project,
        hub_url="http://hub.test/",
        vault=services.project_vault(project),
    )


@pytest.fixture
def stub():
    """The stub appliance, which an agent under test sends its batches to."""
    server = StubProcessServer()
    yield server
    server.close()


@pytest.fixture
def hub():
    """The stub hub, which an appliance under test talks to."""
    server = StubHub()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _object_store_follows_replication_dir():
    """hub.object_store.store() is made once per process; tests move REPLICATION_DIR, so each test gets
    a store under its own directory."""
    from hub.object_store import store

    store.cache_clear()
    yield
    store.cache_clear()
