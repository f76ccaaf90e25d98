"""Every Azure Migrate blade, visited as a person clicks through them at 1400x900, checking the words
and looks the tutorial and the Azure portal have:

- All services lists Virtual machines as a service (not "not emulated yet") and filters as you type;
- Add tools' Geography lists geographies, the metadata region by its name ("West Europe");
- Discover's "Confirm that the target region for migration is West Europe" names the chosen region,
  and region names (not ids) on every page; the key's Download button on one line;
- every status icon is an inline SVG (no character a browser may lack a font for);
- the Compute tab's VM size shows "Automatically select matching configuration" whole;
- a replicating server's blade says its % of the data to send and its throughput in decimal units;
- a command blade's breadcrumb follows the way the user came; Migrate is "Yes > OK".

With DOCS_SCREENSHOTS=1 each blade is also saved into docs/screenshots/ (the README's "The portal")."""

from __future__ import annotations

import re
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot, sign_in
from tests.hubs import unique
from tests.replication_rig import one_disk_rig
from tests.test_portal_add_tools import choose_server_migration_only
from tests.test_portal_replicate import fill_source_settings, fill_target_settings, search
from tests.test_tutorial_e2e import choose_from_menu, replicating_row

pytestmark = [pytest.mark.browser, pytest.mark.live]

MIB = 1024 * 1024
JOB_TIMEOUT_MS = 60_000
READY_TIMEOUT_MS = 120_000
# Characters the portal once used as status icons; Debian's Chromium draws some as empty boxes.
STATUS_CHARACTERS = "\u231b\u2714\u2716\u26a0\u2139"


def no_status_characters(page) -> None:
    text = page.locator("body").inner_text()
    assert not any(character in text for character in STATUS_CHARACTERS), "a status icon is a font character"


def icons_are_svg(locator) -> None:
    """Each status icon in `locator` is drawn (an SVG with a size), not a font glyph."""
    # Read in one step, again if a live update was redrawing the row (its new icons not laid out yet).
    for _ in range(20):
        icons = locator.first.evaluate(
            """node => [...node.querySelectorAll(".status-icon")].map(icon => {
                const box = icon.getBoundingClientRect();
                return [icon.tagName.toLowerCase(), box.width, box.height, icon.isConnected];
            })"""
        )
        if icons and all(width >= 12 and height >= 12 for _, width, height, _ in icons):
            break
        locator.page.wait_for_timeout(250)
    assert icons, "no status icon"
    for tag, width, height, _ in icons:
        assert tag == "svg" and width >= 12 and height >= 12, icons


@contextmanager
def failed_job_told(page):
    """On a failed wait, add what the notifications say (a failed job's error) to the assertion."""
    try:
        yield
    except AssertionError as error:
        page.get_by_label("Notifications").click()
        told = page.locator("#bell .flyout").inner_text(timeout=5_000)
        raise AssertionError(f"{error}\nNotifications:\n{told}") from error


def servers_url(hub, project_path: str) -> str:
    return f"{hub.url}/migrate/servers/?project={quote(project_path, safe='')}"


def text_fits(select) -> bool:
    """The select's chosen option is drawn whole: its text, at the select's font, plus the padding
    and the arrow, fits the select's width."""
    needed, width = select.evaluate(
        """select => {
            const style = getComputedStyle(select);
            const context = document.createElement("canvas").getContext("2d");
            context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
            const text = select.options[select.selectedIndex].text;
            return [context.measureText(text).width + parseFloat(style.paddingLeft) + 20, select.clientWidth];
        }"""
    )
    assert needed <= width, f"{needed:.0f} px of text and arrow in a {width} px select"
    return True


