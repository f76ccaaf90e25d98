"""Shared by the replication tests: a Contoso project whose resources were created, and key issuing."""

import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from jobs.services import job_run
from projects import services
from projects.models import MigrateProject, ResourceGroup, User
from replication.keys import registration_key_issue

# The appliance package, importable as the installer ships it (top-level "appliance").
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture
def project(django_capture_on_commit_callbacks):
    call_command("seed_demo", verbosity=0)
    admin = User.objects.get(email="admin@contoso.com")
    group = ResourceGroup.objects.get(name="rg-migrate")
    project, _ = services.migrate_project_create_or_update(
        user=admin, resource_group=group, name="keys", location="westeurope"
    )
    services.tool_register(user=admin, project=project, tool="ServerMigration")
    with django_capture_on_commit_callbacks():
        job = services.create_resources_start(
            user=admin, project=project, target_region="northeurope", machines_virtualized="physical"
        )
    job_run(job.pk)
    return MigrateProject.objects.get(pk=project.pk)


def issue(project, email="admin@contoso.com"):
    return registration_key_issue(
        user=User.objects.get(email=email),
        project=project,
        hub_url="http://hub.test/",
        vault=services.project_vault(project),
    )
