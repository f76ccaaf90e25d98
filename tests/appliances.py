"""A running replication appliance for tests: project, resources, installer and key through the portal
(over HTTP, as a browser would fetch them), then the real appliance process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.hubs import CONTOSO, free_port, unique
from tests.test_isolation import create_resources, csrf, portal_session

# The appliance's process server needs zstandard and cryptography, which the system python3 may
# lack: its scripts run the Python named here, and every appliance the tests start inherits it.
os.environ.setdefault("APPLIANCE_PYTHON", sys.executable)


def wait_for_line(process: subprocess.Popen, text: str, seconds: float = 30) -> list[str]:
    lines, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"never printed {text!r}:\n{''.join(lines)}")


@dataclass
class RunningAppliance:
    project_path: str
    folder: Path
    home: Path
    port: int
    process: subprocess.Popen

    def passphrase_file(self, path: Path) -> Path:
        shown = subprocess.run(
            [self.folder / "genpassphrase", "-v", "--home", self.home], capture_output=True, text=True
        )
        path.write_text(shown.stdout)
        return path

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def launch_appliance(
    folder: Path,
    key_file: Path,
    home: Path,
    port: int,
    name: str,
    *extra,
    heartbeat_seconds: float = 1,
    env: dict | None = None,
) -> subprocess.Popen:
    """Run the unpacked installer's setup with a key; returns once the appliance is listening."""
    command = [folder / "setup", "--key", key_file, "--listen", f"127.0.0.1:{port}", "--home", home, "--name", name]
    command += ["--heartbeat-seconds", str(heartbeat_seconds), *extra]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=home.parent,
        env={**os.environ, **(env or {})},
    )
    process.setup_output = "".join(wait_for_line(process, "listening on"))
    return process


def project_with_resources(hub, prefix: str) -> tuple[str, str]:
    """A new Contoso project in rg-migrate, its name starting with `prefix`, with Server Migration
    registered and its resources created; returns its name and ARM path."""
    project = unique(prefix)[:20]
    path = f"/subscriptions/{CONTOSO}/resourceGroups/rg-migrate/providers/Microsoft.Migrate/migrateProjects/{project}"
    hub.api("PUT", path, json={"location": "westeurope"})
    hub.api("POST", f"{path}/registerTool", json={"tool": "ServerMigration"})
    create_resources(hub, path)
    return project, path


def download_installer_and_key(page, folder: Path) -> Path:
    """On the portal's Discover page: download the appliance installer and unpack it into `folder` (as
    folder/MigrateHubAppliance), and the registration key, saved there under its suggested name;
    returns the key file."""
    with page.expect_download() as installer_download:
        page.locator("#download-installer").click()
    with page.expect_download() as key_download:
        page.get_by_role("button", name="Download").click()
    key_file = folder / key_download.value.suggested_filename
    key_download.value.save_as(key_file)
    with tarfile.open(installer_download.value.path()) as archive:
        archive.extractall(folder, filter="data")
    return key_file


def start_appliance(hub, tmp_path: Path, heartbeat_seconds: float = 1, env: dict | None = None) -> RunningAppliance:
    _, path = project_with_resources(hub, "fleet")
    session = portal_session(hub, "admin@contoso.com")
    query = f"?project={quote(path, safe='')}"
    installer = session.get(f"{hub.url}/migrate/discover/appliance-installer/{query}", timeout=30)
    key = session.post(f"{hub.url}/migrate/discover/registration-key/{query}", data=csrf(session), timeout=30)
    assert key.headers["Content-Type"].startswith("application/json"), key.text[:300]
    with tarfile.open(fileobj=io.BytesIO(installer.content)) as archive:
        archive.extractall(tmp_path, filter="data")
    key_file = tmp_path / "appliance.key"
    key_file.write_bytes(key.content)
    folder, home, port = tmp_path / "MigrateHubAppliance", tmp_path / "appliance-home", free_port()
    process = launch_appliance(folder, key_file, home, port, unique("cs"), heartbeat_seconds=heartbeat_seconds, env=env)
    return RunningAppliance(path, folder, home, port, process)
