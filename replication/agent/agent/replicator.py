"""The replication engine: cycles of a server's disks to the appliance's process server
(docs/replication-protocol.md).

Each disk is read in 4 MiB pieces of its data extents; every 4 KiB block is hashed and compared with
the table of the last acknowledged cycle, and blocks that changed go out in batches of at most 4 MiB
of data, while the next pieces are read (a small queue, a few batches in flight). The table, the next
sequence and a checkpoint inside the running cycle are kept on disk, so a killed agent resumes from
the checkpoint: it sends the batches after it again, with the same sequences, and the hub answers
them as duplicates.

Migrate with shutdown (the hub's entry says "shutdown": true): the source is shut down once (its
moment kept in item.json, so a restarted agent keeps it off), a final cycle runs at once, its markers
saying "final" with the disk's SHA-256, and then no cycle runs until the entry says shutdown false
again (a failed migration gives the server back) or asks for a disk in full again.

State, under the state folder (one replicating server per agent):
  item.json                   the item, its cycles, per disk the next sequence and the checkpoint
  <disk>.hashes-<cycle>.bin   the disk's block hashes as of that completed cycle
  <disk>.journal              (index, hash) of every block acknowledged in the running cycle
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable

from agent import client
from agent.blocks import (
    BLOCK_SIZE,
    CHUNK_BLOCKS,
    JOURNAL_ENTRY,
    MAX_BATCH_DATA,
    NO_HASH,
    RECORD,
    SHA256_LIMIT_BYTES,
    BlockHashes,
    ContentDigest,
    DiskSha256,
    block_count,
    encode_batch_prefix,
    hash_blocks,
    write_atomically,
)
from agent.disks import open_source

BATCHES_PATH = "/ps-api/v1/batches"
SENDING_THREADS = 2
QUEUED_BATCHES = 2
CHECKPOINT_BYTES = 64 * 1024 * 1024
CHECKPOINT_SECONDS = 2.0
# A long scan that finds little to send still closes a batch this often, so the hub sees progress and
# a restart does not read the whole disk again.
PROGRESS_BLOCKS = 1024 * 1024 * 1024 // BLOCK_SIZE
# Zero records carry no data; this bounds a batch of them (a disk wiped by TRIM) to a sane body.
MAX_BATCH_RECORDS = 16384
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.5, 15.0
STATE_FILE = "item.json"
# A shutdown command that has not finished by then is given up on (killed); the final sync goes on.
SHUTDOWN_COMMAND_SECONDS = 600
# Shut down with its final sync sent, the agent has nothing to do until the hub's entry changes (and
# every change wakes it): this is only how often it looks anyway.
IDLE_SECONDS = 3600


class Cancelled(Exception):
    """Replication of the server stopped, or the agent is stopping: leave the state as checkpointed."""


class DiskDropped(Exception):
    """The hub no longer replicates the disk (404): forget it."""


class Batch:
    __slots__ = (
        "sequence",
        "start_block",
        "end_block",
        "records",
        "journal",
        "block_count",
        "data_bytes",
        "marker",
    )

    def __init__(self, start_block: int):
        self.sequence = 0
        self.start_block = self.end_block = start_block
        self.records = bytearray()
        self.journal = bytearray()
        self.block_count = self.data_bytes = 0
        self.marker: dict | None = None


def _safe_name(disk_id: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", disk_id)[:40]
    return f"{readable}-{hashlib.sha256(disk_id.encode()).hexdigest()[:8]}"


def _add_records(batch: Batch, first: int, data, length: int, hashes: list[bytes], chosen: list[int]) -> None:
    """Append records for blocks first + i (i in chosen) of data[:length], in one copy."""
    view, pack, entry = memoryview(data), RECORD.pack, JOURNAL_ENTRY.pack
    parts = []
    data_bytes = 0
    for index in chosen:
        start = index * BLOCK_SIZE
        if hashes[index] == NO_HASH:
            parts.append(pack(first + index, 0))
        else:
            block_length = BLOCK_SIZE if start + BLOCK_SIZE <= length else length - start
            parts += (pack(first + index, block_length), view[start : start + block_length])
            data_bytes += block_length
    batch.records += b"".join(parts)
    batch.journal += b"".join([entry(first + index, hashes[index]) for index in chosen])
    batch.block_count += len(chosen)
    batch.data_bytes += data_bytes


class ItemState:
    """item.json and the per-disk files beside it. Saved whole and atomically; `lock` orders the saves
    of the cycle thread and of the thread checkpointing acknowledged batches."""

    def __init__(self, folder: str):
        self.folder = folder
        self.lock = threading.Lock()
        try:
            with open(os.path.join(folder, STATE_FILE)) as handle:
                self.values = json.load(handle)
        except (OSError, ValueError):
            self.values = {}

    @property
    def exists(self) -> bool:
        return bool(self.values.get("itemId"))

    def save(self) -> None:
        with self.lock:
            os.makedirs(self.folder, exist_ok=True)
            write_atomically(os.path.join(self.folder, STATE_FILE), json.dumps(self.values, indent=1).encode())

    def hashes_path(self, disk_id: str, cycle: int) -> str:
        return os.path.join(self.folder, f"{_safe_name(disk_id)}.hashes-{cycle}.bin")

    def journal_path(self, disk_id: str) -> str:
        return os.path.join(self.folder, f"{_safe_name(disk_id)}.journal")

    def forget_disk(self, disk_id: str) -> None:
        prefix = _safe_name(disk_id) + "."
        for name in os.listdir(self.folder) if os.path.isdir(self.folder) else []:
            if name.startswith(prefix):
                os.unlink(os.path.join(self.folder, name))
        self.values.get("disks", {}).pop(disk_id, None)

    def forget(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.values = {}


class Uploader:
    """Sends a disk's batches on a few threads, each with its own kept-alive connection, retrying each
    batch until it is acknowledged; `acknowledged` is called for every batch, in any order."""

    def __init__(self, replicator: Replicator, acknowledged: Callable[[Batch], None], header: dict, size_bytes: int):
        self.replicator, self.acknowledged, self.header, self.size_bytes = replicator, acknowledged, header, size_bytes
        self.queue: queue.Queue = queue.Queue(QUEUED_BATCHES)
        self.failure: BaseException | None = None
        self.stopped = threading.Event()
        self.threads = [
            threading.Thread(target=self._work, name=f"upload-{index}", daemon=True) for index in range(SENDING_THREADS)
        ]
        for thread in self.threads:
            thread.start()

    def submit(self, batch: Batch) -> None:
        while True:
            self._raise_failure()
            try:
                self.queue.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Wait for every batch to be acknowledged (or for the reason they never will be)."""
        for _ in self.threads:
            while True:
                try:
                    self.queue.put(None, timeout=0.2)
                    break
                except queue.Full:
                    if self.failure is not None:
                        self._drain()
        for thread in self.threads:
            thread.join()
        self._raise_failure()

    def abort(self) -> None:
        if self.failure is None:
            self.failure = Cancelled()
        self.stopped.set()
        self._drain()
        for _ in self.threads:
            with contextlib.suppress(queue.Full):
                self.queue.put_nowait(None)
        for thread in self.threads:
            thread.join()

    def _drain(self) -> None:
        try:
            while True:
                self.queue.get_nowait()
        except queue.Empty:
            pass

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure
        if self.replicator.cancelled.is_set():
            self.failure = Cancelled()
            raise self.failure

    def _work(self) -> None:
        connection: client.BatchConnection | None = None
        try:
            while True:
                batch = self.queue.get()
                if batch is None:
                    return
                if self.failure is not None:
                    continue
                try:
                    connection = self._deliver(batch, connection)
                    self.acknowledged(batch)
                except (Cancelled, DiskDropped) as error:
                    self.failure = self.failure or error
                except Exception as error:  # noqa: BLE001 (a checkpoint that cannot be written stops the disk)
                    self.failure = self.failure or error
        finally:
            if connection is not None:
                connection.close()

    def _deliver(self, batch: Batch, connection: client.BatchConnection | None) -> client.BatchConnection:
        delay = RETRY_FIRST_SECONDS
        failing = False
        while True:
            credentials = self.replicator.credentials()
            if connection is None or connection.base_url != credentials["appliance"]:
                if connection is not None:
                    connection.close()
                connection = client.BatchConnection(credentials["appliance"])
            header = {
                "agentId": credentials["agentId"],
                "secret": credentials["secret"],
                **self.header,
                "sequence": batch.sequence,
                "scannedBytes": min(batch.end_block * BLOCK_SIZE, self.size_bytes),
                "blockSize": BLOCK_SIZE,
                "marker": batch.marker,
            }
            try:
                connection.post(BATCHES_PATH, [encode_batch_prefix(header), batch.records])
                if failing:
                    self.replicator.log(f"Batches reach the process server again (sequence {batch.sequence}).")
                return connection
            except client.ApplianceError as error:
                if error.status == 404:
                    raise DiskDropped(error.message) from None
                if not failing:
                    self.replicator.log(
                        f"Batch {batch.sequence} of disk {self.header['diskId']} not acknowledged, retrying: "
                        f"{error.message}"
                    )
                failing = True
            self._pause(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.stopped.is_set() or self.replicator.cancelled.is_set():
                raise Cancelled()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.stopped.wait(min(left, 0.2))


def _hash_disk_range(snapshot, end: int, whole_disk: DiskSha256) -> None:
    """Feed the disk's bytes [0, end) to whole_disk, reading only its data extents."""
    for extent_start, extent_end in snapshot.extents():
        offset, stop = max(extent_start, whole_disk.position), min(extent_end, end)
        while offset < stop:
            length = min(CHUNK_BLOCKS * BLOCK_SIZE, stop - offset)
            whole_disk.add(offset, memoryview(snapshot.read(offset, length))[:length])
            offset += length
    whole_disk.add(end, b"")


class DiskCycle:
    """One disk's part of one cycle: scan, send, checkpoint, and at the end keep the new table."""

    def __init__(self, replicator: Replicator, state: ItemState, plan: dict, running: dict):
        self.replicator, self.state, self.plan = replicator, state, plan
        self.disk_id, self.full = plan["diskId"], plan["full"]
        self.cycle, self.captured_at = running["cycle"], running["capturedAt"]
        # A shut-down simulated machine's disks read as they were when it stopped; cycles planned
        # before this field existed read at their capturedAt.
        self.read_at = running.get("readAt", self.captured_at)
        self.final = bool(running.get("final"))
        self.sha256: str | None = None
        self.disk = state.values["disks"][self.disk_id]
        self.ack_lock = threading.Lock()
        self.acked: dict[int, Batch] = {}
        self.sent_blocks = self.sent_bytes = 0

    def run(self, spec: dict) -> None:
        started = time.monotonic()
        progress = self.disk.get("progress")
        if progress and progress["cycle"] != self.cycle:
            progress = None
        table = BlockHashes()
        if not self.full and self.disk.get("hashesCycle"):
            table = BlockHashes.load(self.state.hashes_path(self.disk_id, self.disk["hashesCycle"]))
        journal_path = self.state.journal_path(self.disk_id)
        if progress:
            with open(journal_path, "a+b") as handle:
                handle.truncate(progress["journalBytes"])  # entries written after the checkpoint
                handle.seek(0)
                table.apply_journal(handle.read())
        else:
            progress = {"cycle": self.cycle, "offset": 0, "nextSequence": self.disk["nextSequence"], "journalBytes": 0}
            with open(journal_path, "wb"):
                pass
            self.disk["progress"] = progress
            self.state.save()
        self.progress = progress
        self.next_acked = progress["nextSequence"]
        self.unsaved_journal = bytearray()
        self.unsaved_bytes, self.saved_at = 0, time.monotonic()
        self.journal = open(journal_path, "ab")  # noqa: SIM115 (kept for the cycle, closed below)
        source = open_source(spec, self.replicator.machine_id)
        try:
            snapshot = source.snapshot(self.read_at)
            self.size_bytes = snapshot.size_bytes
            uploader = Uploader(
                self.replicator,
                self._acknowledged,
                {"itemId": self.state.values["itemId"], "diskId": self.disk_id, "cycle": self.cycle, "full": self.full},
                self.size_bytes,
            )
            try:
                self._scan(snapshot, table, uploader, progress["offset"], progress["nextSequence"])
                uploader.finish()
            except BaseException:
                uploader.abort()
                raise
        finally:
            source.close()
            self.journal.close()
        self._complete(table)
        self.replicator.log(
            f"Cycle {self.cycle} disk {self.disk_id}: {'final ' if self.final else ''}"
            f"{'full' if self.full else 'delta'}, {self.sent_blocks} blocks, "
            f"{self.sent_bytes / 1048576:.1f} MiB sent, {time.monotonic() - started:.1f} s"
        )

    def _scan(self, snapshot, table: BlockHashes, uploader: Uploader, start_block: int, sequence: int) -> None:
        size, full = self.size_bytes, self.full
        total_blocks = block_count(size)
        digest = ContentDigest()
        if start_block:
            digest.add_table(table, start_block)
        batch = Batch(start_block)
        position = start_block
        cancelled = self.replicator.cancelled
        whole_disk = DiskSha256() if self.final and size <= SHA256_LIMIT_BYTES else None
        if whole_disk is not None and start_block:
            # Resumed after a restart: hash what was read before the checkpoint again. The source is
            # shut down, so it reads the same.
            _hash_disk_range(snapshot, min(start_block * BLOCK_SIZE, size), whole_disk)

        def send(end_block: int, marker: dict | None = None) -> None:
            nonlocal batch, sequence
            batch.end_block, batch.marker, batch.sequence = end_block, marker, sequence
            sequence += 1
            uploader.submit(batch)
            self.sent_blocks += batch.block_count
            self.sent_bytes += batch.data_bytes
            batch = Batch(end_block)

        def add_zero(index: int) -> None:
            if batch.block_count >= MAX_BATCH_RECORDS:
                send(index)
            batch.records += RECORD.pack(index, 0)
            batch.journal += JOURNAL_ENTRY.pack(index, NO_HASH)
            batch.block_count += 1
            table.set(index, NO_HASH)

        def clear_gap(end_block: int) -> None:
            """Blocks outside the data extents are zeros: the ones the replica holds data for are zeroed."""
            if not full:
                for index in list(table.non_zero(position, end_block)):
                    add_zero(index)

        for extent_start, extent_end in snapshot.extents():
            first, end = extent_start // BLOCK_SIZE, min(block_count(extent_end), total_blocks)
            if end <= position:
                continue
            first = max(first, position)
            clear_gap(first)
            position = first
            while position < end:
                if cancelled.is_set():
                    raise Cancelled()
                piece_end = min(end, (position // CHUNK_BLOCKS + 1) * CHUNK_BLOCKS)
                offset = position * BLOCK_SIZE
                length = min(piece_end * BLOCK_SIZE, size) - offset
                data = snapshot.read(offset, length)
                hashes = hash_blocks(data, length)
                if whole_disk is not None:
                    whole_disk.add(offset, memoryview(data)[:length])
                digest.add(position, hashes)
                joined = b"".join(hashes)
                if full:
                    changed = [index for index, value in enumerate(hashes) if value != NO_HASH]
                else:
                    old = table.get_range(position, piece_end)
                    changed = [] if old == joined else self._differences(old, hashes)
                if changed:
                    table.set_range(position, joined)
                    taken = 0
                    while taken < len(changed):
                        # Every record holds at most a block, so this many fit whatever they hold.
                        room = min(
                            (MAX_BATCH_DATA - batch.data_bytes) // BLOCK_SIZE, MAX_BATCH_RECORDS - batch.block_count
                        )
                        if room <= 0:
                            send(position + changed[taken])
                            continue
                        chosen = changed[taken : taken + room]
                        _add_records(batch, position, data, length, hashes, chosen)
                        taken += len(chosen)
                position = piece_end
                if position - batch.start_block >= PROGRESS_BLOCKS:
                    send(position)
        clear_gap(total_blocks)
        marker = {
            "cycle": self.cycle,
            "digest": digest.hexdigest(size),
            "sizeBytes": size,
            "capturedAt": int(self.captured_at),
        }
        if self.final:
            marker["final"] = True
            if whole_disk is not None:
                self.sha256 = marker["sha256"] = whole_disk.hexdigest(size)
        send(total_blocks, marker)

    @staticmethod
    def _differences(old: bytes, hashes: list[bytes]) -> list[int]:
        return [index for index, value in enumerate(hashes) if old[index * 16 : index * 16 + 16] != value]

    def _acknowledged(self, batch: Batch) -> None:
        """Record acknowledged batches in sequence order; checkpoint now and then."""
        with self.ack_lock:
            self.acked[batch.sequence] = batch
            advanced = False
            while self.next_acked in self.acked:
                done = self.acked.pop(self.next_acked)
                self.unsaved_journal += done.journal
                self.unsaved_bytes += done.data_bytes
                self.progress["offset"] = done.end_block
                self.next_acked += 1
                advanced = True
            if advanced and (
                self.unsaved_bytes >= self.replicator.checkpoint_bytes
                or time.monotonic() - self.saved_at >= self.replicator.checkpoint_seconds
            ):
                self._checkpoint()

    def _checkpoint(self) -> None:
        self.journal.write(self.unsaved_journal)
        self.journal.flush()
        os.fsync(self.journal.fileno())
        self.progress["journalBytes"] = self.journal.tell()
        self.progress["nextSequence"] = self.next_acked
        self.unsaved_journal = bytearray()
        self.unsaved_bytes, self.saved_at = 0, time.monotonic()
        self.state.save()

    def _complete(self, table: BlockHashes) -> None:
        """Keep the cycle's table, then say so; the old table goes only once the state names the new."""
        table.save(self.state.hashes_path(self.disk_id, self.cycle))
        previous = self.disk.get("hashesCycle")
        self.disk.update(
            hashesCycle=self.cycle,
            nextSequence=self.next_acked,
            resyncGeneration=self.plan["resyncGeneration"],
            sizeBytes=self.size_bytes,
            progress=None,
        )
        self.plan["done"] = True
        if self.final:
            self.plan["sha256"] = self.sha256  # for the final sync's log line, even after a restart
        self.state.save()
        if previous and previous != self.cycle:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.state.hashes_path(self.disk_id, previous))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.state.journal_path(self.disk_id))


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
    ):
        self.state_dir, self.machine_id = state_dir, machine_id
        self.shutdown_command = shutdown_command
        self.disk_specs = {str(spec["diskId"]): spec for spec in disk_specs}
        self.credentials = credentials
        self.cycle_seconds_override = cycle_seconds
        self.checkpoint_bytes, self.checkpoint_seconds = checkpoint_bytes, checkpoint_seconds
        self.log = log or (lambda line: print(line, flush=True))
        self.entry: dict | None = None
        self.entry_lock = threading.Lock()
        self.changed = threading.Event()
        self.cancelled = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.state = ItemState(state_dir)
        self.last_error: str | None = None

    # Control

    def update(self, entry: dict | None) -> None:
        with self.entry_lock:
            previous, self.entry = self.entry, entry
            if entry is None or (previous is not None and previous.get("itemId") != entry.get("itemId")):
                self.cancelled.set()
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
                if self.last_error:
                    self.last_error = None
            except Cancelled:
                wait = 0
            except Exception as error:  # noqa: BLE001 (a disk that cannot be read now may be readable later)
                if str(error) != self.last_error:
                    self.log(f"Replication paused: {error}")
                self.last_error = str(error)
                wait = RETRY_MAX_SECONDS
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
        if not self.state.exists:
            self.state.values = {
                "itemId": entry["itemId"],
                "completedCycle": max(0, int(entry.get("nextCycle") or 1) - 1),
                "lastCycleStartedAt": None,
                "running": None,
                "disks": {},
            }
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
