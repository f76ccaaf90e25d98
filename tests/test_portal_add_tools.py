"""The tutorial's "Add the Azure Migrate Server Migration tool", clicked as a person would."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import sign_in
from tests.hubs import CONTOSO, unique

pytestmark = [pytest.mark.browser, pytest.mark.live]


def open_add_tools(page) -> None:
    page.get_by_role("link", name="All services").click()
    page.get_by_label("Filter services").fill("migrate")
    page.get_by_label("Filter services").press("Enter")
    page.get_by_role("link", name="Azure Migrate", exact=True).click()
    expect(page.get_by_role("heading", name="Azure Migrate | Overview")).to_be_visible()
    page.get_by_role("link", name="Assess and migrate servers").click()
    expect(page.get_by_role("heading", name="Azure Migrate | Servers")).to_be_visible()
    page.get_by_role("link", name="Add tools").first.click()
    expect(page.get_by_role("heading", name="Migrate project", exact=True)).to_be_visible()


def fill_project_tab(page, *, group: str, project: str) -> None:
    # Contoso has one subscription, preselected; choosing another re-renders the resource groups.
    expect(page.get_by_label("Subscription").locator("option:checked")).to_have_text("Contoso Production")
    page.get_by_label("Resource group", exact=True).select_option(label="Create new")
    page.get_by_label("New resource group name").fill(group)
    page.get_by_label("Migrate project").fill(project)
    page.get_by_label("Geography").select_option(label="Europe")
    # The geography's regions, by their names; the first is preselected once the form redraws.
    expect(page.get_by_label("Metadata region").locator("option:checked")).to_have_text("North Europe")
    page.get_by_label("Metadata region").select_option(label="West Europe")


def choose_server_migration_only(page) -> None:
    """From the Migrate project tab to Review + add tools: no assessment tool, Server Migration."""
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Select assessment tool")).to_be_visible()
    expect(page.get_by_label("Skip adding an assessment tool for now")).to_be_checked()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Select migration tool")).to_be_visible()
    page.get_by_label("Azure Migrate: Server Migration").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Review + add tools")).to_be_visible()


def test_add_tools_deploys_live_and_shows_the_tool(any_hub, context):
    group, project = unique("rg-portal"), unique("proj")[:24]
    watcher = context.new_page()  # a second tab, already connected, watches the bell
    sign_in(watcher, any_hub)
    watcher.goto(any_hub.url + "/jobs/")
    expect(watcher.locator("body")).to_have_attribute("data-live", "connected")
    watcher.evaluate("window.notReloaded = true")

    page = context.new_page()
    page.goto(any_hub.url + "/")
    open_add_tools(page)
    fill_project_tab(page, group=group, project=project)
    choose_server_migration_only(page)
    review = page.locator("table.props")
    expect(review).to_contain_text(project)
    expect(review).to_contain_text(f"{group} (new)")
    expect(review).to_contain_text("West Europe")
    page.get_by_role("button", name="Add tools").click()
    expect(page.get_by_role("heading", name="Azure Migrate | Servers")).to_be_visible()

    # The watching tab learns of the deployment without a reload: the job row, the bell, a toast.
    expect(watcher.locator("#job-rows")).to_contain_text(project)
    expect(watcher.locator(".toast").filter(has_text="Tools added")).to_be_visible()
    watcher.locator("#bell summary").click()
    notification = (
        watcher.locator("#notification-list .notification").filter(has_text="Tools added").filter(has_text=project)
    )
    expect(notification).to_be_visible()
    assert watcher.evaluate("window.notReloaded") is True
    expect(watcher.locator("#job-rows tr").filter(has_text=project)).to_contain_text("Succeeded")

    notification.get_by_role("link", name="Tools added").click()
    expect(watcher.locator("#project-name")).to_have_text(project)
    tool = watcher.locator("#tool-server-migration")
    expect(tool).to_contain_text("Azure Migrate: Server Migration")
    expect(tool.get_by_role("link", name="Discover")).to_be_enabled()
    # Replicate waits for Create resources, and says so on the disabled button; Overview is open.
    expect(tool.get_by_role("button", name="Replicate")).to_be_disabled()
    expect(tool).to_contain_text("Replicate is not available yet")
    expect(tool.get_by_role("link", name="Overview")).to_be_enabled()

    # The job lists its ordered tasks.
    watcher.goto(any_hub.url + "/jobs/")
    watcher.get_by_role("link", name="Add tools").first.click()
    expect(watcher.locator("table.grid")).to_contain_text("Create resource group")
    expect(watcher.locator("table.grid")).to_contain_text("Create Azure Migrate project")
    expect(watcher.locator("table.grid")).to_contain_text("Add Azure Migrate: Server Migration")

    # The same project through the ARM API, and listed under its resource group in the portal.
    project_path = (
        f"/subscriptions/{CONTOSO}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects/{project}"
    )
    body = any_hub.api("GET", project_path).json()
    assert body["properties"]["registeredTools"] == ["ServerMigration"]
    solutions = any_hub.api("GET", project_path + "/solutions").json()["value"]
    assert [s["name"] for s in solutions] == ["Servers-Migration-ServerMigration"]
    watcher.goto(any_hub.url + "/resource-groups/")
    watcher.get_by_role("link", name=group).click()
    expect(watcher.get_by_role("link", name=project)).to_be_visible()


def test_a_bad_project_name_shows_the_rule_and_creates_nothing(live_hub, page):
    group = unique("rg-bad")
    sign_in(page, live_hub)
    page.goto(live_hub.url + "/migrate/add-tools/")
    fill_project_tab(page, group=group, project="bad name!")
    page.get_by_role("button", name="Next").click()
    error = page.locator(".field-error")
    expect(error).to_contain_text("Project names are 3 to 24 characters: letters, digits and hyphens only.")
    expect(page.get_by_role("heading", name="Migrate project", exact=True)).to_be_visible()
    expect(page.get_by_label("New resource group name")).to_have_value(group)
    assert live_hub.api("GET", f"/subscriptions/{CONTOSO}/resourcegroups/{group}").status_code == 404
    page.goto(live_hub.url + "/jobs/")
    expect(page.locator("#job-rows")).not_to_contain_text("bad name!")


def test_a_reader_is_told_what_role_is_missing(live_hub, page):
    sign_in(page, live_hub, "viewer@contoso.com")
    page.goto(live_hub.url + "/migrate/add-tools/")
    page.get_by_label("Resource group", exact=True).select_option("rg-migrate")
    page.get_by_label("Migrate project").fill("viewer-project")
    page.get_by_label("Geography").select_option(label="United States")
    expect(page.get_by_label("Metadata region").locator("option:checked")).to_have_text("East US")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(".field-error")).to_contain_text(
        "You need Contributor or Owner on resource group rg-migrate to create an Azure Migrate project. "
        "Ask the resource group owner."
    )


def test_a_project_created_through_the_api_is_in_the_project_selector(live_hub, page):
    group, project = unique("rg-api"), unique("api")[:24]
    live_hub.api("PUT", f"/subscriptions/{CONTOSO}/resourcegroups/{group}", json={"location": "eastus"})
    path = f"/subscriptions/{CONTOSO}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects/{project}"
    live_hub.api("PUT", path, json={"location": "eastus"})
    sign_in(page, live_hub, "migrator@contoso.com")
    page.goto(live_hub.url + "/migrate/servers/")
    page.locator("#project-change summary").click()  # Change, as on the Azure portal's Servers blade
    option = page.locator("#project-select option").filter(has_text=project)
    page.get_by_label("Migrate project").select_option(option.get_attribute("value"))
    page.get_by_role("button", name="OK", exact=True).click()
    expect(page.locator("#project-name")).to_have_text(project)
    expect(page.get_by_text("No migration tool added")).to_be_visible()
