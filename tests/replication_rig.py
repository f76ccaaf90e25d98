"""A replication rig for live tests and benchmarks: a real appliance (its installer and key from the
ARM API, tests/appliances.py), finalized through its ARM action; a real Mobility service installed
from the appliance's agent folder, configured with a machine profile whose disk is a disk image file;
replication enabled through the Site Recovery SDK; ways to watch the replica (`manage.py replica`)
and read what a job recorded; and a writer that keeps changing a disk image while it replicates, as
a server in use does. Also the steps the Site Recovery
SDK tests share with the rig: `wait_for` (poll until done), `enable_body` (an enable-replication
request) and `finalize_appliance` (Finalize registration's action, its job followed)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.appliances import RunningAppliance, start_appliance, wait_for_line
from tests.azure_clients import site_recovery_client
from tests.disk_images import change_blocks, sha256_of, write_realistic_image
from tests.hubs import CONTOSO, Hub
from tests.test_arm_site_recovery import vault_name

RG = "rg-migrate"
FABRIC, CONTAINER = "migrate-fabric", "migrate-container"
VNET = f"/subscriptions/{CONTOSO}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks"


def wait_for(read, done, seconds: float = 30, what: str = "", step: float = 0.25):
    """read() every `step` seconds until done(value), then the value; after `seconds`, an AssertionError
    that says what (`what`) stayed at which value."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what + ': ' if what else ''}still {value!r} after {seconds:.0f} s")
        time.sleep(step)


def enable_body(vault_id: str, item, process_server_id: str, **details) -> dict:
    machine = item.properties.friendly_name
    body = {
        "instanceType": "InMageRcm",
        "fabricDiscoveryMachineId": item.id,
        "processServerId": process_server_id,
        "targetResourceGroupId": f"/subscriptions/{CONTOSO}/resourceGroups/{RG}",
        "targetVmName": machine,
        "targetNetworkId": f"{VNET}/vnet-prod",
        "targetSubnetName": "default",
        "testNetworkId": f"{VNET}/vnet-test",
        "testSubnetName": "test",
        "licenseType": "NoLicenseType",
        "disksDefault": {"diskType": "StandardSSD_LRS", "logStorageAccountId": "cache"},
    }
    body.update(details)
    return {
        "properties": {"policyId": f"{vault_id}/replicationPolicies/migrate-policy", "providerSpecificDetails": body}
    }


def finalize_appliance(hub: Hub, asr, vault: str, project_path: str):
    """Finalize registration of the project's one appliance through its action, as Contoso's admin,
    and wait until its job succeeded; returns the appliance's process server, as the vault's fabric
    lists it."""
    fabric = wait_for(lambda: list(asr.replication_fabrics.list(RG, vault)), lambda fabrics: len(fabrics) == 1)[0]
    process_server = fabric.properties.custom_details.process_servers[0]
    provider = f"{fabric.id}/replicationRecoveryServicesProviders/{process_server.id}"
    finalizing = hub.api("POST", f"{provider}/finalizeRegistration")
    assert finalizing.status_code == 202, finalizing.text
    # Finalize registration is a job of the vault's resource group: the SDK follows it too.
    finalized = f"jobName eq 'FinalizeApplianceRegistration' and targetObjectName eq '{process_server.name}'"
    wait_for(
        lambda: [job.properties.state for job in asr.replication_jobs.list(RG, vault, filter=finalized)],
        lambda states: states == ["Succeeded"],
    )
    return process_server


