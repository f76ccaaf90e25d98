"""A blade whose work ends before its websocket is open still moves on, without a reload.

The frozen blades of issue 13 were a race: a page rendered while a job ran, the job ended and its push
went out before the page's socket had subscribed, and nothing ever told the page. Here the socket is
held back on purpose until the job has ended: what was pushed meanwhile reached nobody, and the page
must read its live parts again when the socket opens (static/hub/live.js)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import sign_in
from tests.replication_rig import wait_for
from tests.test_portal_project_in_view import JOB_TIMEOUT_MS, project_through_arm

pytestmark = [pytest.mark.browser, pytest.mark.live]

# The page's WebSocket connects only once the test calls window.releaseSocket().
HOLD_SOCKET = """
(() => {
  const RealWebSocket = window.WebSocket;
  let held = [];
  window.releaseSocket = () => { window.socketReleased = true; held.forEach((start) => start()); held = []; };
  window.WebSocket = class {
    constructor(url) {
      const start = () => {
        const real = new RealWebSocket(url);
        real.onopen = (event) => this.onopen && this.onopen(event);
        real.onmessage = (event) => this.onmessage && this.onmessage(event);
        real.onclose = (event) => this.onclose && this.onclose(event);
      };
      if (window.socketReleased) start(); else held.push(start);
    }
  };
})();
"""


def test_discover_shows_resources_created_before_its_socket_opened(live_hub, page):
    project, path = project_through_arm(live_hub, "held")
    sign_in(page, live_hub)
    page.goto(f"{live_hub.url}/migrate/servers/")
    page.locator("#project-change summary").click()
    option = page.locator("#project-select option").filter(has_text=project)
    page.get_by_label("Migrate project").select_option(option.get_attribute("value"))
    page.get_by_role("button", name="OK", exact=True).click()
    page.locator("#tool-server-migration").get_by_role("link", name="Discover").click()

    page.add_init_script(HOLD_SOCKET)  # from the next page on: the one Create resources returns to
    page.get_by_label("Not virtualized/Other").check()
    page.get_by_label(re.compile(r"^Confirm that the target region for migration is ")).check()
    page.get_by_role("button", name="Create resources").click()
    expect(page.locator("#region-locked")).to_be_visible()
    page.evaluate("window.notReloaded = true")

    # The job creates the resources (its pushes reach no socket of this page), then the socket opens.
    solution = f"{path}/solutions/Servers-Migration-ServerMigration"
    wait_for(
        lambda: live_hub.api("GET", solution).json()["properties"]["details"].get("extendedDetails", {}),
        lambda details: details.get("storageAccountId"),
        seconds=JOB_TIMEOUT_MS / 1000,
    )
    expect(page.locator("#install-appliance")).to_have_count(0)
    assert page.evaluate("window.socketReleased") is None
    page.evaluate("window.releaseSocket()")
    expect(page.locator("body")).to_have_attribute("data-live", "connected")

    expect(page.locator("#install-appliance")).to_be_visible()
    expect(page.locator("#migration-resources")).not_to_contain_text("Pending")
    expect(page.locator("#creating-resources")).to_have_count(0, timeout=JOB_TIMEOUT_MS)
    assert page.evaluate("window.notReloaded") is True
