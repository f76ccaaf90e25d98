"""The Emulator blade's Faults tab, clicked as a person would: inject a fault with the form (kind, scope
found by typing part of its name, the kind's parameter), see it listed with who injected it, its scope
by name with the id beneath, and its state; see its effect (the server's health error with its id,
causes and action; the Test migrate blade's warning about a network that routes to production; the
quota-failed job with its failed step), then Clear each one and see the effect go. DOCS_SCREENSHOTS=1
saves the tab and each effect at 1400x900 into docs/screenshots/."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot, sign_in
from tests.hubs import CONTOSO, unique
from tests.test_portal_migration import SET_UP_REPLICATING_SERVER

pytestmark = [pytest.mark.browser, pytest.mark.live]

JOB_TIMEOUT_MS = 30_000
REGION_LABEL = "Contoso Production / westeurope"


@pytest.fixture
def replicating_server(live_hub):
    project, server = unique("flt")[:20], unique("app")
    output = live_hub.manage("shell", "-c", SET_UP_REPLICATING_SERVER.format(project=project, server=server))
    created = json.loads(output.strip().splitlines()[-1])
    return {"server": server, "name": project, **created}


def find_scope(page, search: str) -> None:
    """Type into Find a resource and wait for the server's answer to that text, swapped in. htmx swaps an
    answer in a moment after it arrives: a scope chosen in between was replaced by the answer's list (on
    a loaded CI machine, "This field is required" at Inject), so the test waits for the new list and for
    no request of the form in flight (the Fault's own refresh of the list included)."""
    page.locator("#scope-results").evaluate("results => { results.dataset.answered = 'before'; }")
    with page.expect_response(lambda answer: "/faults/scopes/" in answer.url and quote(search) in answer.url):
        page.locator("#inject-fault").get_by_label("Find a resource").fill(search)
    page.wait_for_function(
        """() => {
            const results = document.querySelector("#scope-results");
            return results && results.dataset.answered !== "before"
                && !document.querySelector("#inject-fault .htmx-request, #inject-fault .htmx-settling");
        }"""
    )


def inject(page, hub, kind: str, scope: str, shot: str = "", search: str = "", **parameters) -> None:
    page.goto(f"{hub.url}/emulator/portal/faults/")
    page.get_by_role("link", name="Inject fault").first.click()
    form = page.locator("#inject-fault")
    form.get_by_label("Fault").select_option(label=kind)
    find_scope(page, search or scope.split(" ")[0])
    form.get_by_label("Scope", exact=True).select_option(label=scope)
    for label, value in parameters.items():
        form.get_by_label(label).fill(value)
    if shot:
        screenshot(page, shot)
    form.get_by_role("button", name="Inject").click()
    expect(page.locator(".messages")).to_contain_text(f"Injected {kind}")


def clear_all(hub) -> None:
    """Leave the shared hub as it was, whatever the test did."""
    for fault in hub.api("GET", "/emulator/faults").json().get("value", []):
        if fault["properties"]["state"] in ("Active", "Scheduled"):
            hub.api("DELETE", f"/emulator/faults/{fault['name']}")


def test_inject_see_the_effects_and_clear_on_the_emulator_blade(live_hub, page, replicating_server):
    server, item = replicating_server["server"], replicating_server["item"]
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, live_hub)
    try:
        page.get_by_role("link", name="Emulator").first.click()
        expect(page.get_by_role("heading", name="Emulator | Faults")).to_be_visible()

        # A bad input is a message on the form, not an error page.
        page.get_by_role("link", name="Inject fault").first.click()
        form = page.locator("#inject-fault")
        form.get_by_role("button", name="Inject").click()
        expect(form.locator(".field-error").first).to_be_visible()
        # So is a search for too much, or for nothing the directory has.
        form.get_by_label("Fault").select_option(label="Key Vault access revoked")
        find_scope(page, "x" * 120)
        expect(form.locator("#scope-search-message")).to_have_text(re.compile("at most 100 characters"))
        find_scope(page, "no-such-project")
        expect(form.locator("#scope-search-message")).to_have_text(
            "No project of your directory matches “no-such-project”."
        )

        project = replicating_server["name"]
        inject(page, live_hub, "Key Vault access revoked", f"{project} (project, rg-migrate)")
        inject(page, live_hub, "Cache storage account full", f"{project} (project, rg-migrate)")
        inject(page, live_hub, "Cache storage account throttled", f"{project} (project, rg-migrate)")
        inject(
            page,
            live_hub,
            "Target quota exceeded (regional vCPUs)",
            REGION_LABEL,
            shot="emulator-inject-fault.png",
            search="Contoso",
            **{"vCPU limit of the size family in the region": "0"},
        )
        inject(page, live_hub, "Test network routes to production", "vnet-test (rg-migrate, westeurope)")
        rows = page.locator("#faults tbody tr")
        key_vault = rows.filter(has_text="Key Vault access revoked").first
        expect(key_vault).to_contain_text("Active")
        expect(key_vault).to_contain_text("admin@contoso.com")
        # Each scope by its resource's name, with the id beneath in small grey type.
        expect(key_vault.locator(".scope-name")).to_have_text(project)
        expect(key_vault.locator(".scope-id")).to_contain_text(f"/migrateprojects/{project.lower()}")
        quota = rows.filter(has_text="Target quota exceeded").first
        expect(quota.locator(".scope-name")).to_have_text(REGION_LABEL)
        expect(quota.locator(".scope-id")).to_have_text(f"/subscriptions/{CONTOSO}/locations/westeurope")
        assert quota.locator(".scope-id").evaluate("e => parseFloat(getComputedStyle(e).fontSize)") < 13
        expect(rows.filter(has_text="Test network routes to production").first.locator(".scope-name")).to_have_text(
            "vnet-test"
        )
        screenshot(page, "emulator-faults.png")

        # The server's health errors, each with its id, causes and action.
        page.goto(f"{live_hub.url}/migrate/replicating-servers/{item}/")
        health = page.locator(f"#replicating-health-{item}")
        expect(health).to_contain_text("Error 78601")
        expect(health).to_contain_text("Key Vault denies the replication key operations")
        expect(health).to_contain_text("Warning 78604")
        expect(health).to_contain_text("78602")
        expect(health).to_contain_text("78603")
        expect(health.locator(".health-error").first).to_contain_text("Recommended action")
        health.scroll_into_view_if_needed()
        # One picture of the project's and the region's faults: Key Vault, cache full, throttled, quota.
        screenshot(page, "fault-health-errors.png")

        # Test migrate warns about the network before it starts...
        page.goto(f"{live_hub.url}/migrate/replicating-servers/{item}/test-migrate/")
        test_network = page.get_by_role("radio", name=re.compile("vnet-test"))
        expect(page.locator("label.network-option").filter(has=test_network)).to_contain_text(
            "not recommended: it routes to production"
        )
        test_network.check()
        warning = page.locator("#routes-to-production-warning")
        expect(warning).to_contain_text("vnet-test has a route to your production network")
        screenshot(page, "test-migrate-routes-to-production.png")
        # ...and, the quota being used up, the job fails at its Create test virtual machine step.
        page.get_by_role("button", name="Test migration").click()
        expect(page.locator(".messages")).to_contain_text(f"Test migration of {server} started")
        page.goto(f"{live_hub.url}/jobs/")
        job = page.locator("#job-rows tr").filter(has_text=server).filter(has_text="Test migration")
        expect(job.first).to_contain_text("Failed", timeout=JOB_TIMEOUT_MS)
        job.first.get_by_role("link").click()
        expect(page.locator(".error-box")).to_contain_text("Error OperationNotAllowed")
        expect(page.locator(".error-box")).to_contain_text("Cores quota. Additional details")
        expect(page.locator("tr").filter(has_text="Create test virtual machine")).to_contain_text("Failed")
        screenshot(page, "fault-quota-failed-job.png")

        # Clear each one on the blade: the server's errors go with them.
        page.goto(f"{live_hub.url}/emulator/portal/faults/")
        for label in (
            "Key Vault access revoked",
            "Cache storage account full",
            "Cache storage account throttled",
            "Target quota exceeded",
            "Test network routes to production",
        ):
            row = page.locator("#faults tbody tr").filter(has_text=label).filter(has_text="Active").first
            row.get_by_role("button", name=re.compile("^Clear")).click()
            expect(page.locator(".messages")).to_contain_text("Cleared")
        expect(page.locator("#faults tbody tr").filter(has_text="Key Vault access revoked").first).to_contain_text(
            "Cleared"
        )
        page.goto(f"{live_hub.url}/migrate/replicating-servers/{item}/")
        expect(page.locator(f"#replicating-health-{item}")).not_to_contain_text("78601")
        expect(page.locator(f"#replicating-health-{item}")).not_to_contain_text("78604")
        expect(page.locator(f"#replicating-health-{item}")).not_to_contain_text("78602")
    finally:
        clear_all(live_hub)


