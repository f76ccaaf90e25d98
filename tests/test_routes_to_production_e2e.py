"""Test migration into a network that has a route to production (issue 15), with the real appliance and
Mobility service replicating a disk image: the fault is injected through `/emulator/faults` on the rig's
test network; the Test migrate page warns before it starts; once the test VM exists the server carries
health warning 78605 (its causes and action) in the portal and through the Site Recovery SDK, and that
warning goes with "Clean up test migration". Replication carries on throughout: the replica at its
latest recovery point still equals the source. DOCS_SCREENSHOTS=1 saves the server's blade with the
warning at 1400x900."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot, sign_in
from tests.disk_images import change_blocks, sha256_of
from tests.replication_rig import VNET, enable_replication, one_disk_rig, wait_for, wait_for_state

pytestmark = [pytest.mark.browser, pytest.mark.live]

JOB_TIMEOUT_MS = 60_000
CODE = "78605"


def health_codes(rig) -> dict:
    return {error.error_code: error for error in rig.item().properties.health_errors or []}


def open_row_menu(page, server: str):
    row = page.locator("#test-migrated-servers tr").filter(has_text=server)
    row.get_by_role("button", name=f"More actions for {server}").click()
    return page.get_by_role("menu", name=f"Actions for {server}")


def test_a_test_vm_in_a_network_routing_to_production_is_warned_of_until_cleaned_up(live_hub, page, tmp_path):
    rig, image = one_disk_rig(live_hub, tmp_path, 4, seed=61)
    fault = None
    try:
        enable_replication(rig)
        wait_for_state(rig, "Replicating")
        rig.wait_until_replica_equals("disk0", sha256_of(image))
        server, item = rig.host_name, rig.item_id

        injected = live_hub.api(
            "POST",
            "/emulator/faults",
            json={"properties": {"kind": "networkRoutesToProduction", "scope": f"{VNET}/vnet-test"}},
        )
        assert injected.status_code == 201, injected.text
        fault = injected.json()["name"]
        assert CODE not in health_codes(rig), "no test VM yet: nothing runs in the network"

        # Before it starts: the Test migrate page warns of the network.
        page.set_viewport_size({"width": 1400, "height": 900})
        sign_in(page, live_hub)
        page.goto(f"{live_hub.url}/migrate/replicating-servers/{item}/test-migrate/")
        test_network = page.get_by_role("radio", name=re.compile("vnet-test"))
        expect(page.locator("label.network-option").filter(has=test_network)).to_contain_text(
            "not recommended: it routes to production"
        )
        test_network.check()
        expect(page.locator("#routes-to-production-warning")).to_contain_text(
            "vnet-test has a route to your production network"
        )
        page.get_by_role("button", name="Test migration").click()
        expect(page.locator(".messages")).to_contain_text(f"Test migration of {server} started", timeout=JOB_TIMEOUT_MS)

        # While the test VM exists: the health warning, in the portal and through the SDK.
        tested = f"{live_hub.url}/migrate/test-migrated-servers/?project={quote(rig.appliance.project_path, safe='')}"
        page.goto(tested)
        row = page.locator("#test-migrated-servers tr").filter(has_text=server)
        expect(row.locator(".test-state")).to_contain_text("Test clean up pending", timeout=JOB_TIMEOUT_MS)
        error = wait_for(lambda: health_codes(rig), lambda codes: CODE in codes, 60, "the server's health")[CODE]
        assert error.error_level == "Warning" and "vnet-test" in error.summary_message
        assert error.possible_causes and error.recommended_action == (
            "Clean up the test migration, and test again in an isolated virtual network."
        )
        page.goto(f"{live_hub.url}/migrate/replicating-servers/{item}/")
        health = page.locator(f"#replicating-health-{item}")
        expect(health).to_contain_text(f"Warning {CODE}")
        expect(health).to_contain_text(f"{server}-Test runs in vnet-test, which has a route to production")
        expect(health).to_contain_text("Clean up the test migration")
        # Scrolled only for the picture: a live push may redraw the part meanwhile, which the expects
        # above ride out but a scroll of the element found does not.
        screenshot(page, "fault-routes-to-production-health.png", showing=health)

        # Replication goes on beside the test VM.
        change_blocks(image, 8, seed=62)
        rig.wait_until_replica_equals("disk0", sha256_of(image))

        # Clean up test migration: the test VM goes, and the warning with it, the fault still in force.
        page.goto(tested)
        open_row_menu(page, server).get_by_role("menuitem", name="Clean up test migration").click()
        page.get_by_role("button", name="Clean up test migration").click()
        row = page.locator("#test-migrated-servers tr").filter(has_text=server)
        expect(row).to_contain_text("Succeeded (cleaned up)", timeout=JOB_TIMEOUT_MS)
        wait_for(lambda: health_codes(rig), lambda codes: CODE not in codes, 60, "the server's health")
        page.goto(f"{live_hub.url}/migrate/replicating-servers/{item}/")
        expect(page.locator(f"#replicating-health-{item}")).not_to_contain_text(CODE)
        state = live_hub.api("GET", f"/emulator/faults/{fault}").json()["properties"]["state"]
        assert state == "Active"
    finally:
        if fault is not None:
            live_hub.api("DELETE", f"/emulator/faults/{fault}")
        rig.stop()
