"""One disk's part of one replication cycle: read the disk's data extents in 4 MiB pieces, hash every
4 KiB block, compare with the table of the last acknowledged cycle, and send the blocks that changed in
batches of at most the cycle's batch size (4 or 16 MiB of data, fixed when the cycle was planned) while
the next pieces are read. Acknowledged batches are checkpointed (journal and next sequence), so a killed
agent resumes inside the cycle; the cycle's last batch carries the disk's marker (its content digest;
in a final cycle, its SHA-256 too).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import TYPE_CHECKING

from agent.blocks import (
    BLOCK_SIZE,
    CHUNK_BLOCKS,
    JOURNAL_ENTRY,
    NO_HASH,
    RECORD,
    SHA256_LIMIT_BYTES,
    BlockHashes,
    ContentDigest,
    DiskSha256,
    batch_data_bytes,
    block_count,
    hash_blocks,
)
from agent.disks import open_source
from agent.item_state import ItemState
from agent.uploader import Batch, Cancelled, DataExtents, Uploader

if TYPE_CHECKING:
    from agent.replicator import Replicator

# A long scan that finds little to send still closes a batch this often, so the hub sees progress and
# a restart does not read the whole disk again.
PROGRESS_BLOCKS = 1024 * 1024 * 1024 // BLOCK_SIZE
# Zero records carry no data; this bounds a batch of them (a disk wiped by TRIM) to a sane body.
MAX_BATCH_RECORDS = 16384


def _add_records(batch: Batch, first: int, data, length: int, hashes: list[bytes], chosen: list[int]) -> None:
    """Append records for blocks first + i (i in chosen) of data[:length]: each block's bytes are copied
    once, from the read buffer into the batch's records, through a memoryview of the records (cheaper
    per block than slicing the bytearray, and this runs for every block sent)."""
    records, position = batch.records, batch.length
    room = position + len(chosen) * (RECORD.size + BLOCK_SIZE)
    if len(records) < room:  # a new buffer, or one a smaller batch left: grown before it is viewed
        records.extend(bytes(room - len(records)))
    view, pack_into, entry, record_size = memoryview(data), RECORD.pack_into, JOURNAL_ENTRY.pack, RECORD.size
    data_bytes = 0
    with memoryview(records) as target:
        for index in chosen:
            start = index * BLOCK_SIZE
            if hashes[index] == NO_HASH:
                pack_into(target, position, first + index, 0)
                position += record_size
            else:
                block_length = BLOCK_SIZE if start + BLOCK_SIZE <= length else length - start
                pack_into(target, position, first + index, block_length)
                position += record_size
                target[position : position + block_length] = view[start : start + block_length]
                position += block_length
                data_bytes += block_length
    batch.length = position
    batch.journal += b"".join([entry(first + index, hashes[index]) for index in chosen])
    batch.block_count += len(chosen)
    batch.data_bytes += data_bytes


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
        # A cycle planned before batches could be larger has none: 4 MiB, as it started.
        self.batch_data = batch_data_bytes(running.get("batchDataBytes"))
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
                {
                    "itemId": self.state.values["itemId"],
                    "diskId": self.disk_id,
                    "cycle": self.cycle,
                    "full": self.full,
                    # The hub epoch this state belongs to (the hub refuses another epoch's batches).
                    **({"hubEpoch": self.state.values["hubEpoch"]} if self.state.values.get("hubEpoch") else {}),
                },
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
        size, full, batch_data = self.size_bytes, self.full, self.batch_data
        total_blocks = block_count(size)
        digest = ContentDigest()
        if start_block:
            digest.add_table(table, start_block)
        batch = Batch(start_block, uploader.buffers.take())
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
            batch = Batch(end_block, uploader.buffers.take())

        def add_zero(index: int) -> None:
            if batch.block_count >= MAX_BATCH_RECORDS:
                send(index)
            batch.add(RECORD.pack(index, 0))
            batch.journal += JOURNAL_ENTRY.pack(index, NO_HASH)
            batch.block_count += 1
            table.set(index, NO_HASH)

        def clear_gap(end_block: int) -> None:
            """Blocks outside the data extents are zeros: the ones the replica holds data for are zeroed."""
            if not full:
                for index in list(table.non_zero(position, end_block)):
                    add_zero(index)

        extents = snapshot.extents()
        uploader.data_extents = DataExtents(extents, size)
        for extent_start, extent_end in extents:
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
                        room = min((batch_data - batch.data_bytes) // BLOCK_SIZE, MAX_BATCH_RECORDS - batch.block_count)
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
