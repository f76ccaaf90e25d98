"""The tutorial's "Replicate machines", clicked as a person would: servers discovered through a real
appliance (the fleet simulator's agents), every tab of Replicate filled, Start replication jobs in
the bell; and a rule Azure enforces (a Windows VM name of at most 15 characters) said on the form,
with nothing created."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from replication.tests.plans import machine_profile
from tests.appliances import start_appliance
from tests.conftest import screenshot, sign_in
from tests.test_isolation import csrf, portal_session

pytestmark = [pytest.mark.browser, pytest.mark.live]

GIB = 1024**3
# The fleet's machines cycle through these profiles, named <prefix><hostName>-<index>: db-0001,
# web-0002, WIN-SQLFRONT-0003 (too long for a Windows VM name: 15 characters at most), db-0004...
PROFILES = {
    name: machine_profile(
        host,
        os_type,
        os_name,
        cores=cores,
        memory_mb=memory_mb,
        disk_bytes=(os_gib * GIB, data_gib * GIB),
        ip_address=ip,
    )
    for name, (host, os_type, os_name, cores, memory_mb, os_gib, data_gib, ip) in {
        # profile: hostName, osType, osName, cores, memoryMB, OS and data disk GiB, IP address
        "a-db": ("db", "Linux", "Red Hat Enterprise Linux 8.6", 4, 16384, 128, 256, "10.0.0.10"),
        "b-web": ("web", "Linux", "Ubuntu 20.04", 2, 4096, 64, 128, "10.0.0.11"),
        "c-win": ("WIN-SQLFRONT", "Windows", "Windows Server 2019 Standard", 4, 8192, 128, 512, "10.0.0.12"),
    }.items()
}
FLEET_SIZE = 12  # more than a page of the server list (10)
# A prefix of this run's own: VM names must be unique in rg-migrate, which other projects share.
PREFIX = f"r{uuid.uuid4().hex[:3]}-"
DB, WEB, WIN = f"{PREFIX}db-0001", f"{PREFIX}web-0002", f"{PREFIX}WIN-SQLFRONT-0003"


@pytest.fixture(scope="module")
def discovered_project(live_hub, tmp_path_factory):
    """A project with a finalized appliance and FLEET_SIZE servers its agents registered."""
    tmp_path = tmp_path_factory.mktemp("replicate")
    appliance = start_appliance(live_hub, tmp_path)
    try:
        finalize(live_hub, appliance.project_path)
        profiles = tmp_path / "profiles"
        profiles.mkdir()
        for name, profile in PROFILES.items():
            (profiles / f"{name}.json").write_text(json.dumps(profile))
        fleet = subprocess.run(
            [
                appliance.folder / "agent" / "fleet",
                "--appliance",
                f"127.0.0.1:{appliance.port}",
                "--passphrase-file",
                appliance.passphrase_file(tmp_path / "pass.txt"),
                "--count",
                str(FLEET_SIZE),
                "--profiles",
                profiles,
                "--prefix",
                PREFIX,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert fleet.returncode == 0, fleet.stderr
        wait_until_discovered(live_hub, appliance.project_path, FLEET_SIZE)
        yield appliance.project_path
    finally:
        appliance.stop()


def finalize(hub, project_path: str) -> None:
    """Discover > Finalize registration for the appliance that registered, then wait until connected."""
    session = portal_session(hub, "admin@contoso.com")
    url = f"{hub.url}/migrate/discover/?project={quote(project_path, safe='')}"
    page = session.get(url, timeout=10).text
    appliance_id = re.search(
        r'<select id="select-configuration-server" name="appliance">\s*<option value="([^"]+)"', page
    )
    session.post(
        f"{hub.url}/migrate/discover/finalize/?project={quote(project_path, safe='')}",
        data={"appliance": appliance_id.group(1), **csrf(session)},
        timeout=10,
    )
    for _ in range(80):
        if "Connected" in session.get(url, timeout=10).text.split('id="appliances"')[1]:
            return
        time.sleep(0.25)
    raise AssertionError("Finalize registration did not finish")


def wait_until_discovered(hub, project_path: str, count: int) -> None:
    session = portal_session(hub, "admin@contoso.com")
    url = f"{hub.url}/migrate/discovered-servers/?project={quote(project_path, safe='')}"
    for _ in range(80):
        if session.get(url, timeout=10).text.count('<tr id="server-') == count:
            return
        time.sleep(0.25)
    raise AssertionError(f"{count} servers were not discovered")


def open_replicate(page, hub, project_path: str) -> None:
    page.goto(f"{hub.url}/migrate/servers/?project={quote(project_path, safe='')}")
    page.locator("#tool-server-migration").get_by_role("link", name="Replicate").click()
    expect(page.get_by_role("heading", name="Source settings")).to_be_visible()


def fill_source_settings(page, friendly_name: str) -> None:
    page.get_by_label("No (physical or other)").check()
    expect(page.get_by_label("vCenter server")).to_be_hidden()  # VMware only
    page.get_by_label("Yes, with VMware vSphere").check()
    expect(page.get_by_label("vCenter server")).to_be_visible()
    page.get_by_label("No (physical or other)").check()
    expect(page.get_by_label("Process Server").locator("option:checked")).to_contain_text("(process server)")
    page.get_by_label("Guest credentials").select_option(label="Add new credentials")
    page.get_by_label("Friendly name").fill(friendly_name)
    page.get_by_label("User name").fill("root")
    page.get_by_label("Password", exact=True).fill("dummy-Passw0rd")
    page.get_by_role("button", name="Next: Virtual machines").click()
    expect(page.get_by_role("heading", name="Virtual machines", exact=True)).to_be_visible()


def search(page, text: str) -> None:
    page.get_by_label("Search servers").fill(text)
    page.get_by_label("Search servers").press("Enter")
    # The list is redrawn by the hub; wait for it, as a person waits to see the filtered list.
    expect(page.locator("input[name=q_shown]")).to_have_value(text)


def fill_target_settings(page) -> None:
    expect(page.get_by_role("heading", name="Target settings")).to_be_visible()
    expect(page.get_by_label("Subscription")).to_have_value(re.compile(".+"))
    expect(page.locator("#target-region-locked")).to_contain_text("Locked by Create resources")
    expect(page.locator("#target-region")).to_be_disabled()
    page.get_by_label("Resource group", exact=True).select_option(label="rg-migrate")
    page.get_by_label("Virtual Network", exact=True).select_option(label="vnet-prod (rg-migrate)")
    # The subnets of the chosen network arrive from the hub.
    subnet = page.get_by_label("Subnet", exact=True)
    expect(subnet.locator("option", has_text="default (10.10.1.0/24)")).to_have_count(1)
    subnet.select_option(label="default (10.10.1.0/24)")
    expect(page.locator("#hybrid-benefit-help")).to_contain_text("applies to Windows Server machines only")
    page.get_by_label("No", exact=True).check()


def test_a_person_fills_every_tab_and_replication_starts(live_hub, discovered_project, context):
    page = context.new_page()
    sign_in(page, live_hub)
    open_replicate(page, live_hub, discovered_project)
    fill_source_settings(page, "dummy")

    # Virtual machines: the default is to specify settings by hand; the assessment option says why not.
    expect(page.get_by_label("No, I'll specify the migration settings manually")).to_be_checked()
    expect(page.get_by_label("Yes, apply migration settings from an Azure Migrate assessment")).to_be_disabled()
    expect(page.locator("#assessment-unavailable")).to_contain_text("no Azure Migrate: Server Assessment tool")
    expect(page.locator("#page-of")).to_contain_text(f"Page 1 of 2 ({FLEET_SIZE} servers)")
    search(page, DB)
    expect(page.locator("#replicate-servers tbody tr")).to_have_count(1)
    page.get_by_label(f"Select {DB}").check()
    search(page, WEB)
    page.get_by_label(f"Select {WEB}").check()
    expect(page.locator("#selected-count")).to_have_text("2 selected")  # the search kept the first one
    search(page, "")
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("#page-of")).to_contain_text("Page 2 of 2")
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    page.get_by_role("button", name="Next: Target settings").click()

    fill_target_settings(page)
    expect(page.locator("#hybrid-benefit-servers")).to_contain_text("None of the selected servers runs Windows")
    page.get_by_role("button", name="Next: Compute").click()

    expect(page.get_by_role("heading", name="Compute")).to_be_visible()
    expect(page.get_by_label(f"Azure VM name for {DB}")).to_have_value(DB)
    expect(page.locator("#compute-settings tr", has_text=DB)).to_contain_text("Picks Standard_D4s_v5")
    expect(page.locator("#compute-settings tr", has_text=WEB)).to_contain_text("Picks Standard_F2s_v2")
    page.get_by_label(f"Azure VM size for {WEB}").select_option("Standard_D4s_v5")
    page.get_by_label(f"Availability set for {DB}").select_option(label="avset-app")
    expect(page.get_by_label(f"OS disk for {WEB}").locator("option:checked")).to_have_text("disk0 (68.7 GB)")
    page.get_by_role("button", name="Next: Disks").click()

    expect(page.get_by_role("heading", name="Disks", exact=True)).to_be_visible()
    expect(page.locator("#excluded-disks-note")).to_contain_text(
        "If you exclude disks, they won't be present on the Azure VM after migration."
    )
    # The tab came in an htmx swap: a change made before htmx has bound the new select sends nothing.
    wait_for_htmx_to_settle(page)
    page.get_by_label(f"Replicate disk1 of {WEB}").select_option(label="Exclude")
    web_disks = page.locator("section.disk-server", has_text=WEB)
    # The note is the server's answer to the change (it re-reads the whole form): give a loaded
    # machine time to answer.
    expect(web_disks.locator(".excluded-note")).to_contain_text(
        "Won't be present on the Azure VM after migration: disk1 (137 GB)", timeout=20_000
    )
    page.get_by_label(f"Disk type of disk0 of {DB}").select_option(label="Premium SSD")
    page.get_by_role("button", name="Next: Review and start replication").click()

    expect(page.get_by_role("heading", name="Review and start replication")).to_be_visible()
    settings = page.locator("#review-settings")
    expect(settings).to_contain_text("dummy (new, user root)")
    expect(settings).to_contain_text("West Europe")
    expect(settings).to_contain_text("vnet-prod / default")
    servers = page.locator("#review-servers")
    expect(servers.locator("tr", has_text=WEB)).to_contain_text("Standard_D4s_v5")
    expect(servers.locator("tr", has_text=WEB)).to_contain_text("disk1")
    expect(servers.locator("tr", has_text=DB)).to_contain_text("disk0: Premium SSD")
    expect(servers.locator("tr", has_text=DB)).to_contain_text("avset-app")
    # The replication plan, as the Capacity planner computes it, for the two servers' selected disks.
    capacity = page.locator("#review-capacity")
    expect(capacity.locator("tr", has_text="Servers")).to_contain_text("2")
    expect(capacity).to_contain_text("Time to complete initial replication")
    expect(capacity.locator("tr", has_text="One appliance suffices")).to_contain_text("Yes: 2 of 200 machines")
    expect(page.locator("#review-plan-servers tr", has_text=WEB)).to_contain_text("68.7 GB")  # disk1 excluded
    screenshot(page, "replicate-review-plan.png", docs_size=True)
    page.get_by_role("button", name="Replicate", exact=True).click()

    expect(page.get_by_role("heading", name="Azure Migrate | Servers")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text(f"2 Start replication jobs started ({DB}, {WEB})")
    page.locator("#bell summary").click()
    notifications = page.locator("#notification-list")
    expect(notifications.locator(".notification", has_text=DB)).to_contain_text("Replication started", timeout=45_000)
    expect(notifications.locator(".notification", has_text=WEB)).to_contain_text("Replication started", timeout=45_000)
    expect(page.locator("#replicating-count")).to_have_text("2", timeout=10_000)

    # Replicate again: the two servers are replicating, shown but not selectable, with the reason.
    open_replicate(page, live_hub, discovered_project)
    page.get_by_label("Guest credentials").select_option(label="dummy (root)")
    page.get_by_role("button", name="Next: Virtual machines").click()
    search(page, WEB)
    expect(page.get_by_label(f"Select {WEB}")).to_be_disabled()
    expect(page.locator("#replicate-servers")).to_contain_text(f"Already replicating as {WEB}")


def test_a_windows_vm_name_over_15_characters_is_said_on_the_form(live_hub, discovered_project, context):
    page = context.new_page()
    sign_in(page, live_hub)
    open_replicate(page, live_hub, discovered_project)
    fill_source_settings(page, "windows-admin")
    search(page, WIN)
    page.get_by_label(f"Select {WIN}").check()
    page.get_by_role("button", name="Next: Target settings").click()
    fill_target_settings(page)
    expect(page.locator("#hybrid-benefit-servers")).to_contain_text(f"it would apply to: {WIN}")
    page.get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Next: Compute").click()
    page.get_by_role("button", name="Next: Disks").click()

    # Still on Compute: the name the server reported is 17 characters; the error sits at the field.
    expect(page.get_by_role("heading", name="Compute")).to_be_visible()
    name_cell = page.locator("#compute-settings td").filter(has=page.get_by_label(f"Azure VM name for {WIN}"))
    expect(name_cell.locator(".field-error")).to_contain_text("longer than 15 characters")
    expect(page.locator("li.current")).to_have_text(re.compile("Compute"))

    # Nothing was created: no job for it, and it can still be selected.
    page.goto(f"{live_hub.url}/jobs/")
    expect(page.locator("#job-rows")).not_to_contain_text(WIN)
    open_replicate(page, live_hub, discovered_project)
    page.get_by_label("Guest credentials").select_option(label="Add new credentials")
    page.get_by_label("Friendly name").fill("windows-admin")
    page.get_by_label("User name").fill("root")
    page.get_by_label("Password", exact=True).fill("dummy-Passw0rd")
    page.get_by_role("button", name="Next: Virtual machines").click()
    search(page, WIN)
    expect(page.get_by_label(f"Select {WIN}")).to_be_enabled()


def wait_for_htmx_to_settle(page) -> None:
    """Until no htmx request, swap or settle is under way on the page."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
