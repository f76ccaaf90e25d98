"""The replication engine: cycles of a server's disks to the appliance's process server
(docs/replication-protocol.md).

Each disk is read in 4 MiB pieces of its data extents; every 4 KiB block is hashed and compared with
the table of the last acknowledged cycle, and blocks that changed go out in batches of at most 4 MiB
of data (16 MiB to a process server that offers it; fixed when the cycle is planned), while the next
pieces are read (a small queue, a few batches in flight). The table, the next sequence and a checkpoint
inside the running cycle are kept on disk, so a killed agent resumes from the checkpoint: it sends the
batches after it again, with the same sequences, and the hub answers them as duplicates.

Migrate with shutdown (the hub's entry says "shutdown": true): the source is shut down once (its
moment kept in item.json, so a restarted agent keeps it off), a final cycle runs at once, its markers
saying "final" with the disk's SHA-256, and then no cycle runs until the entry says shutdown false
again (a failed migration gives the server back) or asks for a disk in full again.

This module drives the cycles (`Replicator`) and the shutdown for Migrate. The rest, by module:
  disk_cycle.py   one disk's part of a cycle: reading, hashing, choosing blocks, checkpointing
  uploader.py     sending batches to the process server, retried until acknowledged
  item_state.py   the local state under the state folder (item.json, hash tables, journals)
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable

from agent.blocks import MAX_BATCH_DATA, SHA256_LIMIT_BYTES, batch_data_bytes
from agent.disk_cycle import DiskCycle
from agent.disks import DiskReadError, open_source
from agent.faults import FAULTS
from agent.item_state import ItemState
from agent.uploader import Cancelled, DiskDropped

CHECKPOINT_BYTES = 64 * 1024 * 1024
CHECKPOINT_SECONDS = 2.0
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.5, 15.0
# A shutdown command that has not finished by then is given up on (killed); the final sync goes on.
SHUTDOWN_COMMAND_SECONDS = 600
# Shut down with its final sync sent, the agent has nothing to do until the hub's entry changes (and
# every change wakes it): this is only how often it looks anyway.
IDLE_SECONDS = 3600


def run_shutdown_command(command: str) -> dict:
    """Run the configured shell command line; {"command", "exitCode", "error"} (error None if it
    succeeded). Its output goes to a file, not a pipe: a service it starts or stops may keep a pipe
    open long after the command itself ended."""
    result = {"command": command, "exitCode": None, "error": None}
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(
                command,
                shell=True,  # an administrator's command line, pipes and all
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, to stop all of it on a timeout
            )
        except OSError as error:
            result["error"] = f"could not be started: {error}"
            return result
        try:
            result["exitCode"] = process.wait(timeout=SHUTDOWN_COMMAND_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            result["error"] = f"still running after {SHUTDOWN_COMMAND_SECONDS} s, stopped"
            return result
        if result["exitCode"] != 0:
            output.seek(max(0, output.seek(0, os.SEEK_END) - 300))
            text = output.read().decode(errors="replace").strip()
            result["error"] = f"exit code {result['exitCode']}" + (f": {text}" if text else "")
    return result


class Replicator:
    """Replicates one server as the hub's entry for it says (`update`), on a thread of its own: cycle 1
    in full, then a delta cycle every cycleSeconds; a disk whose resyncGeneration went up is sent in
    full again; `update(None)` stops and forgets the local state. An entry saying "shutdown" shuts the
    source down (`shutdown_command`, a shell command, if there is one; simulated disks stop changing)
    and sends a final cycle at once, then no more until the entry says shutdown false again."""

    def __init__(
        self,
        state_dir: str,
        machine_id: str,
        disk_specs: list[dict],
        credentials: Callable[[], dict],
        *,
        cycle_seconds: float | None = None,
        checkpoint_bytes: int = CHECKPOINT_BYTES,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
        log: Callable[[str], None] | None = None,
        shutdown_command: str | None = None,
        batch_data_limit: int = MAX_BATCH_DATA,
    ):
        self.state_dir, self.machine_id = state_dir, machine_id
        # At most this much block data per batch, whatever the process server offers (the fleet
        # simulator keeps hundreds of replicators in one process, each with a few batches in memory).
        self.batch_data_limit = batch_data_limit
        self.shutdown_command = shutdown_command
        self.disk_specs = {str(spec["diskId"]): spec for spec in disk_specs}
        self.credentials = credentials
        self.cycle_seconds_override = cycle_seconds
        self.checkpoint_bytes, self.checkpoint_seconds = checkpoint_bytes, checkpoint_seconds
        # The retry delays (the uploader's and after a failed cycle), taken when the replicator is made, like
        # the checkpoint settings.
        self.retry_first_seconds, self.retry_max_seconds = RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS
        self.log = log or (lambda line: print(line, flush=True))
        self.entry: dict | None = None
        self.entry_lock = threading.Lock()
        self.changed = threading.Event()
        self.cancelled = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.state = ItemState(state_dir)
        self.last_error: str | None = None

    def batch_credentials(self) -> dict:
        """Where the server's batches go and with what secret: the configuration server's own process
        server with the agent's credential, or the scale-out process server the hub's entry names, with
        the item's batch token (that process server holds no agent credentials)."""
        credentials = self.credentials()
        with self.entry_lock:
            process_server = (self.entry or {}).get("processServer")
        if isinstance(process_server, dict) and process_server.get("url") and process_server.get("batchToken"):
            return {**credentials, "appliance": str(process_server["url"]), "secret": str(process_server["batchToken"])}
        return credentials

    # Control

    def update(self, entry: dict | None) -> None:
        with self.entry_lock:
            previous, self.entry = self.entry, entry
            if entry is None or (previous is not None and previous.get("itemId") != entry.get("itemId")):
                self.cancelled.set()
            elif self._epoch_changed(entry):
                self.cancelled.set()  # the hub was restored: what is being sent belongs to another timeline
        self.changed.set()

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run_forever, name="replicator", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.cancelled.set()
        self.changed.set()
        if self.thread is not None:
            self.thread.join()

    def run_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                wait = self.step()
                FAULTS.reads_work()
                if self.last_error:
                    self.last_error = None
            except Cancelled:
                wait = 0
            except Exception as error:  # noqa: BLE001 (a disk that cannot be read now may be readable later)
                if isinstance(error, DiskReadError):  # reported to the hub with the next heartbeat
                    FAULTS.read_failed(error.disk_id, error.disk_index, str(error))
                if str(error) != self.last_error:
                    self.log(f"Replication paused: {error}")
                self.last_error = str(error)
                wait = self.retry_max_seconds
            if wait and not self.stopping.is_set():
                self.changed.wait(wait)
            self.changed.clear()

    def step(self, force: bool = False) -> float:
        """Do what is due now (force: start a cycle even if none is due); the seconds until something
        may be due again (0: at once)."""
        with self.entry_lock:
            entry = self.entry
            if not self.stopping.is_set():
                self.cancelled.clear()
        if entry is None:
            if self.state.exists or os.path.isdir(self.state_dir):
                self.state.forget()
                self.log("Replication stopped: local replication state removed.")
            return 3600
        if self.state.exists and self.state.values["itemId"] != entry["itemId"]:
            self.state.forget()
        restored = self.state.exists and self._epoch_changed(entry)
        if restored:
            self.state.forget()
            self.log(
                "The hub was restored from a snapshot (its epoch changed): local replication state removed; "
                "every disk is sent again in full from the sequence the hub holds."
            )
        if not self.state.exists:
            self.state.values = {
                "itemId": entry["itemId"],
                # After a restore the hub may hold part of its next cycle, from the timeline it left:
                # the new full cycle takes the number after, so it never mixes with that part.
                "completedCycle": max(0, int(entry.get("nextCycle") or 1) - 1) + (1 if restored else 0),
                "lastCycleStartedAt": None,
                "running": None,
                "disks": {},
                "hubEpoch": entry.get("hubEpoch"),
            }
        elif entry.get("hubEpoch") and not self.state.values.get("hubEpoch"):
            self.state.values["hubEpoch"] = entry["hubEpoch"]  # state from before the hub had epochs
            self.state.save()
        self._follow_shutdown(entry)
        running = self.state.values.get("running")
        if running is None:
            if self._shut_down() and not self._final_sync_due(entry):
                return IDLE_SECONDS  # the final sync was sent: the source stays as it is
            due = self._next_due(entry)
            if due > time.time() and not force and not self._shut_down():
                return due - time.time()
            running = self._plan(entry)
        self._run(running, entry)
        if running.get("final"):
            self._report_final_sync(running)
        return self._seconds_to_next(entry)

    def _epoch_changed(self, entry: dict) -> bool:
        """The hub's epoch differs from the one this state was made in: the hub was restored."""
        held = self.state.values.get("hubEpoch")
        return bool(held and entry.get("hubEpoch") and entry["hubEpoch"] != held)

    def run_cycle(self) -> None:
        """Finish the running cycle, or run the next one now, in the calling thread (tests, tools)."""
        self.step(force=True)

    # Cycles

    def _cycle_seconds(self, entry: dict) -> float:
        if self.cycle_seconds_override is not None:
            return self.cycle_seconds_override
        return float(entry.get("cycleSeconds") or 300)

    def _next_due(self, entry: dict) -> float:
        started = self.state.values.get("lastCycleStartedAt")
        return 0.0 if started is None else started + self._cycle_seconds(entry)

    def _seconds_to_next(self, entry: dict) -> float:
        if self._shut_down():
            return 0 if self._final_sync_due(entry) else IDLE_SECONDS
        return max(0.0, self._next_due(entry) - time.time())

    # Shutdown (Migrate with "Shut down virtual machines")

    def _shut_down(self) -> bool:
        return self.state.values.get("shutdown") is not None

    def _final_sync_due(self, entry: dict) -> bool:
        """No final cycle sent since the shutdown, or the hub wants a disk in full again (its replica of
        the final cycle diverged): the migration waits for a final cycle it can use."""
        shutdown = self.state.values.get("shutdown") or {}
        if shutdown.get("finalCycle") is None:
            return True
        local = self.state.values.get("disks") or {}
        return any(
            str(disk["diskId"]) in local
            and int(disk.get("resyncGeneration") or 0) > int(local[str(disk["diskId"])].get("resyncGeneration") or 0)
            for disk in entry.get("disks") or []
        )

    def source_moment(self, at: float) -> float:
        """The moment whose content a disk read at `at` shows: a shut-down simulated machine's disks stay
        as they were when it stopped (a real disk shows what it holds, whatever the moment)."""
        shutdown = self.state.values.get("shutdown")
        return at if shutdown is None else min(at, shutdown["at"])

    def _follow_shutdown(self, entry: dict) -> None:
        shutdown = self.state.values.get("shutdown")
        request = entry.get("shutdownRequestId")
        if entry.get("shutdown") and shutdown is not None and request and shutdown.get("requestId") != request:
            # Migrate again after a failed one, before this agent saw the first called off: the source
            # is still off, and the new migration needs a final cycle of its own.
            shutdown.update(requestId=request, finalCycle=None)
            self.state.save()
            self.log("Shutdown requested again (a new migration): sending a new final cycle.")
        elif entry.get("shutdown") and shutdown is None:
            # Kept before the command runs, so a restarted agent neither runs it twice nor lets a
            # simulated machine write again.
            self.state.values["shutdown"] = {
                "at": time.time(),
                "finalCycle": None,
                "command": None,
                "requestId": request,
            }
            self.state.save()
            self.state.values["shutdown"]["command"] = self._shut_down_source(entry)
            self.state.save()
        elif not entry.get("shutdown") and shutdown is not None:
            self.state.values["shutdown"] = None
            self.state.save()
            self.log("Shutdown called off by the hub (the migration did not complete): the source runs again.")

    def _shut_down_source(self, entry: dict) -> dict | None:
        """Stop the source writing: run the shutdown command if one is configured; simulated disks
        stop changing by themselves (source_moment). A failed command is reported, not fatal: the
        final sync goes on, and the migration's consistency is then the source owner's to check."""
        specs = [self._spec(disk) for disk in entry.get("disks") or []]
        real = [str(spec["diskId"]) for spec in specs if spec.get("path")]
        if len(real) < len(specs):
            self.log("Shutdown requested: the simulated disks stop changing now.")
        command = self.shutdown_command
        if not command:
            if real:
                self.log(
                    "Shutdown requested, but no shutdown command is configured (UnifiedAgentConfigurator.sh "
                    "--shutdown-command, or AGENT_SHUTDOWN_COMMAND): the source must be stopped by its owner. "
                    "The final sync starts now."
                )
            return None
        self.log(f"Shutdown requested: running the shutdown command {command!r}.")
        result = run_shutdown_command(command)
        if result["error"]:
            self.log(
                f"The shutdown command failed ({result['error']}). The final sync goes on; the source may "
                "still be writing."
            )
        else:
            self.log("The shutdown command finished.")
        return result

    def _report_final_sync(self, running: dict) -> None:
        disks = []
        for plan in running["disks"]:
            if "sha256" not in plan:
                disks.append(f"disk {plan['diskId']} no longer replicated")
            elif plan["sha256"]:
                disks.append(f"disk {plan['diskId']} sha256 {plan['sha256']}")
            else:
                disks.append(f"disk {plan['diskId']} larger than {SHA256_LIMIT_BYTES // 1024**3} GiB, no sha256")
        line = f"final sync of cycle {running['cycle']} sent ({', '.join(disks)})"
        shutdown = self.state.values.get("shutdown")
        if shutdown is None:
            self.log(f"The {line}, but the hub called the shutdown off meanwhile: replication goes on.")
            return
        failed = (shutdown.get("command") or {}).get("error")
        self.log(f"Source shut down; {line}" + (f"; the shutdown command failed ({failed})" if failed else ""))

    def _spec(self, disk: dict) -> dict:
        spec = self.disk_specs.get(str(disk["diskId"]))
        if spec is None:
            # A disk the agent did not report from a profile: a real device if there is one.
            device = f"/dev/{disk['diskId']}"
            spec = {"diskId": disk["diskId"], "sizeBytes": disk.get("sizeBytes", 0)}
            if re.fullmatch(r"[A-Za-z0-9]+", str(disk["diskId"])) and os.path.exists(device):
                spec["path"] = device
        return spec

    def _plan(self, entry: dict) -> dict:
        """Fix the cycle's number, moment and, per disk, full or delta; kept until the cycle ends, so a
        restarted agent finishes this cycle rather than starting another (the hub waits for it)."""
        values = self.state.values
        disks = values.setdefault("disks", {})
        for disk_id in set(disks) - {str(disk["diskId"]) for disk in entry.get("disks") or []}:
            self.state.forget_disk(disk_id)  # no longer replicated
        plans = []
        for disk in entry.get("disks") or []:
            disk_id = str(disk["diskId"])
            source = open_source(self._spec(disk), self.machine_id)
            try:
                size = source.size_bytes
            finally:
                source.close()
            local = disks.get(disk_id)
            generation = int(disk.get("resyncGeneration") or 0)
            full = (
                local is None
                or not local.get("hashesCycle")
                or generation > int(local.get("resyncGeneration") or 0)
                or local.get("sizeBytes") != size
            )
            if local is None:
                disks[disk_id] = {
                    "nextSequence": max(1, int(disk.get("nextSequence") or 1)),
                    "resyncGeneration": generation,
                    "hashesCycle": 0,
                    "sizeBytes": size,
                    "progress": None,
                }
            plans.append({"diskId": disk_id, "full": full, "resyncGeneration": generation, "done": False})
        captured_at = time.time()
        running = {
            "cycle": int(values["completedCycle"]) + 1,
            "capturedAt": captured_at,
            "readAt": self.source_moment(captured_at),
            # Planned after the shutdown: every disk's marker says final; kept with the plan, so a
            # resumed cycle stays what it started as even if the shutdown is called off meanwhile.
            "final": self._shut_down(),
            # Kept with the plan: a resumed cycle cuts the same batches under the same sequences, which
            # the hub answers as duplicates, even if the process server's offer changed meanwhile.
            "batchDataBytes": min(self.batch_data_limit, batch_data_bytes(entry.get("batchDataBytes"))),
            "disks": plans,
        }
        values["running"], values["lastCycleStartedAt"] = running, captured_at
        self.state.save()
        return running

    def _run(self, running: dict, entry: dict) -> None:
        wanted = {str(disk["diskId"]): disk for disk in entry.get("disks") or []}
        for plan in running["disks"]:
            if plan["done"]:
                continue
            disk = wanted.get(plan["diskId"])
            if disk is None:
                plan["done"] = True  # no longer replicated: the hub takes nothing more for it
                self.state.forget_disk(plan["diskId"])
                self.state.save()
                continue
            try:
                DiskCycle(self, self.state, plan, running).run(self._spec(disk))
            except DiskDropped as dropped:
                self.log(f"Disk {plan['diskId']} is no longer replicated ({dropped}): its local state is removed.")
                plan["done"] = True
                self.state.forget_disk(plan["diskId"])
                self.state.save()
        self.state.values["completedCycle"] = running["cycle"]
        self.state.values["running"] = None
        shutdown = self.state.values.get("shutdown")
        if running.get("final") and shutdown is not None:
            shutdown["finalCycle"] = running["cycle"]  # in the same save: a restart sends no second one
        self.state.save()