def test_a_tour_of_the_azure_migrate_blades(live_hub, browser, tmp_path):
    hub = live_hub
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    rig = None
    try:
        sign_in(page, hub)
        screenshot(page, "home.png")

        # All services: Virtual machines is a service; the filter works as you type.
        page.get_by_role("link", name="All services").click()
        services = page.locator("#services")
        expect(services.get_by_role("link", name="Virtual machines", exact=True)).to_be_visible()
        expect(services.locator("li").filter(has_text="Virtual machines")).not_to_contain_text("not emulated yet")
        screenshot(page, "all-services.png")
        page.get_by_label("Filter services").press_sequentially("netw")
        expect(services.get_by_role("link", name="Virtual networks")).to_be_visible()
        expect(services.get_by_role("link", name="Azure Migrate", exact=True)).to_be_hidden()
        assert "q=" not in page.url, "filtered without a round trip"
        page.get_by_label("Filter services").fill("no such service")
        expect(page.locator("#no-services")).to_be_visible()
        page.get_by_label("Filter services").fill("migrate")
        page.get_by_role("link", name="Azure Migrate", exact=True).click()
        expect(page.get_by_role("heading", name="Azure Migrate | Overview")).to_be_visible()
        screenshot(page, "azure-migrate-overview.png")

        # Add tools: a Geography choice of geographies, then the metadata region by its name.
        page.get_by_role("link", name="Assess and migrate servers").click()
        expect(page.get_by_role("heading", name="Azure Migrate | Servers")).to_be_visible()
        page.get_by_role("link", name="Add tools").first.click()
        expect(page.get_by_role("heading", name="Migrate project", exact=True)).to_be_visible()
        geography = page.get_by_label("Geography")
        assert geography.locator("option").all_inner_texts() == [
            "Select a geography",
            "Asia",
            "Europe",
            "United States",
        ]
        group, project = unique("rg-tour"), unique("tour")[:24]
        page.get_by_label("Resource group", exact=True).select_option(label="Create new")
        page.get_by_label("New resource group name").fill(group)
        page.get_by_label("Migrate project").fill(project)
        geography.select_option(label="Europe")
        region = page.get_by_label("Metadata region")
        expect(region.locator("option")).to_have_text(["North Europe", "West Europe"])
        region.select_option(label="West Europe")
        screenshot(page, "add-tools.png")
        choose_server_migration_only(page)
        expect(page.locator("table.props").filter(has_text="Metadata region")).to_contain_text("West Europe")
        page.get_by_role("button", name="Add tools").click()
        expect(page.get_by_role("heading", name="Azure Migrate | Servers")).to_be_visible()
        tool = page.locator("#tool-server-migration")
        expect(tool).to_be_visible(timeout=60_000)  # live: the blade follows its deployment
        expect(page.locator(".project-bar")).to_contain_text("Metadata in West Europe")
        project_path = re.search(r"project=([^&]+)", page.url).group(1)
        screenshot(page, "servers.png")

        # The notifications: their status icons are drawn as SVG.
        page.get_by_label("Notifications").click()
        panel = page.locator("#bell .flyout")
        expect(panel.locator(".notification").first).to_be_visible()
        icons_are_svg(panel)
        screenshot(page, "notifications.png")
        page.get_by_label("Notifications").click()

        # Discover: the confirmation names the region chosen.
        tool.get_by_role("link", name="Discover").click()
        expect(page.get_by_role("heading", name="Discover machines").first).to_be_visible()
        page.get_by_label("Not virtualized/Other").check()
        page.get_by_label("Target region", exact=True).select_option(label="North Europe")
        expect(page.get_by_label("Confirm that the target region for migration is North Europe")).to_be_visible()
        page.get_by_label("Target region", exact=True).select_option(label="West Europe")
        confirm = page.get_by_label("Confirm that the target region for migration is West Europe")
        confirm.check()
        screenshot(page, "discover.png")
        page.get_by_role("button", name="Create resources").click()
        expect(page.locator("#region-locked")).to_contain_text(
            "All migrations from this project go to West Europe", timeout=JOB_TIMEOUT_MS
        )
        expect(page.locator("#install-appliance")).to_be_visible(timeout=60_000)
        no_status_characters(page)
        download = page.locator("#download-key")
        line = page.locator("#download-installer").bounding_box()["height"]
        assert download.bounding_box()["height"] <= line + 1, "the key's Download button is on one line"
        step = page.locator("#install-appliance li").filter(has=download).bounding_box()
        assert download.bounding_box()["x"] > step["x"] + 20, "the key's Download follows its text, not below it"
        screenshot(page, "discover-appliance.png")
        page.goto(f"{hub.url}/migrate/servers/?project={project_path}")
        expect(page.locator("#tool-server-migration")).to_contain_text("Target region: West Europe")
        screenshot(page, "servers-with-tool.png")

        # A server that replicates: a real appliance and Mobility service (in another project).
        rig, image = one_disk_rig(hub, tmp_path, 12, seed=5, cycle_seconds=2)
        host, rig_project = rig.host_name, quote(rig.appliance.project_path, safe="")
        page.goto(servers_url(hub, rig.appliance.project_path))
        page.locator("#discovered-count").get_by_role("link").click()
        expect(page.locator("#discovered-servers")).to_contain_text(host)
        screenshot(page, "discovered-servers.png")

        # Replicate, every tab; the VM size is not cut off.
        page.goto(servers_url(hub, rig.appliance.project_path))
        page.locator("#tool-server-migration").get_by_role("link", name="Replicate").click()
        expect(page.get_by_role("heading", name="Source settings")).to_be_visible()
        screenshot(page, "replicate-1-source-settings.png")
        fill_source_settings(page, "tour")
        search(page, host)
        page.get_by_label(f"Select {host}").check()
        screenshot(page, "replicate-2-virtual-machines.png")
        page.get_by_role("button", name="Next: Target settings").click()
        fill_target_settings(page)
        expect(page.locator("#target-region")).to_contain_text("West Europe")
        screenshot(page, "replicate-3-target-settings.png")
        page.get_by_role("button", name="Next: Compute").click()
        expect(page.get_by_role("heading", name="Compute")).to_be_visible()
        size = page.get_by_label(f"Azure VM size for {host}")
        expect(size).to_be_visible()
        expect(size.locator("option:checked")).to_have_text("Automatically select matching configuration")
        assert text_fits(size), "the VM size dropdown cuts its text off"
        screenshot(page, "replicate-4-compute.png")
        page.get_by_role("button", name="Next: Disks").click()
        screenshot(page, "replicate-5-disks.png")
        page.get_by_role("button", name="Next: Review and start replication").click()
        screenshot(page, "replicate-6-review.png")
        page.get_by_role("button", name="Replicate", exact=True).click()
        expect(page.locator(".messages")).to_contain_text("Start replication job started")

        # Replicating machines, then the server's blade: numbers in decimal units, region names.
        page.goto(servers_url(hub, rig.appliance.project_path))
        page.locator("#replicating-count").get_by_role("link").click()
        row = replicating_row(page, host)
        expect(row).to_have_count(1, timeout=JOB_TIMEOUT_MS)
        expect(row.locator(".replication-state")).to_have_text(re.compile("Ready to migrate"), timeout=READY_TIMEOUT_MS)
        expect(row).to_contain_text(re.compile(r"\d+(\.\d)? (B|KB|MB)\b"))
        assert not re.search(r"\bMiB|\bGiB|\bKiB", row.inner_text())
        icons_are_svg(row)
        screenshot(page, "replicating-servers.png")
        row.get_by_role("link", name=host, exact=True).click()
        expect(page.locator("body")).to_contain_text("West Europe")
        assert "westeurope" not in page.locator("main").inner_text()
        screenshot(page, "replicating-server.png")

        # Test migrate from Test migrated servers: the breadcrumb says so.
        page.goto(f"{hub.url}/migrate/test-migrated-servers/?project={rig_project}")
        expect(page.get_by_role("heading", name=re.compile("Test migrated servers"))).to_be_visible()
        screenshot(page, "test-migrated-servers.png")
        test_row = page.locator("#test-migrated-servers tr").filter(has_text=host)
        choose_from_menu(test_row, host, "Test migrate")
        expect(page.get_by_role("heading", name="Test Migration")).to_be_visible()
        breadcrumb = page.locator("nav.breadcrumb")
        expect(breadcrumb.get_by_role("link", name="Test migrated servers")).to_be_visible()
        expect(page.locator("main")).to_contain_text("West Europe")
        screenshot(page, "test-migrate.png")
        page.get_by_role("button", name="Test migration").click()
        with failed_job_told(page):
            expect(test_row.locator(".test-state")).to_contain_text("Test clean up pending", timeout=JOB_TIMEOUT_MS)

        # Clean up from Replicating machines: its breadcrumb names Replicating machines.
        page.goto(f"{hub.url}/migrate/replicating-servers/?project={rig_project}")
        row = replicating_row(page, host)
        choose_from_menu(row, host, "Clean up test migration")
        expect(breadcrumb.get_by_role("link", name="Replicating machines")).to_be_visible()
        expect(breadcrumb.get_by_role("link", name="Test migrated servers")).to_have_count(0)
        page.get_by_role("button", name="Clean up test migration").click()
        expect(page.locator(".messages")).to_contain_text(f"Test migration clean up of {host} started")
        page.goto(f"{hub.url}/migrate/replicating-servers/?project={rig_project}")
        # The clean-up runs on the worker; the row (live) stops waiting for it, and its menu offers Migrate.
        expect(row).not_to_contain_text("Test clean up pending", timeout=JOB_TIMEOUT_MS)

        # Migrate: "Shut down virtual machines and perform a planned migration with no data loss", Yes > OK.
        choose_from_menu(row, host, "Migrate")
        expect(page.get_by_role("radio", name="Yes", exact=True)).to_be_checked()
        screenshot(page, "migrate.png")
        page.get_by_role("button", name="OK", exact=True).click()
        expect(page.locator(".messages")).to_contain_text(f"Migration of {host} started")
        page.goto(f"{hub.url}/migrate/replicating-servers/?project={rig_project}")
        expect(row.locator(".replication-state")).to_have_text("Migration Succeeded", timeout=JOB_TIMEOUT_MS)

        # The migrated VM, the jobs, the notifications.
        page.get_by_role("link", name="Virtual machines").first.click()
        expect(page.locator("#virtual-machines")).to_contain_text("West Europe")
        screenshot(page, "virtual-machines.png")
        page.goto(f"{hub.url}/jobs/")
        screenshot(page, "jobs.png")
        page.get_by_label("Notifications").click()
        icons_are_svg(page.locator("#bell .flyout"))
        no_status_characters(page)
        screenshot(page, "notifications-after-migration.png")
    finally:
        if rig is not None:
            rig.stop()
        context.close()
