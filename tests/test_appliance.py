"""The replication appliance as a real program: downloaded through the portal, unpacked, set up with
the registration key, registered, finalized, heartbeating; its passphrase shown by genpassphrase -v."""

from __future__ import annotations

import subprocess
import time
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.appliances import download_installer_and_key, launch_appliance, project_with_resources
from tests.conftest import sign_in
from tests.hubs import free_port, unique
from tests.test_isolation import csrf, portal_session

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_an_appliance_from_the_portal_registers_heartbeats_and_is_finalized(live_hub, page, tmp_path):
    project, path = project_with_resources(live_hub, "appl")

    sign_in(page, live_hub)
    page.goto(f"{live_hub.url}/migrate/discover/?project={quote(path, safe='')}")
    key_file = download_installer_and_key(page, tmp_path)
    folder = tmp_path / "MigrateHubAppliance"
    assert {"setup", "run", "genpassphrase", "README.txt"} <= {p.name for p in folder.iterdir()}

    home, port, name = tmp_path / "home", free_port(), unique("appliance")
    appliance = launch_appliance(folder, key_file, home, port, name)
    try:
        output = appliance.setup_output
        assert "Key for project " + project in output
        passphrase = output.split("Passphrase for agents: ")[1].split()[0]
        shown = subprocess.run(
            [folder / "genpassphrase", "-v", "--home", home], capture_output=True, text=True, check=True
        )
        assert shown.stdout.strip() == passphrase

        page.reload()
        page.get_by_label("Select Configuration Server").select_option(label=name)
        page.get_by_role("button", name="Finalize registration").click()
        row = page.locator("#appliances tr").filter(has_text=name)
        for _ in range(40):
            if "Connected" in row.inner_text():
                break
            time.sleep(0.25)
            page.reload()
        expect(row).to_contain_text("Connected")
        expect(row).to_contain_text("Normal")
        expect(row).to_contain_text("configurationServer: Running")
        expect(row).to_contain_text(f"127.0.0.1:{port}")
    finally:
        appliance.terminate()
        appliance.wait(timeout=10)

    # Heartbeats stopped; fifteen minutes later (on the emulator's clock) the appliance is in Warning.
    operator = portal_session(live_hub, "admin@contoso.com")
    try:
        operator.post(f"{live_hub.url}/emulator/clock", data={"action": "advance", "duration": "16m", **csrf(operator)})
        page.reload()
        expect(row).to_contain_text("Warning")
        expect(row).to_contain_text("No heartbeat for more than 15 minutes")
        operator.post(f"{live_hub.url}/emulator/clock", data={"action": "advance", "duration": "5d", **csrf(operator)})
        again = subprocess.run(
            [
                folder / "setup",
                "--key",
                key_file,
                "--listen",
                f"127.0.0.1:{port}",
                "--home",
                tmp_path / "home2",
                "--no-start",
            ],
            capture_output=True,
            text=True,
        )
        assert again.returncode == 1
        assert "The registration key expired on" in again.stderr
    finally:
        operator.post(f"{live_hub.url}/emulator/clock", data={"action": "reset", **csrf(operator)})
