"""A running replication appliance for tests, set up as automation does it, through the ARM API only
(docs/api.md, "The portal's steps as API calls"): the project, Create resources (the vault through
RecoveryServicesClient, the Key Vault and storage account PUTs, the solution's update), the key from
the vault certificate call and the installer from the signed link getConfig hands out; then the real
appliance process. The portal's own buttons are clicked in test_tutorial_e2e and test_portal_discover."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.azure_clients import recovery_services_client
from tests.hubs import CONTOSO, free_port, unique

RG_PATH = f"/subscriptions/{CONTOSO}/resourceGroups/rg-migrate"
SOLUTION = "solutions/Servers-Migration-ServerMigration"

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


def create_resources_through_arm(hub, project_path: str, region: str = "westeurope") -> str:
    """Discover > Create resources as Azure's portal sends it: the vault (RecoveryServicesClient), the
    Key Vault and the cache storage account PUTs, then the Server Migration solution's update naming
    them, which locks the target region; returns the vault's id."""
    project = project_path.rsplit("/", 1)[1]
    suffix = uuid.uuid4().hex[:10]
    vaults = recovery_services_client(hub, "admin@contoso.com", CONTOSO).vaults
    vault = vaults.begin_create_or_update(
        "rg-migrate", f"{project}-MigrateVault-{suffix[:6]}", {"location": region, "sku": {"name": "Standard"}}
    ).result()
    assert vaults.get("rg-migrate", vault.name).properties.provisioning_state == "Succeeded"
    key_vault = hub.api(
        "PUT",
        f"{RG_PATH}/providers/Microsoft.KeyVault/vaults/migratekv{suffix}",
        json={"location": region, "properties": {"sku": {"family": "A", "name": "standard"}, "tenantId": ""}},
        params={"api-version": "2023-07-01"},
    )
    account = hub.api(
        "PUT",
        f"{RG_PATH}/providers/Microsoft.Storage/storageAccounts/migratelsa{suffix}",
        json={"location": region, "kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
        params={"api-version": "2023-05-01"},
    )
    assert (key_vault.status_code, account.status_code) == (201, 200), key_vault.text + account.text
    extended = {"vaultId": vault.id, "keyVaultId": key_vault.json()["id"], "storageAccountId": account.json()["id"]}
    linked = hub.api(
        "PATCH", f"{project_path}/{SOLUTION}", json={"properties": {"details": {"extendedDetails": extended}}}
    )
    assert linked.status_code == 200, linked.text
    return vault.id


def project_with_resources(hub, prefix: str) -> tuple[str, str]:
    """A new Contoso project in rg-migrate, its name starting with `prefix`, with Server Migration
    registered and its resources created through ARM; returns its name and ARM path."""
    project = unique(prefix)[:20]
    path = f"{RG_PATH}/providers/Microsoft.Migrate/migrateProjects/{project}"
    hub.api("PUT", path, json={"location": "westeurope"})
    hub.api("POST", f"{path}/registerTool", json={"tool": "ServerMigration"})
    create_resources_through_arm(hub, path)
    return project, path


def registration_key_through_arm(hub, vault_id: str) -> bytes:
    """The registration key file, as the vault certificate call returns it (RecoveryServicesClient)."""
    vault = vault_id.rsplit("/", 1)[1]
    certificates = recovery_services_client(hub, "admin@contoso.com", CONTOSO).vault_certificates
    issued = certificates.create(
        "rg-migrate",
        vault,
        f"{vault}-{uuid.uuid4().hex[:6]}",
        {"properties": {"authType": "AAD", "certificate": base64.b64encode(b"unused").decode()}},
    )
    certificate = issued.properties.certificate
    return certificate if isinstance(certificate, bytes) else base64.b64decode(certificate)


def installer_through_arm(hub, project_path: str) -> bytes:
    """The appliance installer from the signed link the solution's getConfig hands out (no sign-in)."""
    link = hub.api("POST", f"{project_path}/{SOLUTION}/getConfig").json()["publisherSasUri"]
    download = requests.get(link, timeout=30)
    assert download.status_code == 200, download.text[:300]
    return download.content


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
    vault_id = hub.api("GET", f"{path}/{SOLUTION}").json()["properties"]["details"]["extendedDetails"]["vaultId"]
    key = registration_key_through_arm(hub, vault_id)
    with tarfile.open(fileobj=io.BytesIO(installer_through_arm(hub, path))) as archive:
        archive.extractall(tmp_path, filter="data")
    key_file = tmp_path / "appliance.key"
    key_file.write_bytes(key)
    folder, home, port = tmp_path / "MigrateHubAppliance", tmp_path / "appliance-home", free_port()
    process = launch_appliance(folder, key_file, home, port, unique("cs"), heartbeat_seconds=heartbeat_seconds, env=env)
    return RunningAppliance(path, folder, home, port, process)
