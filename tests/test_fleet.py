"""The fleet simulator fills a project with realistic, varied servers through a real appliance."""

from __future__ import annotations

import subprocess
import time
from urllib.parse import quote

import pytest

from tests.appliances import start_appliance
from tests.test_isolation import portal_session

pytestmark = pytest.mark.live


def test_a_fleet_registers_through_the_appliance_and_is_discovered(live_hub, tmp_path):
    appliance = start_appliance(live_hub, tmp_path)
    try:
        passphrase = appliance.passphrase_file(tmp_path / "pass.txt")
        fleet = appliance.folder / "agent" / "fleet"
        command = [
            fleet,
            "--appliance",
            f"127.0.0.1:{appliance.port}",
            "--passphrase-file",
            passphrase,
            "--count",
            "12",
        ]
        first = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        assert "Registered 12 of 12 simulated agents" in first.stdout
        again = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, "running it again updates the same servers"

        session = portal_session(live_hub, "admin@contoso.com")
        url = f"{live_hub.url}/migrate/discovered-servers/?project={quote(appliance.project_path, safe='')}"
        for _ in range(40):
            page = session.get(url, timeout=10).text
            if page.count('<tr id="server-') == 12:
                break
            time.sleep(0.25)
        assert page.count('<tr id="server-') == 12
        for expected in ("Windows Server 2019 Standard", "Ubuntu 20.04", "Red Hat Enterprise Linux 8.6", "SQL-0005"):
            assert expected in page

        wrong = tmp_path / "wrong.txt"
        wrong.write_text("nope")
        refused = subprocess.run(
            [
                fleet,
                "--appliance",
                f"127.0.0.1:{appliance.port}",
                "--passphrase-file",
                wrong,
                "--count",
                "1",
                "--prefix",
                "x",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1 and "The passphrase does not match" in refused.stderr
    finally:
        appliance.stop()


def test_a_malformed_inventory_is_refused_with_the_field_named(live_hub, tmp_path):
    appliance = start_appliance(live_hub, tmp_path)
    try:
        import json
        import urllib.error
        import urllib.request

        passphrase = appliance.passphrase_file(tmp_path / "pass.txt").read_text().strip()
        body = {
            "machineId": "bad-1",
            "passphrase": passphrase,
            "machine": {"hostName": "bad", "osType": "Solaris", "osName": "x", "cores": 0, "memoryMB": 1, "disks": []},
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{appliance.port}/agent-api/v1/register",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        error = json.loads(refused.value.read())["error"]
        assert refused.value.code == 400
        assert error["code"] == "InvalidRequestContent" and "machine." in error["message"]
    finally:
        appliance.stop()
