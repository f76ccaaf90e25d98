"""The Azure Migrate project in view, clicked as a person would: the user chooses it with "Change" on the
Servers blade, every Azure Migrate blade names it and acts on it, and a project a colleague creates
meanwhile never takes its place. Discover follows Create resources live, without a reload.

DOCS_SCREENSHOTS=1 also saves the Servers blade with its project selector and the Discover blade with
its appliance section (1400x900) into docs/screenshots/."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot, sign_in
from tests.hubs import CONTOSO, unique

pytestmark = [pytest.mark.browser, pytest.mark.live]

JOB_TIMEOUT_MS = 60_000


def project_through_arm(hub, prefix: str, email: str = "admin@contoso.com") -> tuple[str, str]:
    """A new Contoso project with the Server Migration tool, created by `email`; its name and ARM path."""
    group = hub.new_resource_group(f"rg-{prefix}")
    name = unique(prefix)[:20]
    path = f"/subscriptions/{CONTOSO}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects/{name}"
    assert hub.api("PUT", path, email, json={"location": "westeurope"}).status_code in (200, 201)
    assert hub.api("POST", f"{path}/registerTool", email, json={"tool": "ServerMigration"}).status_code == 200
    return name, path


def choose_project(page, name: str) -> None:
    """Change > Migrate project > OK, as on the Azure portal's Servers blade."""
    page.locator("#project-change summary").click()
    option = page.locator("#project-select option").filter(has_text=name)
    page.get_by_label("Migrate project").select_option(option.get_attribute("value"))
    page.get_by_role("button", name="OK", exact=True).click()
    expect(page.locator("#project-name")).to_have_text(name)


def mark_not_reloaded(page) -> None:
    page.evaluate("window.notReloaded = true")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.notReloaded") is True, "the page was reloaded"


def test_the_chosen_project_stays_in_view_when_a_colleague_creates_one(live_hub, page):
    page.set_viewport_size({"width": 1400, "height": 900})
    chosen, chosen_path = project_through_arm(live_hub, "chosen")
    other, _ = project_through_arm(live_hub, "other")
    sign_in(page, live_hub)

    # From the menu, with several projects and none chosen yet: the blade asks which one.
    page.get_by_role("link", name="All services").click()
    page.get_by_label("Filter services").fill("migrate")
    page.get_by_label("Filter services").press("Enter")
    page.get_by_role("link", name="Azure Migrate", exact=True).click()
    page.get_by_role("link", name="Assess and migrate servers").click()
    expect(page.get_by_role("heading", name="Select an Azure Migrate project")).to_be_visible()
    choose_project(page, chosen)
    assert unquote(re.search(r"project=([^&]+)", page.url).group(1)) == chosen_path
    expect(page.locator("#tool-server-migration")).to_contain_text("Azure Migrate: Server Migration")

    # A colleague creates a newer project: the open blade, and every blade opened later, keep the chosen one.
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    mark_not_reloaded(page)
    colleague_project, _ = project_through_arm(live_hub, "colleague", "migrator@contoso.com")
    page.wait_for_timeout(1_000)
    expect(page.locator("#project-name")).to_have_text(chosen)
    assert_not_reloaded(page)
    page.get_by_role("navigation", name="Azure Migrate menu").get_by_role("link", name="Overview").click()
    page.get_by_role("link", name="Assess and migrate servers").click()
    expect(page.locator("#project-name")).to_have_text(chosen)
    expect(page.locator("#project-select option").filter(has_text=colleague_project)).to_have_count(1)
    page.locator("#menu-replicating-machines").click()
    expect(page.get_by_role("heading", name=re.compile("Replicating machines"))).to_be_visible()
    expect(page.locator("#project-name")).to_have_text(chosen)

    # Discover acts on the project in view, and follows Create resources live.
    page.get_by_role("navigation", name="Azure Migrate menu").get_by_role("link", name="Servers").click()
    page.locator("#tool-server-migration").get_by_role("link", name="Discover").click()
    expect(page.get_by_role("heading", name="Discover machines").first).to_be_visible()
    expect(page.locator("#project-name")).to_have_text(chosen)
    expect(page.get_by_role("link", name="Refresh")).to_be_visible()
    page.get_by_label("Not virtualized/Other").check()
    page.get_by_label("Target region", exact=True).select_option(label="West Europe")
    page.get_by_label(re.compile(r"^Confirm that the target region for migration is ")).check()
    page.get_by_role("button", name="Create resources").click()
    expect(page.locator("#region-locked")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    mark_not_reloaded(page)
    resources = page.locator("#migration-resources")
    for resource in ("Key Vault", "Storage account"):
        expect(resources.locator("tr").filter(has_text=re.compile(resource, re.I))).to_contain_text(
            "Created", timeout=JOB_TIMEOUT_MS
        )
    expect(page.locator("#install-appliance")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#creating-resources")).to_have_count(0, timeout=JOB_TIMEOUT_MS)
    assert_not_reloaded(page)
    screenshot(page, "discover-appliance.png")
    solution = live_hub.api("GET", f"{chosen_path}/solutions/Servers-Migration-ServerMigration").json()
    assert solution["properties"]["details"]["extendedDetails"].get("vaultId"), "the chosen project got the vault"

    # Change to the other project: the Servers blade names it, and it stays for the session.
    page.locator("nav.breadcrumb").get_by_role("link", name="Servers").click()
    expect(page.locator("#project-name")).to_have_text(chosen)
    choose_project(page, other)
    page.goto(live_hub.url + "/migrate/servers/")
    expect(page.locator("#project-name")).to_have_text(other)
    page.locator("#project-change summary").click()
    expect(page.get_by_label("Migrate project")).to_be_visible()
    screenshot(page, "servers-project-selector.png")


def test_a_project_named_in_the_link_opens_whatever_was_chosen_before(live_hub, page):
    first, _ = project_through_arm(live_hub, "first")
    second, second_path = project_through_arm(live_hub, "second")
    sign_in(page, live_hub)
    page.goto(live_hub.url + "/migrate/servers/")
    choose_project(page, first)
    # A link naming another project (a notification's, say) opens that one, and it becomes the choice.
    page.goto(f"{live_hub.url}/migrate/servers/?project={quote(second_path, safe='')}")
    expect(page.locator("#project-name")).to_have_text(second)
    page.goto(live_hub.url + "/migrate/replicating-servers/")
    expect(page.locator("#project-name")).to_have_text(second)
