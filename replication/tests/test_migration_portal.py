"""The portal's Test migrated servers, Test migrate, Clean up test migration, Migrate, Stop replication
and Virtual machines blades, over a server replicated by the data path (the fixtures of test_migrate)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from hub import clock
from jobs.models import Job, State
from jobs.services import job_run
from projects.models import User, VirtualNetwork
from replication.models import MigrationItem, MigrationState, TestMigrateState, VirtualMachine
from replication.portal.migration import age_text
from replication.tests import test_migrate

# test_migrate's fixture `ready`: replicating with a recovery point, as (item, process server, source
# image, next sequence). `replicating` (a server in initial replication) is conftest.py's.
ready = test_migrate.ready

pytestmark = pytest.mark.django_db


def user(email: str) -> User:
    return User.objects.get(email=email)


@pytest.fixture
def admin_client(client, replicating):
    client.force_login(user("admin@contoso.com"))
    return client


def list_url(item: MigrationItem) -> str:
    return reverse("replication:test-migrated-servers") + "?project=" + quote(item.project.arm_id, safe="")


def row_menu(client, item: MigrationItem) -> str:
    """The row's "..." menu as the list page reads it for the signed-in user."""
    return client.get(reverse("replication:item-menu", args=[item.pk]), {"next": list_url(item)}).content.decode()


def run_current_job(item: MigrationItem) -> Job:
    item.refresh_from_db()
    job_run(item.current_job_id)
    job = Job.objects.get(pk=item.current_job_id)
    item.refresh_from_db()
    return job


def start_test_migration(client, item: MigrationItem, network_name: str = "vnet-test", subnet: str = "test"):
    network = VirtualNetwork.objects.get(name=network_name)
    return client.post(
        reverse("replication:test-migrate", args=[item.pk]), {"network": str(network.pk), "subnet": subnet}
    )


def test_it_recommends_a_non_production_network_for_the_test_vm(admin_client, ready):
    item, *_ = ready
    page = admin_client.get(reverse("replication:test-migrate", args=[item.pk])).content.decode()
    test_network = VirtualNetwork.objects.get(name="vnet-test")
    assert "web01-Test" in page and "Latest processed" in page
    assert "vnet-prod" in page and "not recommended: use a non-production network" in page
    # The non-production network is preselected, and its subnet offered.
    assert re.search(f'value="{test_network.pk}"[^>]*checked', page)
    assert '<option value="test"' in page


