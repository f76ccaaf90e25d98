"""Sending a disk's batches to the appliance's process server: a few threads, each with its own
kept-alive connection, retrying each batch until it is acknowledged (docs/replication-protocol.md)."""

from __future__ import annotations

import bisect
import contextlib
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from agent import client
from agent.blocks import BLOCK_SIZE, encode_batch_prefix

if TYPE_CHECKING:
    from agent.replicator import Replicator

BATCHES_PATH = "/ps-api/v1/batches"
SENDING_THREADS = 2
QUEUED_BATCHES = 2


class Cancelled(Exception):
    """Replication of the server stopped, or the agent is stopping: leave the state as checkpointed."""


class DiskDropped(Exception):
    """The hub no longer replicates the disk (404): forget it."""


class Batch:
    """A batch being filled or sent. Its records are records[:length]: the buffer may be one a delivered
    batch gave back (RecordBuffers), longer than what this batch wrote into it so far."""

    __slots__ = (
        "sequence",
        "start_block",
        "end_block",
        "records",
        "length",
        "journal",
        "block_count",
        "data_bytes",
        "marker",
    )

    def __init__(self, start_block: int, records: bytearray | None = None):
        self.sequence = 0
        self.start_block = self.end_block = start_block
        self.records = bytearray() if records is None else records
        self.length = 0
        self.journal = bytearray()
        self.block_count = self.data_bytes = 0
        self.marker: dict | None = None

    def add(self, part) -> None:
        """Append part to the records. A slice assignment writes over a reused buffer in place and
        grows it past its end, so the bytes are copied once, straight from the disk's read buffer."""
        end = self.length + len(part)
        self.records[self.length : end] = part
        self.length = end

    def body(self) -> memoryview:
        return memoryview(self.records)[: self.length]


# Idle record buffers an uploader keeps for the disk's next batches: a 16 MiB batch written into fresh
# memory paid the kernel's page faults and zeroing for every page, about a third of the copy's cost.
# The pool lives as long as the disk's cycle, so an idle agent holds none.
KEPT_RECORD_BUFFERS = SENDING_THREADS + QUEUED_BATCHES


class RecordBuffers:
    def __init__(self, kept: int = KEPT_RECORD_BUFFERS):
        self.kept = kept
        self.lock = threading.Lock()
        self.idle: list[bytearray] = []

    def take(self) -> bytearray | None:
        with self.lock:
            return self.idle.pop() if self.idle else None

    def give(self, buffer: bytearray) -> None:
        try:  # a buffer something still views cannot grow later (BufferError): it is not kept
            buffer.append(0)
            del buffer[-1]
        except BufferError:
            return
        with self.lock:
            if len(self.idle) < self.kept:
                self.idle.append(buffer)


class DataExtents:
    """The disk's data extents in this cycle (its used space; a device without SEEK_DATA is one extent),
    so each batch can say how much of the data to send has been read: the portal's initial replication
    percentage counts that, not the whole disk."""

    def __init__(self, extents: list[tuple[int, int]], size_bytes: int):
        self.ranges = [(start, min(end, size_bytes)) for start, end in extents if start < min(end, size_bytes)]
        self.starts = [start for start, _ in self.ranges]
        self.before_range = [0]
        for start, end in self.ranges:
            self.before_range.append(self.before_range[-1] + end - start)
        self.total_bytes = self.before_range[-1]

    def bytes_before(self, offset: int) -> int:
        """Data bytes of the extents that lie before `offset`."""
        index = bisect.bisect_right(self.starts, offset) - 1
        if index < 0:
            return 0
        start, end = self.ranges[index]
        return self.before_range[index] + min(offset, end) - start


class Uploader:
    """Sends a disk's batches on a few threads, each with its own kept-alive connection, retrying each
    batch until it is acknowledged; `acknowledged` is called for every batch, in any order."""

    def __init__(self, replicator: Replicator, acknowledged: Callable[[Batch], None], header: dict, size_bytes: int):
        self.replicator, self.acknowledged, self.header, self.size_bytes = replicator, acknowledged, header, size_bytes
        self.data_extents: DataExtents | None = None  # set by the disk's scan once it knows them
        self.queue: queue.Queue = queue.Queue(QUEUED_BATCHES)
        self.buffers = RecordBuffers()
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
                    # Delivered: its records are no longer needed (a checkpoint keeps its journal).
                    records, batch.records, batch.length = batch.records, bytearray(), 0
                    self.buffers.give(records)
                    self.acknowledged(batch)
                except (Cancelled, DiskDropped) as error:
                    self.failure = self.failure or error
                except Exception as error:  # noqa: BLE001 (a checkpoint that cannot be written stops the disk)
                    self.failure = self.failure or error
        finally:
            if connection is not None:
                connection.close()

    def _data_progress(self, batch: Batch) -> dict:
        extents = self.data_extents
        if extents is None:
            return {}
        return {
            "dataScannedBytes": extents.bytes_before(min(batch.end_block * BLOCK_SIZE, self.size_bytes)),
            "dataTotalBytes": extents.total_bytes,
        }

    def _deliver(self, batch: Batch, connection: client.BatchConnection | None) -> client.BatchConnection:
        delay = self.replicator.retry_first_seconds
        failing = False
        while True:
            credentials = self.replicator.batch_credentials()
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
                **self._data_progress(batch),
                "blockSize": BLOCK_SIZE,
                "marker": batch.marker,
            }
            try:
                connection.post(BATCHES_PATH, [encode_batch_prefix(header), batch.body()])
                if failing:
                    self.replicator.log(f"Batches reach the process server again (sequence {batch.sequence}).")
                return connection
            except client.ApplianceError as error:
                if error.status == 404:
                    raise DiskDropped(error.message) from None
                if error.retry_after:
                    # The process server is busy, not failing: wait as long as it says (spread a little,
                    # so the agents it turned away do not all come back at once), then send the batch again.
                    self._pause(error.retry_after * random.uniform(1.0, 1.5))
                    continue
                if not failing:
                    self.replicator.log(
                        f"Batch {batch.sequence} of disk {self.header['diskId']} not acknowledged, retrying: "
                        f"{error.message}"
                    )
                failing = True
            self._pause(delay)
            delay = min(delay * 2, self.replicator.retry_max_seconds)

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.stopped.is_set() or self.replicator.cancelled.is_set():
                raise Cancelled()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.stopped.wait(min(left, 0.2))
