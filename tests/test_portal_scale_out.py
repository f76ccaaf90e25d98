"""Replicate through a scale-out process server, clicked as a person would (issue 14, item 5): a real
appliance, a second appliance program installed with `setup --scale-out`, a server discovered by the
fleet simulator; in Replicate's Source settings the person chooses the scale-out process server as the
Process Server (as in Azure's wizard), and the server replicates through it (the API's processServerId).
DOCS_SCREENSHOTS=1 also saves the Source settings tab (1400x900) into docs/screenshots/."""

from __future__ import annotations

import json
import subprocess

import pytest
from playwright.sync_api import expect

from replication.tests.plans import machine_profile
from tests.appliances import launch_appliance, start_appliance
from tests.conftest import screenshot, sign_in
from tests.hubs import free_port, unique
from tests.test_arm_site_recovery import vault_name
from tests.test_portal_replicate import fill_target_settings, finalize, open_replicate, search, wait_until_discovered

pytestmark = [pytest.mark.browser, pytest.mark.live]

GIB = 1024**3
ITEMS = "replicationFabrics/migrate-fabric/replicationProtectionContainers/migrate-container/replicationMigrationItems"


def test_a_person_chooses_the_scale_out_process_server_in_replicate(live_hub, tmp_path, context):
    appliance = start_appliance(live_hub, tmp_path)
    scale_out = None
    try:
        finalize(live_hub, appliance.project_path)
        configuration_server = json.loads((appliance.home / "appliance.json").read_text())["name"]
        process_server = unique("ps")
        scale_out = launch_appliance(
            appliance.folder,
            tmp_path / "appliance.key",
            tmp_path / "scale-out-home",
            free_port(),
            process_server,
            "--scale-out",
            "--configuration-server",
            configuration_server,
        )
        profiles = tmp_path / "profiles"
        profiles.mkdir()
        profile = machine_profile("app", "Linux", "Ubuntu 22.04", disk_bytes=(32 * GIB, 16 * GIB))
        (profiles / "app.json").write_text(json.dumps(profile))
        prefix = f"s{unique('')[1:5]}-"
        fleet = subprocess.run(
            [
                appliance.folder / "agent" / "fleet",
                *("--appliance", f"127.0.0.1:{appliance.port}"),
                *("--passphrase-file", appliance.passphrase_file(tmp_path / "pass.txt")),
                *("--count", "1", "--profiles", profiles, "--prefix", prefix),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert fleet.returncode == 0, fleet.stderr
        wait_until_discovered(live_hub, appliance.project_path, 1)
        server = f"{prefix}app-0001"

        page = context.new_page()
        page.set_viewport_size({"width": 1400, "height": 900})
        sign_in(page, live_hub)
        open_replicate(page, live_hub, appliance.project_path)
        page.get_by_label("No (physical or other)").check()
        choice = page.get_by_label("Process Server")
        expect(choice.locator("option")).to_have_text(
            [f"{configuration_server} (process server)", f"{process_server} (scale-out process server)"]
        )
        choice.select_option(label=f"{process_server} (scale-out process server)")
        page.get_by_label("Guest credentials").select_option(label="Add new credentials")
        page.get_by_label("Friendly name").fill("scale-out")
        page.get_by_label("User name").fill("root")
        page.get_by_label("Password", exact=True).fill("dummy-Passw0rd")
        screenshot(page, "replicate-scale-out-process-server.png")
        page.get_by_role("button", name="Next: Virtual machines").click()
        search(page, server)
        page.get_by_label(f"Select {server}").check()
        page.get_by_role("button", name="Next: Target settings").click()
        fill_target_settings(page)
        page.get_by_role("button", name="Next: Compute").click()
        page.get_by_role("button", name="Next: Disks").click()
        page.get_by_role("button", name="Next: Review and start replication").click()
        expect(page.locator("#review-settings")).to_contain_text(process_server)
        page.get_by_role("button", name="Replicate", exact=True).click()
        expect(page.get_by_role("heading", name="Azure Migrate | Servers")).to_be_visible()
        page.locator("#bell summary").click()
        expect(page.locator("#notification-list .notification", has_text=server)).to_contain_text(
            "Replication started", timeout=45_000
        )

        # The server replicates through the scale-out process server, as the API shows it.
        vault = vault_name(live_hub, appliance.project_path)
        group = appliance.project_path.split("/providers/")[0]
        vault_path = f"{group}/providers/Microsoft.RecoveryServices/vaults/{vault}"
        fabric = live_hub.api("GET", f"{vault_path}/replicationFabrics/migrate-fabric").json()
        (chosen,) = [
            ps["id"] for ps in fabric["properties"]["customDetails"]["processServers"] if ps["name"] == process_server
        ]
        items = live_hub.api("GET", f"{vault_path}/{ITEMS}").json()["value"]
        (item,) = [item for item in items if item["properties"]["machineName"] == server]
        assert item["properties"]["providerSpecificDetails"]["processServerId"] == chosen
    finally:
        if scale_out is not None:
            scale_out.terminate()
            scale_out.wait(timeout=10)
        appliance.stop()
