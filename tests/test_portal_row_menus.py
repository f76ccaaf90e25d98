"""Row menus and notifications, clicked as a person would.

The "..." menu of a replicating server stays open and usable while replication cycles redraw its row
every few seconds (a real appliance and Mobility service, tests/replication_rig.py); right-click opens
it, as the tutorial says ("Right-click the VM"); the same menu on Test migrated servers and Discovered
servers; a Reader sees the commands greyed out with the reason as their tooltip. Add tools warns a
Contributor that Create resources will need more; notifications name their project and link to it,
one toast per notification, none over the open notifications panel.

DOCS_SCREENSHOTS=1 also saves screenshots (1400x900) into docs/screenshots/."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot, sign_in
from tests.hubs import unique
from tests.replication_rig import ImageWriter, enable_replication, one_disk_rig, wait_for_state
from tests.test_portal_add_tools import choose_server_migration_only, fill_project_tab, open_add_tools

pytestmark = [pytest.mark.browser, pytest.mark.live]

MIB = 1024 * 1024
VIEWPORT = {"width": 1400, "height": 900}
READER_REFUSAL = (
    "You need Contributor or Owner on resource group rg-migrate to {purpose}. Ask the resource group owner."
)


def signed_in_page(browser, hub, email: str):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    sign_in(page, hub, email)
    return page


def open_blade(page, url: str) -> None:
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-live", "connected")


def wait_for_redraw(page, row_id: str) -> None:
    """Until a live update has replaced the row's element (the mark set on the old one is gone)."""
    page.evaluate("id => { document.getElementById(id).dataset.seen = '1'; }", row_id)
    page.wait_for_function(
        "id => { const row = document.getElementById(id); return row && !row.dataset.seen; }",
        arg=row_id,
        timeout=60_000,
    )


def test_a_row_menu_stays_open_through_replication_cycles_and_greys_out_what_a_reader_may_not_run(
    live_hub, browser, tmp_path
):
    rig, image = one_disk_rig(live_hub, tmp_path, 4, seed=23, cycle_seconds=2)
    writer = ImageWriter(image, blocks=4, interval=1)
    try:
        enable_replication(rig)
        wait_for_state(rig, "Replicating")
        writer.start()  # the server is in use: every cycle has something to send, and redraws the row
        host, project = rig.host_name, quote(rig.appliance.project_path, safe="")

        page = signed_in_page(browser, live_hub, "admin@contoso.com")
        open_blade(page, f"{live_hub.url}/migrate/replicating-servers/?project={project}")
        row = page.locator("#replicating-servers tr.replicating-row").filter(has_text=host)
        row_id = row.get_attribute("id")
        button = row.get_by_role("button", name=f"More actions for {host}")
        button.click()
        menu = page.get_by_role("menu", name=f"Actions for {host}")
        expect(menu.get_by_role("menuitem", name="Test migrate", exact=True)).to_be_visible()
        # Three live redraws of the row, a few seconds apart: the menu stays open, its button says so.
        for _ in range(3):
            wait_for_redraw(page, row_id)
            expect(menu).to_be_visible()
            expect(row.get_by_role("button", name=f"More actions for {host}")).to_have_attribute(
                "aria-expanded", "true"
            )
        menu.get_by_role("menuitem", name="Test migrate", exact=True).click()
        expect(page.get_by_role("heading", name="Test Migration")).to_be_visible()

        # Test migrated servers: right-click the VM, as the tutorial says; Escape closes the menu.
        open_blade(page, f"{live_hub.url}/migrate/test-migrated-servers/?project={project}")
        test_row = page.locator("#test-migrated-servers tr").filter(has_text=host)
        test_row.get_by_text(host, exact=True).click(button="right")
        expect(menu.get_by_role("menuitem", name="Stop migration")).to_be_visible()
        expect(menu.get_by_role("menuitem", name="Clean up test migration")).to_have_attribute(
            "title", "There is no test migration to clean up: run Test migrate first."
        )
        page.keyboard.press("Escape")
        expect(menu).to_be_hidden()

        # Discovered servers: the same menu; Replicate is greyed out for a server that replicates.
        open_blade(page, f"{live_hub.url}/migrate/discovered-servers/?project={project}")
        page.locator("#discovered-servers tr").filter(has_text=host).locator("td").first.click(button="right")
        replicate = menu.get_by_role("menuitem", name="Replicate", exact=True)
        expect(replicate).to_have_attribute("aria-disabled", "true")
        expect(replicate).to_have_attribute("title", f"{host} is already replicating.")
        menu.get_by_role("menuitem", name="Open replication").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(host)

        # A Reader: every command that changes something is greyed out, the reason as its tooltip.
        reader = signed_in_page(browser, live_hub, "viewer@contoso.com")
        open_blade(reader, f"{live_hub.url}/migrate/replicating-servers/?project={project}")
        reader_row = reader.locator("#replicating-servers tr.replicating-row").filter(has_text=host)
        reader_row.get_by_role("button", name=f"More actions for {host}").click()
        reader_menu = reader.get_by_role("menu", name=f"Actions for {host}")
        for label, purpose in [
            ("Test migrate", "test migrate servers"),
            ("Migrate", "migrate servers"),
            ("Stop migration", "stop replication"),
        ]:
            command = reader_menu.get_by_role("menuitem", name=label, exact=True)
            expect(command).to_have_attribute("aria-disabled", "true")
            expect(command).to_have_attribute("title", READER_REFUSAL.format(purpose=purpose))
        # Only Open is offered; Clean up test migration is greyed out by the state (nothing to clean up).
        expect(reader_menu.get_by_role("menuitem", disabled=False)).to_have_text(["Open"])
        wait_for_redraw(reader, reader_row.get_attribute("id"))
        expect(reader_menu).to_be_visible()
        reader_menu.get_by_role("menuitem", name="Test migrate", exact=True).hover()
        screenshot(reader, "row-menu-reader.png")
    finally:
        writer.stop()
        rig.stop()