@dataclass
class Rig:
    hub: Hub
    appliance: RunningAppliance
    appliance_env: dict
    prefix: Path  # where the agent is installed
    host_name: str
    images: dict[str, Path]
    vault: str = ""
    item_name: str = ""
    item_id: str = ""
    agent_log: Path | None = None
    extra: dict = field(default_factory=dict)

    # The agent

    def agent_pid(self) -> int | None:
        pid_file = self.prefix / "Vx" / "var" / "svagents.pid"
        return int(pid_file.read_text()) if pid_file.exists() else None

    def kill_agent(self) -> None:
        """SIGKILL the Mobility service, as a crash or power loss of the service would."""
        with contextlib.suppress(ProcessLookupError, TypeError):
            os.killpg(self.agent_pid(), signal.SIGKILL)

    def start_agent(self) -> None:
        log = open(self.prefix / "Vx" / "var" / "svagents.log", "a")  # noqa: SIM115 (the service's)
        process = subprocess.Popen(
            [self.prefix / "Vx" / "bin" / "svagents"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        (self.prefix / "Vx" / "var" / "svagents.pid").write_text(str(process.pid))

    # The appliance

    def kill_appliance(self) -> None:
        self.appliance.process.kill()
        self.appliance.process.wait(timeout=10)

    def start_appliance(self) -> None:
        process = subprocess.Popen(
            [self.appliance.folder / "run", "--home", self.appliance.home, "--heartbeat-seconds", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.appliance.home.parent,
            env={**os.environ, **self.appliance_env},
        )
        wait_for_line(process, "listening on")
        self.appliance.process = process

    # The hub's view

    def sdk(self):
        return site_recovery_client(self.hub, "admin@contoso.com", CONTOSO)

    def item(self):
        return self.sdk().replication_migration_items.get(RG, self.vault, FABRIC, CONTAINER, self.item_name)

    def replica(self, sha256: bool = False) -> dict:
        output = self.hub.manage("replica", self.item_id, *(["--sha256"] if sha256 else []))
        return json.loads(output.strip().splitlines()[-1])

    def wait_until_replica_equals(self, disk_id: str, expected_sha256: str, seconds: float = 120) -> dict:
        """Until the replica at its latest recovery point holds exactly the source's bytes."""
        deadline = time.monotonic() + seconds
        while True:
            state = self.replica(sha256=True)
            disk = next(disk for disk in state["disks"] if disk["diskId"] == disk_id)
            if disk["sha256"] == expected_sha256 and disk["appliedCycle"] == max(
                (point["cycle"] for point in state["recoveryPoints"]), default=-1
            ):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"the replica never matched the source: {json.dumps(state)[:2000]}")
            time.sleep(0.5)

    def progress(self) -> int:
        details = self.item().properties.provider_specific_details
        return int(details["initialReplicationProgressPercentage"] or 0)

    def stop(self) -> None:
        self.kill_agent()
        with contextlib.suppress(Exception):
            self.appliance.process.kill()
            self.appliance.process.wait(timeout=10)


def profile_for(host_name: str, images: dict[str, Path], os_type: str = "Linux") -> dict:
    disks = [
        {"diskId": disk_id, "path": str(path), "sizeBytes": path.stat().st_size, "isOsDisk": index == 0}
        for index, (disk_id, path) in enumerate(images.items())
    ]
    return {
        "machineId": f"image-{host_name}",
        "hostName": host_name,
        "osType": os_type,
        "osName": "Ubuntu" if os_type == "Linux" else "Windows Server 2019 Datacenter",
        "osVersion": "22.04",
        "architecture": "x86_64",
        "cores": 2,
        "memoryMB": 4096,
        "firmware": "BIOS",
        "nics": [{"nicId": "nic0", "ipAddresses": ["10.1.0.50"], "isPrimary": True}],
        "disks": disks,
    }


def build_rig(
    hub: Hub, tmp_path: Path, images: dict[str, Path], *, appliance_env: dict | None = None, cycle_seconds: float = 1
) -> Rig:
    """Appliance up and finalized, agent installed and registered, server discovered (not replicating)."""
    appliance_env = appliance_env or {}
    appliance = start_appliance(hub, tmp_path, env=appliance_env)
    host_name = f"img{uuid.uuid4().hex[:6]}"
    rig = Rig(hub, appliance, appliance_env, tmp_path / "agent", host_name, images)
    try:
        passphrase = appliance.passphrase_file(tmp_path / "pass.txt")
        profile = tmp_path / f"{host_name}.json"
        profile.write_text(json.dumps(profile_for(host_name, images)))
        installed = subprocess.run(
            [appliance.folder / "agent" / "install", "-r", "MS", "-q", "-d", rig.prefix],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert installed.returncode == 0, installed.stderr
        configured = subprocess.run(
            [
                rig.prefix / "Vx" / "bin" / "UnifiedAgentConfigurator.sh",
                *("-i", f"127.0.0.1:{appliance.port}", "-P", passphrase, "-S", profile),
                *("--heartbeat-seconds", "1", "--cycle-seconds", str(cycle_seconds)),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert configured.returncode == 0, configured.stderr + configured.stdout
        rig.vault = vault_name(hub, appliance.project_path)
        asr = rig.sdk()
        process_server = finalize_appliance(hub, asr, rig.vault, appliance.project_path)
        machine = wait_for(
            lambda: [
                found
                for found in asr.replication_protectable_items.list_by_replication_protection_containers(
                    RG, rig.vault, FABRIC, CONTAINER
                )
                if found.properties.friendly_name == host_name
            ],
            lambda found: len(found) == 1,
        )[0]
        rig.extra.update(machine=machine, process_server_id=process_server.id)
        rig.agent_log = rig.prefix / "Vx" / "var" / "svagents.log"
        return rig
    except BaseException:
        rig.stop()
        raise


def one_disk_rig(hub: Hub, tmp_path: Path, size_mib: int, seed: int = 1, **options) -> tuple[Rig, Path]:
    """build_rig for a server with one disk, disk0: a realistic image of `size_mib` MiB (from `seed`),
    returned with the rig."""
    image = tmp_path / "disk0.img"
    write_realistic_image(image, size_mib * 1024 * 1024, seed=seed)
    return build_rig(hub, tmp_path, {"disk0": image}, **options), image


def enable_replication(rig: Rig) -> None:
    """Replicate the server (every disk, Standard SSD) and wait for Start replication to end."""
    asr = rig.sdk()
    vault_id = f"/subscriptions/{CONTOSO}/resourceGroups/{RG}/providers/Microsoft.RecoveryServices/vaults/{rig.vault}"
    machine = rig.extra["machine"]
    item = asr.replication_migration_items.begin_create(
        RG, rig.vault, FABRIC, CONTAINER, machine.name, enable_body(vault_id, machine, rig.extra["process_server_id"])
    ).result()
    rig.item_name = item.name
    rig.item_id = item.properties.provider_specific_details["internalIdentifier"]


def wait_for_state(rig: Rig, state: str, seconds: float = 120):
    """The migration item once its migrationState is `state`."""
    return wait_for(rig.item, lambda item: item.properties.migration_state == state, seconds)


def replicate_until_equal(rig: Rig, image: Path) -> dict:
    """Replicate the one-disk server until its replica holds `image` as it is now; the replica's state."""
    enable_replication(rig)
    wait_for_state(rig, "Replicating")
    return rig.wait_until_replica_equals("disk0", sha256_of(image))


def wait_for_progress(rig: Rig, percent: int, seconds: float) -> None:
    """Until the item's initial replication has reached `percent`."""
    deadline = time.monotonic() + seconds
    while rig.progress() < percent:
        assert time.monotonic() < deadline, "initial replication did not start"
        time.sleep(0.2)


def job_input(hub: Hub, job_id: str) -> dict:
    """What a job recorded in its input (a Migrate job: the VM it built, each disk's SHA-256 at the
    source and on the VM). The ARM job body does not carry it, so it is read inside the hub."""
    script = f"import json; from jobs.models import Job; print(json.dumps(Job.objects.get(pk={job_id!r}).input))"
    return json.loads(hub.manage("shell", "-c", script).strip().splitlines()[-1])


class ImageWriter:
    """Writes to a disk image in the background, as a running server writes to its disk: a few
    random blocks every `interval` seconds. After stop() returns, the image no longer changes."""

    def __init__(self, image: Path, *, blocks: int = 8, interval: float = 0.5):
        self.image, self.blocks, self.interval = image, blocks, interval
        self.writes = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._write_until_stopped, name="image-writer", daemon=True)

    def _write_until_stopped(self) -> None:
        while not self._stopped.is_set():
            self.writes += 1
            change_blocks(self.image, self.blocks, seed=1000 + self.writes)  # new blocks and content each time
            self._stopped.wait(self.interval)

    def start(self) -> ImageWriter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
