"""The Capacity planner and the Migrate page's downtime forecast, clicked as a person would: Azure Migrate >
Manage > Capacity planner, declare the bandwidth and a server's churn, Plan, read the figures, Export CSV;
then Replicating machines > the server's "..." > Migrate shows the expected downtime with shutdown.
DOCS_SCREENSHOTS=1 saves the planner's screenshot (1400x900) into docs/screenshots/."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot, sign_in
from tests.test_portal_migration import replicating_server  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_plan_export_csv_and_see_the_downtime_forecast(live_hub, page, replicating_server):  # noqa: F811
    server, project = replicating_server["server"], replicating_server["project"]
    sign_in(page, live_hub)
    page.goto(f"{live_hub.url}/migrate/replicating-servers/?project={quote(project, safe='')}")
    page.get_by_role("navigation", name="Azure Migrate menu").get_by_role("link", name="Capacity planner").click()
    expect(page.get_by_role("heading", name="Azure Migrate: Server Migration | Capacity planner")).to_be_visible()
    # Nothing declared yet, and the appliance has no cap: the plan says the bandwidth is unknown.
    expect(page.locator("#planner-figures")).to_contain_text("no upload bandwidth is known")

    page.get_by_label("Upload bandwidth (Mbps)").fill("100")
    page.get_by_label("RPO target (minutes)").fill("15")
    page.get_by_label(f"Churn of {server} in MB/s").fill("2")
    page.get_by_role("button", name="Plan", exact=True).click()
    figures = page.locator("#planner-figures")
    expect(figures.locator("tr", has_text="Upload bandwidth")).to_contain_text("100.0 Mbps (12.50 MB/s), declared")
    expect(figures.locator("tr", has_text="Churn (sum")).to_contain_text("16.0 Mbps (2.00 MB/s)")
    expect(figures.locator("tr", has_text="Time to complete initial replication")).not_to_contain_text("Never")
    expect(figures.locator("tr", has_text="One appliance suffices")).to_contain_text("Yes: 1 of 200 machines")
    expect(page.locator("#planner-figures-servers tr", has_text=server)).to_contain_text("declared")
    screenshot(page, "capacity-planner.png", docs_size=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("replication-plan-")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
    figures_csv = dict(row for row in rows if len(row) == 2)
    assert figures_csv["Upload bandwidth"].startswith("100.0 Mbps")
    assert any(row and row[0] == server and row[4] == "2.000" for row in rows)

    # Unticking the only server leaves nothing to plan, and the export says why it is unavailable.
    page.get_by_label(f"Plan {server}").uncheck()
    page.get_by_role("button", name="Plan", exact=True).click()
    expect(page.locator("#planner-empty")).to_contain_text("Select at least one server")

    # The Migrate page forecasts the downtime of a Migrate with shutdown.
    page.get_by_role("navigation", name="Azure Migrate menu").get_by_role("link", name="Replicating machines").click()
    row = page.locator("#replicating-servers tr").filter(has_text=server)
    row.get_by_role("button", name=f"More actions for {server}").click()
    page.get_by_role("menu", name=f"Actions for {server}").get_by_role("menuitem", name="Migrate", exact=True).click()
    forecast = page.locator("#cutover-forecast")
    expect(forecast).to_contain_text("Expected downtime with shutdown")
    expect(forecast.locator("#cutover-forecast-steps")).to_contain_text("Create and start the Azure VM")
    expect(forecast.locator("#cutover-forecast-steps")).to_contain_text("Final replication")
    screenshot(page, "migrate-cutover-forecast.png", docs_size=True)
