"""Shared by the replication tests: a Contoso project whose resources were created, key issuing, and
the stub appliance and stub hub of stubs.py as fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from jobs.services import job_run
from projects import services
from projects.models import MigrateProject, ResourceGroup, User
from replication.keys import registration_key_issue
from replication.models import Appliance
from replication.services import appliance_register
from replication.tests.stubs import StubHub, StubProcessServer

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
    appliance, _ = appliance_register(key_text=issue(project)[1], name=name)
    Appliance.objects.filter(pk=appliance.pk).update(state=Appliance.State.FINALIZED)
    appliance.refresh_from_db()
    return appliance


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
