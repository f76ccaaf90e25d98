"""Writing recovery-point chunks into packs (replication/chunk_packs.py): while a full cycle is applied
(ChunkCutter, its chunks named from the apply's block hashes) and when a point is recorded from the
replica (store_chunks, the chunks written since the previous point). What the manifests that name them
say is replication/point_manifests.py's.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat

from hub.object_store import store, unsynced_writes
from replication.chunk_packs import (
    BLOCKS_PER_CHUNK,
    CHUNK_BYTES,
    PACK_BYTES,
    PackBuilder,
    Place,
    chunk_sha,
    chunk_sha_of_blocks,
    item_prefix,
    pack_name,
    zero_block_sha,
)
from replication.replica_files import BLOCK_SIZE

# The lease holder's renew is offered every this many chunks (it renews at most every few seconds): every
# 256 chunks let a loaded host's lease lapse mid-point (chunks were one Blob request each then), so that
# another worker applied beside it.
RENEW_CHUNKS = 8

_ZERO_CHUNK = bytes(CHUNK_BYTES)
READ_BYTES = 4 * 1024 * 1024  # adjacent chunks are read from the replica this many bytes at a time


def store_chunks(
    objects, prefix: str, descriptor: int, indexes, size: int, chunks: dict, places: dict, *, known: dict, renew=None
) -> int:
    """Read the chunks `indexes` (ascending) from the replica, runs of adjacent ones in one read, and
    name those holding data in `chunks` (index -> chunk_sha) and `places` (index -> Place, for those in
    packs); an all-zero chunk leaves both. A chunk unchanged at its index, or in `known` (chunk_sha ->
    place, None for its own object: the base's chunks), is named where it is, with no store lookup; the
    others are stored in packs of up to PACK_BYTES, each chunk once per call. Returns the bytes stored."""
    known = dict(known)
    stored, count = 0, 0
    puts = _Puts(objects)
    pack, pending = PackBuilder(), []  # pending: (index, slot) of the chunks in the pack being filled
    in_pack: dict[bytes, int] = {}  # chunk_sha -> slot in the pack being filled

    def pack_put() -> None:
        sha = pack.sha()
        puts.put(pack_name(prefix, sha), pack.data())
        for index, slot in pending:
            places[index] = known[chunks[index]] = (sha, slot)

    position, total = 0, len(indexes)
    while position < total:
        first = indexes[position]
        last = position
        span = READ_BYTES // CHUNK_BYTES
        while last + 1 < total and indexes[last + 1] == indexes[last] + 1 and last + 1 - position < span:
            last += 1
        offset = first * CHUNK_BYTES
        data = os.pread(descriptor, min((last + 1 - position) * CHUNK_BYTES, size - offset), offset)
        view = memoryview(data)
        for number in range(last + 1 - position):
            index, start = first + number, number * CHUNK_BYTES
            piece = view[start : start + CHUNK_BYTES]
            count += 1
            if renew is not None and count % RENEW_CHUNKS == 0:
                renew()
            # A memcmp against zeros: far cheaper than looking at the bytes in Python.
            if data.startswith(_ZERO_CHUNK, start) if len(piece) == CHUNK_BYTES else not any(piece):
                chunks.pop(index, None)
                places.pop(index, None)
                continue
            sha = chunk_sha(piece)
            if chunks.get(index) == sha:  # unchanged since the base: it stays where the base has it
                continue
            chunks[index] = sha
            if sha in known:
                place = known[sha]
                if place is None:
                    places.pop(index, None)
                else:
                    places[index] = place
                continue
            slot = in_pack.get(sha)
            if slot is None:
                slot = in_pack[sha] = pack.add(sha, len(piece), piece=piece)
                stored += len(piece)
            pending.append((index, slot))
            if pack.size >= PACK_BYTES or len(piece) < CHUNK_BYTES:  # a short chunk is its pack's last
                pack_put()
                pack, pending, in_pack = PackBuilder(), [], {}
        position = last + 1
    if pending:
        pack_put()
    puts.wait()
    return stored


PUTS_IN_FLIGHT = 2  # pack writes at once to a backend whose put is a network round trip (16 MiB each)


class _Puts:
    """Pack writes: in the calling thread for local files, and up to PUTS_IN_FLIGHT at once from a small
    pool for Blob or S3, where each is a round trip the replica's next reads need not wait for. `wait`
    returns once all are stored, raising the first failure."""

    def __init__(self, objects):
        self.objects = objects
        self.pool = None if hasattr(objects, "unsynced_writes") else _put_pool()
        self.pending: deque = deque()

    def put(self, name: str, data) -> None:
        if self.pool is None:
            self.objects.put(name, data)
            return
        self.pending.append(self.pool.submit(self.objects.put, name, data))
        while len(self.pending) >= PUTS_IN_FLIGHT:
            self.pending.popleft().result()

    def wait(self) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            for future in self.pending:
                future.cancel()


_put_pools: dict[int, ThreadPoolExecutor] = {}  # process id -> its pool (a forked worker makes its own)


def _put_pool() -> ThreadPoolExecutor:
    pool = _put_pools.get(os.getpid())
    if pool is None:
        pool = _put_pools[os.getpid()] = ThreadPoolExecutor(PUTS_IN_FLIGHT, thread_name_prefix="pack-put")
    return pool


# The chunks a full cycle remembers having stored, to store a repeated one once; past this many they are
# forgotten (about 100 bytes each): a repeated chunk is then stored again, which costs only its bytes.
WRITTEN_KEPT = 100_000


class ChunkCutter:
    """A full cycle's chunks, cut and stored while the cycle is applied rather than by reading the whole
    replica again when its point is recorded. The applier's running digest (apply_records.CycleDigest)
    gives it the SHA-256 of each non-zero block it writes (`blocks`) and, once the cycle has moved past
    a chunk, calls `cut`: the chunk is named from its blocks' hashes (a block not written is zero), and
    the chunks of one call go into one pack, copied from the replica without passing through Python where
    the store can copy file ranges (local files). At the marker `done` leaves the chunk map for
    manifest_write. It holds only while the cycle is applied in order by one process (the data path's
    running digest decides); local packs are written without a sync each, made durable together by
    manifest_write's sync before the manifest names them; Blob and S3 packs are sent from the small put
    pool while the next batch is applied, all stored before the marker's cut returns. A cycle cut short
    leaves unnamed packs, which the sweep deletes."""

    def __init__(self, item, disk_pk, cycle: int, size_bytes: int):
        self.objects, self.prefix = store(), item_prefix(item)
        self.disk_pk, self.cycle, self.size_bytes = disk_pk, cycle, size_bytes
        self.blocks: dict[int, bytes] = {}  # block index -> SHA-256 of its bytes, for blocks not yet cut
        self.chunks: dict[int, bytes] = {}
        self.places: dict[int, Place] = {}
        self.stored = 0
        self.written: dict[bytes, Place] = {}  # chunk_sha -> where this cycle stored it
        # Blob and S3 puts go through the small pool, so the next batch is applied while a pack is sent;
        # each is waited for before the cycle's marker is committed (the last `cut`) and in `done`.
        self.puts = _Puts(self.objects)
        _cut_chunks.pop((disk_pk, cycle), None)

    def cut(self, descriptor: int, below: int | None = None) -> None:
        """Store the chunks below index `below` (every one when None) that hold a written block, as one
        pack: the cycle, written in ascending order, will write nothing more into them."""
        touched = set(map(BLOCKS_PER_CHUNK.__rfloordiv__, self.blocks))  # the blocks not yet cut: a batch's
        ready = sorted(index for index in touched if below is None or index < below)
        if not ready:
            if below is None:
                self.puts.wait()
            return
        size, blocks, pack = self.size_bytes, self.blocks, PackBuilder()
        pending: list[tuple[int, int]] = []  # (index, slot) of the chunks in this call's pack
        in_pack: dict[bytes, int] = {}
        disk_blocks = -(-size // BLOCK_SIZE)
        if size % BLOCK_SIZE and ready[-1] == (disk_blocks - 1) // BLOCKS_PER_CHUNK:
            blocks.setdefault(disk_blocks - 1, zero_block_sha(size % BLOCK_SIZE))  # the disk's short last block
        for index in ready:
            first = index * BLOCKS_PER_CHUNK
            stop = min(first + BLOCKS_PER_CHUNK, disk_blocks)
            offset = index * CHUNK_BYTES
            length = min(CHUNK_BYTES, size - offset)
            shas = b"".join(map(blocks.pop, range(first, stop), repeat(zero_block_sha())))
            sha = self.chunks[index] = chunk_sha_of_blocks(length, shas)
            place = self.written.get(sha)  # a chunk repeated within the cycle is stored once
            if place is not None:
                self.places[index] = place
                continue
            slot = in_pack.get(sha)
            if slot is None:
                slot = in_pack[sha] = pack.add(sha, length, offset=offset)
                self.stored += length
            pending.append((index, slot))
        if pending:
            if self.puts.pool is None:  # local files: copied in the kernel, synced by manifest_write
                with unsynced_writes(self.objects):
                    sha = pack.put_from_file(self.objects, self.prefix, descriptor)
                _start_writeback(self.objects, pack_name(self.prefix, sha), descriptor, ready[0], ready[-1])
            else:  # read here (the replica's descriptor is the caller's), sent from the pool
                sha = pack.sha()
                self.puts.put(pack_name(self.prefix, sha), pack.read_from_file(descriptor))
            if len(self.written) >= WRITTEN_KEPT:  # a huge disk: a repeated chunk is stored again, not remembered
                self.written.clear()
            for index, slot in pending:
                self.places[index] = self.written[self.chunks[index]] = (sha, slot)
        if below is None:
            self.puts.wait()  # the last cut, at the marker: every pack stored before the marker commits

    def done(self) -> None:
        """The cycle's replica is verified: its chunk map is what its point's manifest will name."""
        self.puts.wait()
        self.written.clear()
        if len(_cut_chunks) > 64:
            _cut_chunks.clear()
        _cut_chunks[(self.disk_pk, self.cycle)] = self


def _start_writeback(objects, name: str, replica: int, first: int, last: int) -> None:
    """Start writing the new pack, and the replica's chunks first..last it was copied from, to disk now,
    without waiting. Left to the kernel, a cycle's packs stayed dirty in memory (its writeback waits for
    a tenth of the RAM or 30 s) until the point's sync wrote them all at once, after the last batch, and
    the replica's every 64 MiB sync wrote its share while the apply waited; started here, the disk works
    while the next batches are applied. (POSIX_FADV_DONTNEED starts the writeback of a file's dirty pages
    and drops only the pages already clean: these are read again only to rebuild a copy.)"""
    if not hasattr(os, "posix_fadvise"):
        return  # macOS has no fadvise: the point's sync alone makes the packs durable there
    try:
        pack = os.open(objects.path(name), os.O_RDONLY)
    except OSError:
        return  # only a hint: the point's sync still makes the pack durable
    try:
        os.posix_fadvise(pack, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(pack)
    os.posix_fadvise(replica, first * CHUNK_BYTES, (last + 1 - first) * CHUNK_BYTES, os.POSIX_FADV_DONTNEED)


_cut_chunks: dict = {}  # (disk pk, cycle) -> its verified full cycle's ChunkCutter, until its point


def take_cut_chunks(disk_pk, cycle: int) -> ChunkCutter | None:
    """The verified full cycle's ChunkCutter, once (point_manifests.manifest_write names its chunks)."""
    return _cut_chunks.pop((disk_pk, cycle), None)