ADD_SERVERS = """
import json
from replication.models import Appliance, DiscoveredServer
appliance = Appliance.objects.get(project__name={project!r}, scale_out_of__isnull=True)
DiscoveredServer.objects.bulk_create(
    DiscoveredServer(project=appliance.project, appliance=appliance, machine_id=f"bulk-{{n}}",
                     name=f"{prefix}-{{n:04d}}", os_type="Linux", os_name="Ubuntu", cores=1, memory_mb=1024)
    for n in range({count})
)
print(json.dumps(str(DiscoveredServer.objects.get(project=appliance.project, machine_id="bulk-{pick}").pk)))
"""


def test_any_of_many_servers_is_found_by_typing_its_name(live_hub, page, replicating_server):
    """A project with more servers than any list may hold: the scope is found by name (the list shows a
    bounded page and says there are more), injected, and named on the Faults tab with its id beneath."""
    project, prefix = replicating_server["name"], unique("many")[:12]
    server_id = json.loads(
        live_hub.manage("shell", "-c", ADD_SERVERS.format(project=project, prefix=prefix, count=600, pick=577))
        .strip()
        .splitlines()[-1]
    )
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, live_hub)
    try:
        page.goto(f"{live_hub.url}/emulator/portal/faults/?new=1")
        form = page.locator("#inject-fault")
        form.get_by_label("Fault").select_option(label="Disk read errors")
        find_scope(page, prefix)
        expect(form.locator("#scope-search-message")).to_contain_text("More resources match than are shown")
        expect(form.locator("#id_scope option")).to_have_count(50)
        find_scope(page, f"{prefix}-0577")
        expect(form.locator("#id_scope option")).to_have_count(1)
        # Enter in the search box searches again; it does not submit the form half filled.
        with page.expect_response(lambda answer: "/faults/scopes/" in answer.url):
            form.get_by_label("Find a resource").press("Enter")
        expect(form.locator("#id_scope option")).to_have_count(1)
        expect(form.locator(".field-error")).to_have_count(0)
        form.get_by_label("Scope", exact=True).select_option(label=f"{prefix}-0577 (server, {project})")
        screenshot(page, "emulator-inject-fault-search.png")
        form.get_by_role("button", name="Inject").click()
        expect(page.locator(".messages")).to_contain_text(f"Injected Disk read errors on {prefix}-0577")
        row = page.locator("#faults tbody tr").filter(has_text="Disk read errors").first
        expect(row.locator(".scope-name")).to_have_text(f"{prefix}-0577")
        expect(row.locator(".scope-id")).to_contain_text(f"/replicationprotectableitems/{server_id}")
    finally:
        clear_all(live_hub)
