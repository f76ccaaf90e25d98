"""The Azure Migrate project in view (projects.portal.project_in_view) and the project bar's live push."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.utils import timezone

from jobs import services as job_services
from projects import push, services
from projects.models import ResourceGroup, User

pytestmark = pytest.mark.django_db
CONTOSO = "11111111-1111-1111-1111-111111111111"


def new_project(name: str, email: str = "admin@contoso.com", minutes_ago: int = 0):
    user = User.objects.get(email=email)
    group = ResourceGroup.objects.get(subscription_id=CONTOSO, name="rg-migrate")
    project, _ = services.migrate_project_create_or_update(
        user=user, resource_group=group, name=name, location="westeurope", tools=["ServerMigration"]
    )
    type(project).objects.filter(pk=project.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return project


def project_named(response) -> str:
    html = response.content.decode()
    start = html.find('id="project-name">')
    return html[start + len('id="project-name">') : html.find("<", start)] if start != -1 else ""


def test_a_colleagues_newer_project_does_not_take_the_chosen_ones_place(admin_client):
    chosen = new_project("chosen", minutes_ago=10)
    new_project("older", minutes_ago=20)
    assert project_named(admin_client.get("/migrate/servers/", {"project": chosen.arm_id})) == "chosen"
    new_project("colleagues", email="migrator@contoso.com")
    # From the menu (no project in the link): the one chosen in this session, on every blade.
    response = admin_client.get("/migrate/servers/", follow=True)
    assert project_named(response) == "chosen"
    assert response.redirect_chain == [(f"/migrate/servers/?project={quote(chosen.arm_id, safe='')}", 302)]
    assert project_named(admin_client.get("/migrate/replicating-servers/", follow=True)) == "chosen"
    assert "colleagues (rg-migrate" in admin_client.get("/migrate/servers/", follow=True).content.decode()


def test_with_several_projects_and_no_choice_the_servers_blade_asks(admin_client):
    new_project("first")
    new_project("second")
    response = admin_client.get("/migrate/servers/", follow=True)
    assert project_named(response) == ""
    assert "Select an Azure Migrate project" in response.content.decode()
    # Discover never guesses: it sends the user to choose.
    assert admin_client.get("/migrate/discover/").url == "/migrate/servers/"


def test_a_chosen_project_that_is_deleted_is_forgotten(admin_client):
    gone = new_project("gone")
    new_project("stays")
    admin_client.get("/migrate/servers/", {"project": gone.arm_id})
    gone.delete()
    # Forgotten: the blade falls back to the user's only project left.
    assert project_named(admin_client.get("/migrate/servers/", follow=True)) == "stays"


def test_discover_follows_its_projects_running_jobs_and_answers_its_live_part(admin_client):
    project = new_project("discovering")
    other = new_project("discovering2")  # its name starts with the first one's: its jobs are not followed
    admin = User.objects.get(email="admin@contoso.com")
    jobs = [
        job_services.job_start(
            subscription=p.resource_group.subscription,
            resource_group_name="rg-migrate",
            scenario_name="CreateMigrationResources",
            target_object_id=p.arm_id,
            target_object_name=p.name,
            target_instance_type="MigrateProject",
            created_by=admin,
            job_input={"project_id": str(p.pk)},
        )
        for p in (project, other)
    ]
    html = admin_client.get("/migrate/discover/", {"project": project.arm_id}).content.decode()
    assert f'data-live-watch="project-bar-{project.pk} job-{jobs[0].pk}"' in html
    assert "Creating resources" in html
    part = admin_client.get("/migrate/discover/", {"project": project.arm_id}, HTTP_HX_REQUEST="true")
    assert part.content.decode().lstrip().startswith('<div id="discover-live"')


def test_the_project_bar_is_pushed_once_the_change_commits(monkeypatch, django_capture_on_commit_callbacks):
    call_command("seed_demo", verbosity=0)
    project = new_project("pushed")
    sent = []
    monkeypatch.setattr(push, "_send", lambda group, html, **scope: sent.append((group, html, scope)))
    with django_capture_on_commit_callbacks(execute=True):
        push.project_changed_on_commit(project.pk)
        assert sent == []
    ((group, html, scope),) = sent
    assert group == f"subscription.{CONTOSO}"
    assert f'id="project-bar-{project.pk}"' in html and "pushed" in html
    assert str(scope["subscription_id"]) == CONTOSO and scope["resource_group_name"] == "rg-migrate"
