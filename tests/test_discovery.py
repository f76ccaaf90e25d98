"""Install the Mobility service from the appliance's repository with the tutorial's commands; the
Discovered servers count rises live; a regenerated passphrase disconnects agents until they
register again."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.appliances import download_installer_and_key, launch_appliance, project_with_resources
from tests.conftest import sign_in
from tests.hubs import free_port, unique

pytestmark = [pytest.mark.browser, pytest.mark.live]

WINDOWS_PROFILE = {
    "machineId": "sim-win-web-01",
    "hostName": "WIN-WEB01",
    "osType": "Windows",
    "osName": "Windows Server 2016 Datacenter",
    "osVersion": "10.0.14393",
    "architecture": "x86_64",
    "cores": 4,
    "memoryMB": 8192,
    "firmware": "BIOS",
    "nics": [{"nicId": "nic0", "ipAddresses": ["10.1.0.21"], "isPrimary": True}],
    "disks": [
        {"diskId": "disk0", "sizeBytes": 128 * 1024**3, "isOsDisk": True},
        {"diskId": "disk1", "sizeBytes": 512 * 1024**3},
    ],
}


def run(*command, **kwargs) -> subprocess.CompletedProcess:
    # In a scratch folder, so a relative path in a command can never land in the repository.
    kwargs.setdefault("cwd", Path(str(command[0])).parent)
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=60, **kwargs)


def stop_service(prefix: Path) -> None:
    pid_file = prefix / "Vx" / "var" / "svagents.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)


def fetch_installer(repository: str, os_name: str, folder: Path) -> Path:
    """Find the installer for an OS in the appliance's repository listing and unpack it."""
    listing = urllib.request.urlopen(repository + "/").read().decode()
    names = [part.split('"')[0].rsplit("/", 1)[1] for part in listing.split('href="')[1:]]
    name = next(n for n in names if f"_{os_name}_" in n)
    tarball = folder.parent / name
    tarball.write_bytes(urllib.request.urlopen(f"{repository}/{name}").read())
    folder.mkdir()
    with tarfile.open(tarball) as archive:
        archive.extractall(folder, filter="data")
    return folder


def discovered_rows(page, project_path: str, hub) -> str:
    page.goto(f"{hub.url}/migrate/discovered-servers/?project={quote(project_path, safe='')}")
    return page.locator("#discovered-servers").inner_text()


def test_agents_register_through_the_appliance_and_are_discovered_live(live_hub, browser, tmp_path):
    _, path = project_with_resources(live_hub, "disco")

    page = browser.new_context(accept_downloads=True).new_page()
    sign_in(page, live_hub)
    page.goto(f"{live_hub.url}/migrate/discover/?project={quote(path, safe='')}")
    key_file = download_installer_and_key(page, tmp_path)
    folder, home, port = tmp_path / "MigrateHubAppliance", tmp_path / "appliance-home", free_port()
    appliance = launch_appliance(folder, key_file, home, port, unique("cs"), "--agent-silent-seconds", "30")
    prefixes = [tmp_path / "linux-asr", tmp_path / "windows-asr"]
    try:
        passphrase_file = tmp_path / "passphrase.txt"
        passphrase_file.write_text(run(folder / "genpassphrase", "-v", "--home", home).stdout)

        page.goto(f"{live_hub.url}/migrate/servers/?project={quote(path, safe='')}")
        expect(page.locator("body")).to_have_attribute("data-live", "connected")
        expect(page.locator("#discovered-count")).to_have_text("0")
        page.evaluate("window.notReloaded = true")

        # The repository on the appliance, as an HTTP listing.
        repository = f"http://127.0.0.1:{port}/pushinstallsvc/repository"
        installer_dir = fetch_installer(repository, "Linux", tmp_path / "MobSvcInstaller")
        windows_dir = fetch_installer(repository, "Windows", tmp_path / "Extracted")

        # Linux, the tutorial's commands (into a prefix of our own, unprivileged), reporting this machine.
        installed = run(installer_dir / "install", "-r", "MS", "-q", "-d", prefixes[0])
        assert installed.returncode == 0, installed.stderr
        wrong = tmp_path / "wrong.txt"
        wrong.write_text("not-the-passphrase\n")
        configurator = prefixes[0] / "Vx" / "bin" / "UnifiedAgentConfigurator.sh"
        refused = run(configurator, "-i", f"127.0.0.1:{port}", "-P", wrong)
        assert refused.returncode == 1 and "The passphrase does not match" in refused.stderr
        env = {**os.environ, "AGENT_HEARTBEAT_SECONDS": "1"}
        linux = run(configurator, "-i", f"127.0.0.1:{port}", "-P", passphrase_file, env=env)
        assert linux.returncode == 0, linux.stderr

        # Windows flags, rehearsed on Linux, reporting a simulated Windows Server.
        profile = tmp_path / "win-web01.json"
        profile.write_text(json.dumps(WINDOWS_PROFILE))
        assert (
            run(windows_dir / "UnifiedAgent.exe", "/Role", "MS", "/Silent", "/InstallLocation", prefixes[1]).returncode
            == 0
        )
        windows = run(
            prefixes[1] / "Vx" / "bin" / "UnifiedAgentConfigurator.exe",
            "/CSEndPoint",
            f"127.0.0.1:{port}",
            "/PassphraseFilePath",
            passphrase_file,
            "/Profile",
            profile,
            env=env,
        )
        assert windows.returncode == 0, windows.stderr

        # The count rises in the open page, without a reload, once the discovery delay has passed.
        expect(page.locator("#discovered-count")).to_have_text("2", timeout=15_000)
        assert page.evaluate("window.notReloaded") is True

        page.locator("#discovered-count").get_by_role("link", name="2").click()
        expect(page.get_by_role("heading", name="Azure Migrate: Server Migration | Discovered servers")).to_be_visible()
        rows = page.locator("#discovered-servers").inner_text()
        assert (
            "WIN-WEB01" in rows and "Windows Server 2016 Datacenter" in rows and "687.2 GB" in rows
        )  # 640 GiB, in the decimal units the portal writes
        assert rows.count("Connected") == 2

        # A new passphrase cuts both agents off, and the portal says why.
        run(folder / "genpassphrase", "-g", "--home", home)
        for _ in range(40):
            if discovered_rows(page, path, live_hub).count("Disconnected") == 2:
                break
            time.sleep(0.25)
        expect(page.locator("#discovered-servers")).to_contain_text("The appliance's passphrase was regenerated")
        passphrase_file.write_text(run(folder / "genpassphrase", "-v", "--home", home).stdout)
        assert run(configurator, "-i", f"127.0.0.1:{port}", "-P", passphrase_file, "--no-service").returncode == 0
        for _ in range(40):
            if discovered_rows(page, path, live_hub).count("Connected") >= 1:
                break
            time.sleep(0.25)
        rows = discovered_rows(page, path, live_hub)
        assert rows.count("Disconnected") == 1, "the Windows agent still needs to register again"
        assert page.locator("#discovered-servers tbody tr").count() == 2, "registering again is the same server"
    finally:
        for prefix in prefixes:
            stop_service(prefix)
        appliance.terminate()
        appliance.wait(timeout=10)
