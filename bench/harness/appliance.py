"""A replication appliance prepared through the portal as a user does: project, Create resources,
installer and registration key downloaded, then `setup --key ...`, which registers and starts serving."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from harness.hub import ADMIN, create_server_migration_project
from tests.hubs import free_port
from tests.test_isolation import csrf, portal_session


@dataclass
class Appliance:
    process: subprocess.Popen
    folder: Path  # the unpacked installer: setup, genpassphrase, agent/
    home: Path
    appliance_id: str
    listen: str  # host:port it serves on
    log: Path


def prepare_appliance(hub, workdir: Path, project: str, *, hub_url: str, heartbeat_seconds: float) -> Appliance:
    """The appliance of a new project `project`, talking to the hub at hub_url (a proxy, say)."""
    path = create_server_migration_project(hub, project)
    session = portal_session(hub, ADMIN)
    query = f"?project={quote(path, safe='')}"
    installer = session.get(f"{hub.url}/migrate/discover/appliance-installer/{query}", timeout=30)
    key = session.post(f"{hub.url}/migrate/discover/registration-key/{query}", data=csrf(session), timeout=30)
    if installer.status_code != 200 or not key.headers.get("Content-Type", "").startswith("application/json"):
        raise RuntimeError(f"installer {installer.status_code}, key {key.status_code}: {key.text[:300]}")
    session.close()
    with tarfile.open(fileobj=io.BytesIO(installer.content)) as archive:
        archive.extractall(workdir, filter="data")
    key_file = workdir / "appliance.key"
    key_file.write_bytes(key.content)
    folder, home, log_path = workdir / "MigrateHubAppliance", workdir / "appliance-home", workdir / "appliance.log"
    listen = f"127.0.0.1:{free_port()}"
    log = open(log_path, "w")  # noqa: SIM115 (lives as long as the process)
    process = subprocess.Popen(
        [
            str(folder / "setup"),
            "--key", str(key_file),
            "--listen", listen,
            "--home", str(home),
            "--name", "bench-appliance",
            "--hub", hub_url,
            "--heartbeat-seconds", str(heartbeat_seconds),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "listening on" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"The appliance did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    registration = json.loads((home / "appliance.json").read_text())
    return Appliance(process, folder, home, registration["applianceId"], listen, log_path)


def passphrase_file(appliance: Appliance, workdir: Path) -> Path:
    """The appliance's passphrase (`genpassphrase -v`) in a file, for the agents that register with it."""
    shown = subprocess.run(
        [str(appliance.folder / "genpassphrase"), "-v", "--home", str(appliance.home)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if shown.returncode != 0 or not shown.stdout.strip():
        raise RuntimeError(f"genpassphrase -v failed: {shown.stderr}")
    path = workdir / "passphrase.txt"
    path.write_text(shown.stdout)
    return path
