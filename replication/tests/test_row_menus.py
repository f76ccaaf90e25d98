"""The row menus of the list pages (replication.portal.row_menus): read for the person who opens them,
so a role's refusal greys a command out with its reason; and the notifications of the verbs they start."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from jobs.models import Notification
from replication.models import VirtualMachine
from replication.tests.test_migration_portal import (
    admin_client,  # noqa: F401 (a fixture)
    list_url,
    ready,  # noqa: F401 (a fixture)
    row_menu,
    run_current_job,
    start_test_migration,
    user,
)

pytestmark = pytest.mark.django_db


def commands(menu: str) -> dict[str, str]:
    """Each command's label: its link, or "disabled: <reason>"."""
    found = {}
    for link, label in re.findall(r'<a role="menuitem" href="([^"]*)">([^<]+)</a>', menu):
        found[label] = link
    for reason, label in re.findall(r'aria-disabled="true" title="([^"]*)">([^<]+)</span>', menu):
        found[label] = "disabled: " + reason.replace("&#x27;", "'")
    return found


def test_a_reader_gets_every_command_greyed_out_with_the_permission_s_words(client, ready):  # noqa: F811
    item, *_ = ready
    client.force_login(user("viewer@contoso.com"))
    menu = commands(row_menu(client, item))
    assert menu["Open"] == reverse("replication:replicating-server", args=[item.pk])
    for label, purpose in [
        ("Test migrate", "test migrate servers"),
        ("Migrate", "migrate servers"),
        ("Stop migration", "stop replication"),
    ]:
        assert menu[label] == (
            f"disabled: You need Contributor or Owner on resource group rg-migrate to {purpose}. "
            "Ask the resource group owner."
        )


def test_the_server_blade_s_commands_are_read_for_the_viewer(client, ready):  # noqa: F811
    item, *_ = ready
    client.force_login(user("viewer@contoso.com"))
    blade = client.get(reverse("replication:replicating-server", args=[item.pk])).content.decode()
    assert reverse("replication:item-commands", args=[item.pk]) in blade  # pushed to all: no commands in it
    bar = commands(client.get(reverse("replication:item-commands", args=[item.pk])).content.decode())
    assert bar == {}  # the bar's spans carry no menuitem role; read them directly
    html = client.get(reverse("replication:item-commands", args=[item.pk])).content.decode()
    assert 'title="Test migrate: You need Contributor or Owner on resource group rg-migrate' in html
    assert "<a " not in html


def test_an_owner_gets_the_commands_the_state_allows_returning_to_the_list(admin_client, ready):  # noqa: F811
    item, *_ = ready
    menu = commands(row_menu(admin_client, item))
    assert menu["Test migrate"].startswith(reverse("replication:test-migrate", args=[item.pk]) + "?next=")
    assert menu["Stop migration"].startswith(reverse("replication:stop-replication", args=[item.pk]))
    assert (
        menu["Clean up test migration"] == "disabled: There is no test migration to clean up: run Test migrate first."
    )
    # The list rows carry only the button, the same HTML for every viewer.
    page = admin_client.get(list_url(item)).content.decode()
    assert f'data-row-menu="{reverse("replication:item-menu", args=[item.pk])}"' in page
    assert "Test migrate</a>" not in page


def test_discovered_servers_and_virtual_machines_have_the_same_menu(admin_client, ready):  # noqa: F811
    item, *_ = ready
    server_menu = admin_client.get(reverse("replication:server-menu", args=[item.server.pk])).content.decode()
    assert commands(server_menu)["Replicate"] == f"disabled: {item.server.name} is already replicating."
    assert start_test_migration(admin_client, item).status_code == 302
    run_current_job(item)
    test_vm = VirtualMachine.objects.get(is_test=True)
    vms = admin_client.get(reverse("replication:virtual-machines")).content.decode()
    assert f'data-row-menu="{reverse("replication:vm-menu", args=[test_vm.pk])}"' in vms
    vm_menu = commands(admin_client.get(reverse("replication:vm-menu", args=[test_vm.pk])).content.decode())
    assert vm_menu["Open"] == reverse("replication:virtual-machine", args=[test_vm.pk])
    assert vm_menu["Clean up test migration"].startswith(reverse("replication:test-migrate-cleanup", args=[item.pk]))


def test_a_verb_s_notification_names_the_server_and_links_to_it(admin_client, ready):  # noqa: F811
    item, *_ = ready
    start_test_migration(admin_client, item)
    notification = Notification.objects.get(job__scenario_name="TestMigrate")
    assert notification.title == f"Test migrating {item.target_vm_name}..."
    assert notification.link == reverse("replication:replicating-server", args=[item.pk])
    run_current_job(item)
    notification.refresh_from_db()
    assert notification.title == f"Test migration succeeded for {item.target_vm_name}"
    admin_client.post(reverse("replication:test-migrate-cleanup", args=[item.pk]), {"comments": ""})
    run_current_job(item)
    cleanup = Notification.objects.get(job__scenario_name="TestMigrateCleanup")
    assert cleanup.title == f"Test migration cleaned up for {item.target_vm_name}"
    name = item.target_vm_name
    assert cleanup.message == f"The test VM {name}-Test was deleted: the test migration of {name} counts as done."
    assert cleanup.link == reverse("replication:replicating-server", args=[item.pk])


def test_a_menu_passes_on_only_a_local_page_to_return_to(admin_client, ready):  # noqa: F811
    item, *_ = ready
    url = reverse("replication:item-menu", args=[item.pk])
    for elsewhere in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
        menu = admin_client.get(url, {"next": elsewhere}).content.decode()
        assert "evil.example" not in menu