def test_add_tools_warns_a_contributor_and_notifications_name_their_project(live_hub, browser):
    # A Contributor may create the project, not finish it: Add tools says so before anything exists.
    contributor = signed_in_page(browser, live_hub, "migrator@contoso.com")
    open_add_tools(contributor)
    fill_project_tab(contributor, group=unique("rg-dead"), project=unique("dead")[:24])
    contributor.get_by_role("button", name="Next").click()
    warning = contributor.locator("#finish-warning")
    expect(warning).to_contain_text(
        "Discover > Create resources needs Owner, or Contributor and User Access Administrator,"
    )
    expect(warning).to_contain_text("Who can finish it: admin@contoso.com")

    # The admin in three tabs: one adds tools, one watches with the bell closed, one with it open.
    context = browser.new_context(viewport=VIEWPORT)
    watcher = context.new_page()
    sign_in(watcher, live_hub)
    open_blade(watcher, live_hub.url + "/jobs/")
    panel_open = context.new_page()
    open_blade(panel_open, live_hub.url + "/jobs/")
    panel_open.locator("#bell summary").click()
    expect(panel_open.get_by_role("heading", name="Notifications")).to_be_visible()

    group, project = unique("rg-note"), unique("note")[:24]
    page = context.new_page()
    page.goto(live_hub.url + "/")
    open_add_tools(page)
    fill_project_tab(page, group=group, project=project)
    choose_server_migration_only(page)
    page.get_by_role("button", name="Add tools").click()
    expect(page.get_by_role("heading", name="Azure Migrate | Servers")).to_be_visible()

    # One toast for the job: its completion replaced its in-progress toast; it names and links the project.
    toast = watcher.locator(".toast").filter(has_text=project)
    expect(toast).to_have_text(f"Tools added to project {project}", timeout=60_000)
    expect(toast).to_have_count(1)
    expect(toast.get_by_role("link")).to_have_attribute(
        "href", re.compile(rf"^/migrate/servers/\?project=.*{project}$")
    )

    # With the panel open, no toast covers it: the notification shows in the panel, live.
    listed = panel_open.locator("#notification-list .notification").filter(has_text=project)
    expect(listed.get_by_role("link", name=f"Tools added to project {project}")).to_be_visible(timeout=60_000)
    expect(panel_open.locator(".toast")).to_have_count(0)
    screenshot(panel_open, "notifications-panel.png")
    # Opening the bell puts away the toasts that were showing.
    watcher.locator("#bell summary").click()
    expect(watcher.locator(".toast")).to_have_count(0)
    watcher.locator("#notification-list").get_by_role("link", name=f"Tools added to project {project}").click()
    expect(watcher.locator("#project-name")).to_have_text(project)
