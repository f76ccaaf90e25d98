"""Workers on hosts of their own, with the Blob backend (OBJECT_STORE=azure, Azurite) and no shared
folder: the web process and each Celery worker get a DATA_DIR of their own, standing in for separate
hosts, as docker-compose's web and worker services would run without a shared volume. The real rig
replicates through them: appliance, Mobility agent, SDK calls (tests/replication_rig.py).

The uploaded batches (the cache storage account) and the recovery points (chunks and manifests) live
in Blob Storage; each worker's replica file is a working copy, rebuilt from the latest point's
manifests whenever another host applied since. So two workers can apply one item, the lease handing it
between them, and the replica is read back on the web's host from the latest point."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hub.object_store_azure import AzureBlobStore
from tests import hubs
from tests.disk_images import sha256_of
from tests.replication_rig import build_rig, enable_replication, wait_for_state

pytestmark = pytest.mark.live

MIB = 1024 * 1024
THROTTLE = {"APPLIANCE_MAX_UPLOAD_MBPS": "64"}  # megabits per second: 8 MB/s, so a kill lands mid-apply


@pytest.fixture(scope="module")
def blob_hub(tmp_path_factory, azurite):
    """A production hub storing replication data in Azurite; its own worker is replaced by the test's
    workers on hosts of their own. One SECRET_KEY for all (they share no DATA_DIR to keep one in)."""
    hub = hubs.module_production_hub(
        tmp_path_factory.mktemp("blob-web-host"),
        name="blobworkers",
        redis_db_offset=10,
        extra_env={
            "OBJECT_STORE": "azure",
            "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "SECRET_KEY": "blob-workers-" + "k" * 50,
        },
    )
    hub.kill_worker()
    hub.worker = None
    yield hub
    hub.stop()


class WorkerHost:
    """A Celery worker with a DATA_DIR (and so a REPLICATION_DIR) of its own: another host."""

    def __init__(self, hub: hubs.Hub, directory: Path, name: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.directory = directory
        self.env = {**hub.env, "DATA_DIR": str(directory)}
        self.env.pop("REPLICATION_DIR", None)
        self.hub = dataclasses.replace(hub, env=self.env, process=None, worker=None)
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerHost:
        log = open(self.directory / "worker.log", "a")  # noqa: SIM115 (lives as long as the process)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "hub", "worker", "--concurrency", "2", "--loglevel", "WARNING"]
            + ["-n", f"{self.name}@%h"],
            cwd=hubs.ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL, as a host that lost power: nothing handed back."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            hubs.terminate_group(self.process)


class LocalBatchWatch:
    """Watches every host's folder while replication runs: a batch file anywhere is a shared-disk leak."""

    def __init__(self, folders: list[Path]):
        self.folders = folders
        self.found: list[Path] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for folder in self.folders:
                self.found += [path for path in folder.rglob("*.batch*") if path not in self.found]

    def __enter__(self) -> LocalBatchWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def random_image(path: Path, size: int) -> None:
    with open(path, "wb") as image:
        for _ in range(size // MIB):
            image.write(os.urandom(MIB))


def cache_containers(azurite) -> set[str]:
    return set(AzureBlobStore(azurite.connection_string).containers("migratelsa"))


def test_a_worker_on_another_host_applies_batches_from_blob_storage_and_survives_a_kill(blob_hub, azurite, tmp_path):
    """Web and worker share no folder: every batch goes web -> Blob Storage -> worker. The worker's host
    is killed mid-apply and started again; the replica ends identical and no batch touched a local disk."""
    host = WorkerHost(blob_hub, tmp_path / "host-a", "hosta").start()
    image = tmp_path / "disk0.img"
    random_image(image, 32 * MIB)
    containers_before = cache_containers(azurite)
    rig = build_rig(blob_hub, tmp_path, {"disk0": image}, appliance_env=THROTTLE)
    try:
        web_folder = Path(blob_hub.env["DATA_DIR"])
        with LocalBatchWatch([web_folder, host.directory]) as watch:
            enable_replication(rig)
            deadline = time.monotonic() + 90
            while rig.progress() < 25:
                assert time.monotonic() < deadline, "initial replication did not start"
                time.sleep(0.2)
            host.kill()
            time.sleep(1.5)
            host.start()
            wait_for_state(rig, "Replicating", seconds=180)
            rig.hub = host.hub  # the replica is a file on the applying worker's host
            state = rig.wait_until_replica_equals("disk0", sha256_of(image))
        assert state["recoveryPoints"], "a recovery point was recorded"
        assert watch.found == [], "batches went through a local folder"
        assert not (web_folder / "replication" / "storage").exists()
        assert not (host.directory / "replication" / "storage").exists()
        assert len(cache_containers(azurite) - containers_before) == 1, "the project's cache container"
    finally:
        rig.hub = blob_hub
        rig.stop()
        host.stop()


@pytest.mark.parametrize("killed", ["first", "second"])
def test_two_workers_apply_one_replication_and_either_may_die(blob_hub, tmp_path, killed):
    """Two worker hosts with separate folders apply one project's replication; one is killed mid-apply
    and not started again. The replica, read on a third host (the web's), equals the source."""
    hosts = [WorkerHost(blob_hub, tmp_path / f"host-{n}", f"host{n}").start() for n in ("a", "b")]
    image = tmp_path / "disk0.img"
    random_image(image, 32 * MIB)
    rig = build_rig(blob_hub, tmp_path, {"disk0": image}, appliance_env=THROTTLE)
    try:
        enable_replication(rig)
        deadline = time.monotonic() + 90
        while rig.progress() < 25:
            assert time.monotonic() < deadline, "initial replication did not start"
            time.sleep(0.2)
        hosts[0 if killed == "first" else 1].kill()
        wait_for_state(rig, "Replicating", seconds=240)
        # No more cycles: the agent sends an empty one every second, which a loaded host applies a
        # little behind, so the latest point would rarely be the cycle applied when it is read.
        rig.kill_agent()
        expected = sha256_of(image)
        try:
            state = rig.wait_until_replica_equals("disk0", expected, seconds=180)  # read on the web's host
        except AssertionError as mismatch:
            raise AssertionError(f"source {expected}: {mismatch}") from None
        assert state["recoveryPoints"], "a recovery point was recorded"
    finally:
        rig.stop()
        for host in hosts:
            host.stop()
