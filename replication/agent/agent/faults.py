"""Faults the hub injected on this server, as the appliance's heartbeat answers hand them over: the agent
behaves so, for real, until an answer no longer lists them.

- sourceChurn (mbPerSecond): a writer thread writes that many megabytes a second of new blocks into
  the server's disk image files, as a busy workload would; the data to send really grows.
- agentVersionMismatch: the agent reports an older Mobility service version with its heartbeats.
- agentOtherConfigurationServer: it reports another configuration server than the one it registered with.
- diskReadErrors (diskIndex): reads of that disk (its place in the machine's disk list, the LUN) fail
  with an I/O error; the cycle stops there and resumes from its checkpoint once reads work again.

What goes wrong is reported back with each heartbeat (`problems`, by health error code): the churn
written, and the disk that cannot be read."""

from __future__ import annotations

import os
import random
import threading
import time

from agent.blocks import BLOCK_SIZE

# What an agent of another release reports (agentVersionMismatch), and another configuration server.
MISMATCHED_VERSION = "9.54.0"
OTHER_CONFIGURATION_SERVER = "cs-other.contoso.local"
CHURN_TICK_SECONDS = 0.1


def probability_of(fault: dict) -> float:
    """The fault's probability, 1 when it gives none or a bad one (every occurrence struck)."""
    probability = fault.get("probability", 1)
    return float(probability) if isinstance(probability, int | float) and 0 < probability < 1 else 1.0


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind: dict[str, dict] = {}
        self.unreadable: dict[str, int] = {}  # disk id -> index: its reads fail now
        self.failing_disks: dict[str, dict] = {}  # disk id -> {"diskIndex", "message"}: reads failed
        self.churn: ChurnWriter | None = None

    def replace(self, faults, disks: list[dict]) -> None:
        """The `faults` of a heartbeat answer, with the machine's disks (their order is the LUN)."""
        faults = [fault for fault in faults or [] if isinstance(fault, dict) and isinstance(fault.get("kind"), str)]
        with self.lock:
            self.by_kind = {fault["kind"]: fault for fault in faults}
        failing = self.failing_disk_ids(disks)
        with self.lock:
            self.unreadable = failing
            self.failing_disks = {disk: seen for disk, seen in self.failing_disks.items() if disk in failing}
        self._follow_churn(disks)

    def unreadable_index(self, disk_id: str) -> int | None:
        """The disk's index when reads of it fail now (diskReadErrors), else None."""
        with self.lock:
            return self.unreadable.get(disk_id)

    def read_fails(self) -> bool:
        """Whether this read of an unreadable disk fails, by the fault's probability (1: every read)."""
        with self.lock:
            fault = self.by_kind.get("diskReadErrors") or {}
        return random.random() < probability_of(fault)  # noqa: S311 (not security)

    def _parameter(self, kind: str, name: str):
        with self.lock:
            fault = self.by_kind.get(kind)
        return None if fault is None else (fault.get("parameters") or {}).get(name)

    def has(self, kind: str) -> bool:
        with self.lock:
            return kind in self.by_kind

    def reported_version(self, version: str) -> str:
        return MISMATCHED_VERSION if self.has("agentVersionMismatch") else version

    def reported_configuration_server(self, configuration_server: str | None) -> str | None:
        return OTHER_CONFIGURATION_SERVER if self.has("agentOtherConfigurationServer") else configuration_server

    def failing_disk_ids(self, disks: list[dict]) -> dict[str, int]:
        """{disk id: its index} of the disk whose reads fail (diskReadErrors), if it exists."""
        index = self._parameter("diskReadErrors", "diskIndex")
        if not isinstance(index, int | float) or not 0 <= int(index) < len(disks):
            return {}
        return {str(disks[int(index)]["diskId"]): int(index)}

    def read_failed(self, disk_id: str, disk_index: int, message: str) -> None:
        with self.lock:
            self.failing_disks[disk_id] = {"diskId": disk_id, "diskIndex": disk_index, "message": message[:300]}

    def reads_work(self) -> None:
        with self.lock:
            self.failing_disks.clear()

    def problems(self) -> dict:
        """What this agent reports going wrong (health error code -> details)."""
        problems = {}
        with self.lock:
            failing = next(iter(self.failing_disks.values()), None)
        if failing is not None:
            problems["SourceDiskReadFailed"] = dict(failing)
        churn = self.churn
        if churn is not None:
            problems["78188"] = {"mbPerSecond": round(churn.bytes_per_second / 1_000_000, 2)}
        return problems

    def _follow_churn(self, disks: list[dict]) -> None:
        rate = self._parameter("sourceChurn", "mbPerSecond")
        with self.lock:
            probability = probability_of(self.by_kind.get("sourceChurn") or {})
        # Image files only: churn is never written to a real block device.
        paths = [str(disk["path"]) for disk in disks if disk.get("path") and os.path.isfile(str(disk["path"]))]
        wanted = float(rate) * 1_000_000 if isinstance(rate, int | float) and rate > 0 and paths else 0.0
        churn = self.churn
        if churn is not None and (churn.bytes_per_second, churn.probability) != (wanted, probability):
            churn.stop()
            self.churn = churn = None
            print("Source churn stopped.", flush=True)
        if churn is None and wanted:
            self.churn = ChurnWriter(paths, wanted, probability)
            bursts = f", in bursts (probability {probability:g})" if probability < 1 else ""
            print(f"Source churn: writing {wanted / 1_000_000:g} MB/s to {len(paths)} disk(s){bursts}.", flush=True)

    def stop(self) -> None:
        if self.churn is not None:
            self.churn.stop()


class ChurnWriter:
    """Writes new 4 KiB blocks at random places of the disk image files, at a steady rate, like a
    workload: each block random bytes, so the replica must really carry them. With a probability below 1
    each tick's writes happen only when struck (bursty churn averaging that share of the rate). stop()
    returns once the last write is done, so the disks no longer change after it."""

    def __init__(self, paths: list[str], bytes_per_second: float, probability: float = 1.0):
        self.paths, self.bytes_per_second, self.probability = paths, bytes_per_second, probability
        self.written = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="source-churn", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        chooser = random.Random()  # noqa: S311 (where to write, not security)
        descriptors = [os.open(path, os.O_WRONLY) for path in self.paths]
        sizes = [os.fstat(descriptor).st_size for descriptor in descriptors]
        owed, last = 0.0, time.monotonic()
        try:
            while not self._stopped.is_set():
                now = time.monotonic()
                tick = (now - last) * self.bytes_per_second
                last = now
                # A spared tick writes nothing: the churn comes in bursts.
                owed += tick if chooser.random() < self.probability else 0.0
                while owed >= BLOCK_SIZE:
                    which = chooser.randrange(len(descriptors))
                    blocks = max(1, sizes[which] // BLOCK_SIZE)
                    os.pwrite(descriptors[which], os.urandom(BLOCK_SIZE), chooser.randrange(blocks) * BLOCK_SIZE)
                    owed -= BLOCK_SIZE
                    self.written += BLOCK_SIZE
                self._stopped.wait(CHURN_TICK_SECONDS)
        finally:
            for descriptor in descriptors:
                os.close(descriptor)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


FAULTS = Faults()  # the service's one set: the heartbeat loop fills it, the replicator and disks read it
