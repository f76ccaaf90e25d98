"""The Replicate wizard through Django's test client: its tabs in the tutorial's order, errors next to
their fields on their tab, a password never sent back, search and paging that keep the checked
servers, and another tenant's project that does not exist."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from hub import secrets
from jobs.models import Job, Notification
from replication.models import Appliance, MigrationItem, RunAsAccount
from replication.portal.replicate_forms import PAGE_SIZE
from replication.tests.test_replicate import build_world, discovered, enable, plan, server_plan

pytestmark = pytest.mark.django_db

PASSWORD = "Pa55-word-never-echoed"


def wizard_url(project) -> str:
    return f"/migrate/replicate/?project={quote(project.arm_id, safe='')}"


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    return build_world(django_capture_on_commit_callbacks)


@pytest.fixture
def admin(client, world):
    client.login(email="admin@contoso.com", password="migrate-demo")
    return client


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def source_settings(wizard_id: str, **overrides) -> dict:
    return {
        "wizard_id": wizard_id,
        "machines_virtualized": "physical",
        "import_settings": "manual",
        "guest_credentials": "__new__",
        "credentials_friendly_name": "dummy",
        "credentials_username": "root",
        "hybrid_benefit": "no",
        **overrides,
    }


class Wizard:
    """Posts the whole form, as the browser does, carrying what the previous page held."""

    def __init__(self, client, world):
        self.client, self.world = client, world
        self.url = wizard_url(world["project"])
        first = client.get(self.url).content.decode()
        appliance = world["appliance"]
        self.data = source_settings(
            hidden(first, "wizard_id"),
            appliance=str(appliance.pk),
            process_server=str(appliance.pk),
            subscription=str(world["group"].subscription_id),
            step="0",
        )

    def post(self, action: str = "next", **fields):
        data = {**self.data, **fields, "action": action}
        response = self.client.post(self.url, data)
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 200:
            html = response.content.decode()
            self.data["step"] = hidden(html, "step")
            self.html = html
        # What the user typed stays in the form (the password aside, which the browser would drop).
        self.data.update({name: value for name, value in fields.items() if name != "credentials_password"})
        return response

    def to_compute(self, *servers) -> None:
        """Through Source settings, Virtual machines (the servers) and Target settings (vnet-prod's
        default subnet) to Compute."""
        self.post(credentials_password=PASSWORD)
        self.post(servers=[str(server.pk) for server in servers])
        world = self.world
        self.post(
            target_resource_group=str(world["group"].pk),
            target_network=str(world["network"].pk),
            target_subnet="default",
        )

    @property
    def step(self) -> int:
        return int(self.data["step"])


def shown_tab(html: str) -> str:
    """The id of the one fieldset that is not hidden."""
    return re.findall(r'<fieldset id="(tab-[a-z]+)" >', html)[0]


def test_the_tabs_follow_the_tutorial(admin, world):
    html = admin.get(wizard_url(world["project"])).content.decode()
    labels = re.findall(r'<li role="tab"[^>]*>(?:<button[^>]*>)?([^<]+)', html)
    assert labels == [
        "Source settings",
        "Virtual machines",
        "Target settings",
        "Compute",
        "Disks",
        "Review and start replication",
    ]
    assert shown_tab(html) == "tab-source"
    for text in (
        "Are your machines virtualized?",
        "Yes, with VMware vSphere",
        "Yes, with Hyper-V",
        "No (physical or other)",
        "On-premises appliance",
        "vCenter server",
        "Process Server",
        "Guest credentials",
        "Next: Virtual machines",
    ):
        assert text in html


def test_a_whole_replicate_from_source_settings_to_start_replication(admin, world):
    wizard = Wizard(admin, world)
    wizard.post(credentials_password=PASSWORD)
    assert wizard.step == 1 and shown_tab(wizard.html) == "tab-vms"
    assert "No, I'll specify the migration settings manually" in wizard.html
    assert "no assessment to import settings from" in wizard.html
    linux, windows = world["linux"], world["windows"]
    wizard.post(servers=[str(linux.pk), str(windows.pk)])
    assert wizard.step == 2 and "Next: Compute" in wizard.html
    assert "Locked by Create resources in Discover: all migrations from this project go to West Europe" in wizard.html
    assert "vnet-prod (rg-migrate)" in wizard.html and "vnet-fabrikam" not in wizard.html
    assert "Of the selected servers, it would apply to: WIN-SQL01" in wizard.html

    wizard.post(
        target_resource_group=str(world["group"].pk),
        target_network=str(world["network"].pk),
        target_subnet="default",
        hybrid_benefit="yes",
    )
    assert wizard.step == 3 and shown_tab(wizard.html) == "tab-compute"
    prefix = f"s-{linux.pk}-"
    assert f'name="{prefix}vm_name" value="web01"' in wizard.html
    assert "Picks Standard_F2s_v2" in wizard.html and "avset-app" in wizard.html
    wizard.data.update(
        {
            f"s-{server.pk}-{name}": value
            for server in (linux, windows)
            for name, value in (("vm_name", server.name), ("vm_size", ""), ("os_disk", "disk0"))
        }
    )
    avset = world["group"].availability_sets.get(name="avset-app")
    wizard.post(**{f"{prefix}vm_size": "Standard_D4s_v5", f"{prefix}availability_set": str(avset.pk)})
    assert wizard.step == 4 and "won't be present on the Azure VM after migration" in wizard.html
    wizard.post(**{f"{prefix}disk-disk1-include": "exclude", f"{prefix}disk-disk0-type": "Premium_LRS"})
    assert wizard.step == 5 and shown_tab(wizard.html) == "tab-review"
    assert "Won't be present on the Azure VM after migration: disk1 (137 GB)" in wizard.html
    # The hidden tabs still hold every choice, so Replicate posts them again.
    excluded = wizard.html.split(f'name="{prefix}disk-disk1-include"')[1].split("</select>")[0]
    assert '<option value="exclude" selected>' in excluded and '<option value="replicate">' in excluded
    premium = wizard.html.split(f'name="{prefix}disk-disk0-type"')[1].split("</select>")[0]
    assert '<option value="Premium_LRS" selected>' in premium
    review = wizard.html.split('id="review-settings"')[1]
    assert "dummy (new, user root)" in review and "vnet-prod / default" in review
    assert "Standard_D4s_v5" in review and "disk0: Premium SSD" in review
    assert PASSWORD not in wizard.html

    response = wizard.post("replicate")
    assert response.status_code == 302 and "/migrate/servers/" in response.url
    items = {item.server_id: item for item in MigrationItem.objects.all()}
    assert items[linux.pk].target_vm_size == "Standard_D4s_v5" and items[linux.pk].target_availability_set_id
    assert not items[linux.pk].disks.get(disk_id="disk1").included
    assert items[windows.pk].license_type == "WindowsServer"
    jobs = Job.objects.filter(scenario_name="EnableMigration")
    assert sorted(job.target_object_name for job in jobs) == ["WIN-SQL01", "web01"]
    notifications = Notification.objects.filter(job__in=jobs)
    assert notifications.count() == 2
    assert all(n.link.startswith("/migrate/replicating-servers/?project=") for n in notifications)
    # The password typed on the first tab, never sent back, reached the encrypted account.
    account = RunAsAccount.objects.get()
    assert secrets.decrypt(account.encrypted_password, purpose="guest credentials").decode() == PASSWORD
    followed = admin.get(response.url).content.decode()
    assert "2 Start replication jobs started (" in followed


def test_errors_show_next_to_their_field_keep_what_was_typed_but_never_the_password(admin, world):
    wizard = Wizard(admin, world)
    wizard.post(credentials_username="", credentials_friendly_name="my creds", credentials_password=PASSWORD)
    assert wizard.step == 0
    field = wizard.html.split('name="credentials_username"')[1].split("</div>")[0]
    assert "Enter the user name of an administrator account" in field
    assert 'value="my creds"' in wizard.html
    assert PASSWORD not in wizard.html
    # The password is kept for this wizard (encrypted in the session), so it need not be typed again.
    assert "A password was entered and is kept for this wizard" in wizard.html
    wizard.post(credentials_username="root")
    assert wizard.step == 1 and PASSWORD not in wizard.html


def test_a_missing_password_is_said_at_the_password(admin, world):
    wizard = Wizard(admin, world)
    wizard.post()
    assert wizard.step == 0
    assert "Enter the account&#x27;s password." in wizard.html.split('name="credentials_password"')[1]


def test_vmware_needs_the_vcenter_server(admin, world):
    wizard = Wizard(admin, world)
    wizard.post(machines_virtualized="vmware", credentials_password=PASSWORD)
    assert wizard.step == 0
    assert "Name the vCenter server that manages the VMs" in wizard.html
    wizard.post(vcenter="vcenter01.contoso.local")
    assert wizard.step == 1


def test_a_windows_vm_name_over_15_characters_sends_back_to_compute_and_creates_nothing(admin, world):
    wizard = Wizard(admin, world)
    windows = world["windows"]
    wizard.to_compute(windows)
    assert wizard.step == 3
    long_name = "WIN-SQL01-PRODUCTION"
    wizard.post(**{f"s-{windows.pk}-vm_name": long_name, f"s-{windows.pk}-os_disk": "disk0"})
    assert wizard.step == 3 and shown_tab(wizard.html) == "tab-compute"
    cell = wizard.html.split(f'name="s-{windows.pk}-vm_name"')[1].split("</td>")[0]
    assert f'value="{long_name}"' in cell and "longer than 15 characters" in cell
    # Replicate itself (a tampered step) checks again and creates nothing.
    wizard.data["step"] = "5"
    wizard.post("replicate")
    assert wizard.step == 3 and "longer than 15 characters" in wizard.html
    assert MigrationItem.objects.count() == 0 and RunAsAccount.objects.count() == 0


def test_nothing_checked_is_said_on_the_virtual_machines_tab(admin, world):
    wizard = Wizard(admin, world)
    wizard.post(credentials_password=PASSWORD)
    wizard.post()
    assert wizard.step == 1 and "Check at least one server to replicate." in wizard.html


def test_search_and_pages_keep_the_checked_servers(admin, world, django_capture_on_commit_callbacks):
    for index in range(PAGE_SIZE + 3):
        discovered(world["appliance"], f"app{index:02d}", django_capture_on_commit_callbacks)
    wizard = Wizard(admin, world)
    wizard.post(credentials_password=PASSWORD)
    assert "Page 1 of 2" in wizard.html
    first = re.search(r'name="servers" value="([^"]+)" aria-label="Select app00"', wizard.html).group(1)
    wizard.post("", servers=[first], goto_page="2")
    assert "Page 2 of 2" in wizard.html
    assert f'<input type="hidden" name="servers" value="{first}">' in wizard.html
    assert "1 selected" in wizard.html
    wizard.data.pop("goto_page")
    wizard.post("search", q="web", q_shown="", page="2")
    assert "Page" not in wizard.html.split('id="replicate-servers"')[1].split("</fieldset>")[0].split("</table>")[1]
    assert "Select web01" in wizard.html and "Select app00" not in wizard.html
    assert f'<input type="hidden" name="servers" value="{first}">' in wizard.html
    wizard.post(q="", q_shown="web")
    assert wizard.step == 2, "the checked server on another page counts"
    assert f"s-{first}-vm_name" in wizard.html


def test_a_problem_with_a_checked_server_on_another_page_is_said_above_the_list(
    admin,
    world,
    django_capture_on_commit_callbacks,
):
    for index in range(PAGE_SIZE):
        discovered(world["appliance"], f"app{index:02d}", django_capture_on_commit_callbacks)
    wizard = Wizard(admin, world)
    wizard.post(credentials_password=PASSWORD, credentials_friendly_name="mine")
    web01 = str(world["linux"].pk)
    wizard.post("", goto_page="2")
    assert "Page 2 of 2" in wizard.html and "Select web01" in wizard.html
    wizard.post("", servers=[web01], goto_page="1")
    assert f'<input type="hidden" name="servers" value="{web01}">' in wizard.html
    # Meanwhile someone else replicates web01.
    enable(world, plan(world, server_plan(world["linux"])))
    wizard.data.pop("goto_page")
    wizard.post(page="1", q_shown="")
    assert wizard.step == 1
    assert "web01: web01 is already replicating (as web01)" in wizard.html


def test_a_replicating_server_can_not_be_checked_and_says_why(admin, world):
    wizard = Wizard(admin, world)
    wizard.to_compute(world["linux"])
    wizard.post(**{f"s-{world['linux'].pk}-vm_name": "web01", f"s-{world['linux'].pk}-os_disk": "disk0"})
    wizard.post()
    assert wizard.post("replicate").status_code == 302
    html = admin.get(wizard_url(world["project"])).content.decode()
    row = html.split(f'id="replicate-server-{world["linux"].pk}"')[1].split("</tr>")[0]
    assert "disabled" in row and "Already replicating as web01" in row
    assert 'name="servers"' not in row


def test_another_tenants_project_does_not_exist(client, world):
    client.login(email="admin@fabrikam.com", password="migrate-demo")
    assert client.get(wizard_url(world["project"])).status_code == 404
    assert client.post(wizard_url(world["project"]), {"action": "replicate", "step": "5"}).status_code == 404


def test_a_reader_sees_why_replicate_is_disabled(client, world):
    client.login(email="viewer@contoso.com", password="migrate-demo")
    html = client.get(wizard_url(world["project"])).content.decode()
    assert "You need Contributor or Owner on resource group rg-migrate to replicate servers" in html
    servers = client.get(f"/migrate/servers/?project={quote(world['project'].arm_id, safe='')}").content.decode()
    button = servers.split('id="replicate"')[0].rsplit("<", 1)[1] + servers.split('id="replicate"')[1][:400]
    assert "disabled" in button and "replicate servers" in button


def test_a_readers_forced_replicate_creates_nothing_and_says_why(client, world):
    client.login(email="viewer@contoso.com", password="migrate-demo")
    wizard = Wizard(client, world)
    linux = world["linux"]
    wizard.data.update(
        {
            "servers": [str(linux.pk)],
            "target_resource_group": str(world["group"].pk),
            "target_network": str(world["network"].pk),
            "target_subnet": "default",
            f"s-{linux.pk}-vm_name": "web01",
            f"s-{linux.pk}-os_disk": "disk0",
            "step": "5",
        }
    )
    wizard.post("replicate", credentials_password=PASSWORD)
    assert wizard.step == 2, "the first tab with a problem"
    group_field = wizard.html.split('name="target_resource_group"')[1].split("</div>")[0]
    assert "You need Virtual Machine Contributor, Contributor or Owner on resource group rg-migrate" in group_field
    assert MigrationItem.objects.count() == 0 and RunAsAccount.objects.count() == 0


def test_the_replicate_button_on_the_tool_card(admin, world):
    project = world["project"]
    url = f"/migrate/servers/?project={quote(project.arm_id, safe='')}"
    html = admin.get(url).content.decode()
    assert f'<a class="button" id="replicate" href="{wizard_url(project)}"' in html.replace("&amp;", "&")
    Appliance.objects.filter(project=project).update(state=Appliance.State.REGISTERED)
    html = admin.get(url).content.decode()
    assert "Replicate needs a connected replication appliance" in html
    type(project).objects.filter(pk=project.pk).update(target_region="")
    html = admin.get(url).content.decode()
    assert "Replicate is not available yet: in Discover, select Create resources" in html


@pytest.mark.parametrize(
    "junk",
    [
        {"step": "x", "action": "next"},
        {"step": "99", "action": "replicate"},
        {"step": "-3", "action": "previous"},
        {"tab": "nine"},
        {"servers": ["not-a-uuid", ""], "action": "next", "step": "1"},
        {"appliance": "zzz", "process_server": "zzz", "guest_credentials": "zzz", "action": "next", "step": "0"},
        {"target_network": "1", "target_subnet": "<b>", "target_resource_group": "-1", "action": "next", "step": "2"},
        {"goto_page": "banana", "q": "x" * 500},
        {"wizard_id": "../../etc", "credentials_password": "p"},
    ],
)
def test_odd_input_gets_an_answer_never_a_500(admin, world, junk):
    assert admin.post(wizard_url(world["project"]), junk).status_code == 200


def test_odd_per_server_settings_are_refused_on_the_form(admin, world):
    wizard = Wizard(admin, world)
    linux = world["linux"]
    wizard.to_compute(linux)
    wizard.post(
        **{
            f"s-{linux.pk}-vm_name": "web01",
            f"s-{linux.pk}-vm_size": "Standard_Nope",
            f"s-{linux.pk}-os_disk": "disk9",
            f"s-{linux.pk}-availability_set": "not-a-set",
            f"s-{linux.pk}-disk-disk1-type": "Ultra",
        }
    )
    assert wizard.step == 3
    assert "Standard_Nope is not an Azure VM size we offer." in wizard.html
    assert "Select web01&#x27;s OS disk." in wizard.html