def test_choosing_another_network_lists_its_subnets(admin_client, ready):
    item, *_ = ready
    production = VirtualNetwork.objects.get(name="vnet-prod")
    part = admin_client.get(
        reverse("replication:test-migrate", args=[item.pk]), {"network": str(production.pk)}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'id="subnet-field"' in part and '<option value="default"' in part and "<html" not in part
    assert "vnet-prod is a production network" in part


def test_test_migrate_runs_the_service_and_the_list_follows_the_test(admin_client, ready):
    item, *_ = ready
    response = start_test_migration(admin_client, item)
    assert response.status_code == 302 and response.url == list_url(item)
    item.refresh_from_db()
    assert item.test_migrate_state == TestMigrateState.IN_PROGRESS and item.test_subnet_name == "test"
    page = admin_client.get(list_url(item)).content.decode()
    assert "Test migration of web01 started" in page
    assert "Test migration in progress" in page and "A test migration is in progress." in row_menu(admin_client, item)

    assert run_current_job(item).state == State.SUCCEEDED
    page = admin_client.get(list_url(item)).content.decode()
    assert "Test clean up pending" in page
    menu = row_menu(admin_client, item)
    assert "Clean up the test migration first." in menu  # why Test migrate and Migrate are disabled
    assert reverse("replication:test-migrate-cleanup", args=[item.pk]) in menu
    assert "web01-Test" in page  # the test VM, linked

    # Migrate is not offered until the cleanup: its blade says why and its OK is disabled.
    blade = admin_client.get(reverse("replication:migrate", args=[item.pk])).content.decode()
    assert "Migrate isn't available:" in blade and "Clean up the test migration first." in blade
    assert 'class="primary" disabled' in blade

    cleanup = admin_client.post(
        reverse("replication:test-migrate-cleanup", args=[item.pk]), {"comments": "Web app answered on port 443."}
    )
    assert cleanup.status_code == 302
    job = run_current_job(item)
    assert job.state == State.SUCCEEDED and job.input["comments"] == "Web app answered on port 443."
    page = admin_client.get(list_url(item)).content.decode()
    assert "Succeeded (cleaned up)" in page and "Test migrated servers (cleaned up): 1 of 1" in page
    assert reverse("replication:migrate", args=[item.pk]) in row_menu(admin_client, item)
    assert not VirtualMachine.objects.filter(name="web01-Test").exists()


def test_actions_say_why_they_are_disabled_before_initial_replication_completes(admin_client, replicating):
    item = replicating
    menu = row_menu(admin_client, item)
    # Test migrate and Migrate, each in the row's menu
    assert menu.count('<small class="reason">Available after initial replication completes.</small>') == 2
    assert "There is no test migration to clean up" in menu
    # Asked anyway, the blade refuses: the form says why, no 500.
    response = start_test_migration(admin_client, item)
    assert response.status_code == 200
    assert response.content.decode().count("Available after initial replication completes.") >= 2
    assert not Job.objects.filter(scenario_name="TestMigrate").exists()


def test_a_network_outside_the_choices_is_a_form_error(admin_client, ready):
    item, *_ = ready
    response = admin_client.post(reverse("replication:test-migrate", args=[item.pk]), {"network": "nope"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    wrong_subnet = start_test_migration(admin_client, item, "vnet-test", "default")  # vnet-prod's subnet
    assert wrong_subnet.status_code == 200 and "Select a valid choice" in wrong_subnet.content.decode()


def test_a_reader_sees_why_and_is_refused_on_the_form(client, ready):
    item, *_ = ready
    client.force_login(user("viewer@contoso.com"))
    # The same words as the Servers card's Replicate: both come from the permission's role definitions.
    refusal = "You need Contributor or Owner on resource group rg-migrate to test migrate servers."
    assert refusal in row_menu(client, item)
    response = start_test_migration(client, item)
    assert response.status_code == 200 and refusal in response.content.decode()
    assert not Job.objects.filter(scenario_name="TestMigrate").exists()


def test_migrate_without_shutdown_warns_how_old_the_latest_recovery_point_is(admin_client, ready):
    item, *_ = ready
    point_at = clock.now() - timedelta(minutes=12, seconds=5)
    MigrationItem.objects.filter(pk=item.pk).update(last_recovery_point_at=point_at)
    blade = admin_client.get(reverse("replication:migrate", args=[item.pk])).content.decode()
    assert "Shut down virtual machines and perform a planned migration with no data loss?" in blade
    assert re.search(r'value="yes"[^>]*checked', blade)  # Yes by default
    assert "Changes made on the server after the latest recovery point are lost." in blade
    assert "12 minutes" in blade and f"{point_at:%Y-%m-%d %H:%M:%S} UTC" in blade
    assert "We highly recommend running a test migration" in blade  # never tested

    response = admin_client.post(reverse("replication:migrate", args=[item.pk]), {"shutdown": "no"})
    assert response.status_code == 302
    job = Job.objects.get(scenario_name="Migrate")
    assert job.input["shutdown"] is False
    item.refresh_from_db()
    assert item.migration_state == MigrationState.MIGRATION_IN_PROGRESS and item.shutdown_requested_at is None


def test_stop_replication_says_what_it_discards(admin_client, ready):
    item, *_ = ready
    url = reverse("replication:stop-replication", args=[item.pk])
    before = admin_client.get(url).content.decode()
    assert "replication data, cache and replica disks are deleted; the server can be replicated again" in before

    admin_client.post(reverse("replication:migrate", args=[item.pk]), {"shutdown": "no"})
    assert run_current_job(item).state == State.SUCCEEDED
    after = admin_client.get(url).content.decode()
    assert "completes the migration: replication stops and its data is deleted; the migrated VM is kept" in after
    assert admin_client.post(url).status_code == 302
    assert run_current_job(item).state == State.SUCCEEDED
    item.refresh_from_db()
    assert item.replication_stopped_at is not None
    page = admin_client.get(list_url(item)).content.decode()
    assert "Replication was stopped: the migration is complete." in row_menu(admin_client, item)
    vm = VirtualMachine.objects.get(name="web01", is_test=False)
    assert reverse("replication:virtual-machine", args=[vm.pk]) in page  # the migrated VM, linked


def migrated_vm(admin_client, item) -> VirtualMachine:
    admin_client.post(reverse("replication:migrate", args=[item.pk]), {"shutdown": "no"})
    assert run_current_job(item).state == State.SUCCEEDED
    return VirtualMachine.objects.get(name="web01", is_test=False)


def test_virtual_machines_show_disks_network_tags_and_recovery_point(admin_client, ready):
    item, _, source, _ = ready
    start_test_migration(admin_client, item)
    run_current_job(item)
    test_vm = VirtualMachine.objects.get(name="web01-Test")
    listing = admin_client.get(reverse("replication:virtual-machines")).content.decode()
    assert "web01-Test" in listing and test_vm.private_ip in listing

    page = admin_client.get(reverse("replication:virtual-machine", args=[test_vm.pk])).content.decode()
    (disk,) = test_vm.disks.all()
    assert disk.sha256 and disk.sha256 in page
    assert "disk0" in page and "1 MB" in page  # 1 MiB, in decimal units
    assert "migrate-test : true" in page  # the test tag
    assert test_vm.private_ip in page and "vnet-test" in page
    assert f"{test_vm.recovery_point_time:%Y-%m-%d %H:%M:%S} UTC" in page
    assert "Complete the migration" not in page and "Clean up test migration" in page


def test_a_migrated_vm_has_the_checklist_and_recommendations_and_records_ticks(admin_client, ready):
    item, *_ = ready
    vm = migrated_vm(admin_client, item)
    url = reverse("replication:virtual-machine", args=[vm.pk])
    page = admin_client.get(url).content.decode()
    assert "Complete the migration" in page and "Install the Azure VM Linux agent" in page
    assert "Update any internal documentation to show the new location and IP address" in page
    for recommendation in (
        "Azure Backup",
        "secondary region with Site Recovery",
        "Just in time",
        "Network Security Groups",
        "Azure Disk Encryption",
        "Azure Cost Management",
    ):
        assert recommendation in page
    assert "migrate-test" not in page

    checklist_url = reverse("replication:virtual-machine-checklist", args=[vm.pk])
    admin_client.post(checklist_url, {"key": "cut-over", "done": "1"})
    vm.refresh_from_db()
    assert vm.checklist["cut-over"]["by"] == "admin@contoso.com"
    assert abs(clock.now() - datetime.fromisoformat(vm.checklist["cut-over"]["at"])) < timedelta(minutes=1)
    assert "Done by admin@contoso.com" in admin_client.get(url).content.decode()
    admin_client.post(checklist_url, {"key": "cut-over"})  # unticked
    vm.refresh_from_db()
    assert "cut-over" not in vm.checklist


def test_a_reader_sees_the_checklist_read_only_and_cannot_tick(client, ready):
    item, *_ = ready
    client.force_login(user("admin@contoso.com"))
    vm = migrated_vm(client, item)
    client.force_login(user("viewer@contoso.com"))
    page = client.get(reverse("replication:virtual-machine", args=[vm.pk])).content.decode()
    assert "The checklist is read-only for you." in page and "disabled title=" in page
    response = client.post(
        reverse("replication:virtual-machine-checklist", args=[vm.pk]), {"key": "cut-over", "done": "1"}, follow=True
    )
    assert response.status_code == 200
    assert (
        "You need Virtual Machine Contributor, Contributor or Owner on resource group rg-migrate"
        in response.content.decode()
    )
    vm.refresh_from_db()
    assert vm.checklist == {}


def test_fabrikam_finds_no_contoso_server_or_vm(admin_client, ready):
    item, *_ = ready
    vm = migrated_vm(admin_client, item)
    client = Client()
    client.force_login(user("admin@fabrikam.com"))
    for name in ("test-migrate", "test-migrate-cleanup", "migrate", "stop-replication", "test-migrated-row"):
        assert client.get(reverse(f"replication:{name}", args=[item.pk])).status_code == 404, name
    assert client.post(reverse("replication:migrate", args=[item.pk]), {"shutdown": "no"}).status_code == 404
    assert client.get(reverse("replication:virtual-machine", args=[vm.pk])).status_code == 404
    checklist = reverse("replication:virtual-machine-checklist", args=[vm.pk])
    assert client.post(checklist, {"key": "cut-over", "done": "1"}).status_code == 404
    assert "web01" not in client.get(reverse("replication:virtual-machines")).content.decode()
    assert client.get(list_url(item)).status_code == 404


@pytest.mark.parametrize(
    ("age", "words"),
    [
        (timedelta(seconds=42), "42 seconds"),
        (timedelta(minutes=1, seconds=59), "1 minute"),
        (timedelta(hours=3, minutes=5, seconds=9), "3 hours 5 minutes"),
        (timedelta(days=2, hours=4, minutes=30), "2 days 4 hours"),
        (timedelta(hours=1, seconds=30), "1 hour"),
    ],
)
def test_a_recovery_point_age_is_said_in_two_units_at_most(age, words):
    assert age_text(age) == words
