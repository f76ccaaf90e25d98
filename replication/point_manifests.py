"""Recovery points as manifests of content-addressed chunks: the durable truth of a replica.

A replica disk is cut into CHUNK_BYTES chunks. A chunk holding any data is stored once, named by its
SHA-256 (`chunk_sha`: a SHA-256 over its 4 KiB blocks' SHA-256s, see there); a point's manifest (one
per disk per point) gives, for each chunk index that holds data, that SHA-256. Two points that share
a chunk share its object, so storage grows with the data that changed between points, not with their
number. A manifest is itself incremental: it names
the previous point's manifest as its base and lists only the chunks that changed (a zero hash: the
chunk became all zero), and every MAX_DEPTH points, or when the change is large, it is whole again;
so a point with little changed costs little, however large the disk.

Chunks are 64 KiB: a scattered 4 KiB write costs one chunk of new storage (bench/point_storage.py
measures 1 MiB chunks at ~90x the bytes changed for scattered writes), and a 2 GiB disk's whole
manifest stays near 1 MiB. All of it goes through hub/object_store.py,
under the project's cache storage account:

    {account}/points/{item id}/chunks/{sha[:2]}/{sha}.blk
    {account}/points/{item id}/manifests/{disk id}/{cycle:012d}

(Manifests written before chunks were named from their blocks name chunks by the SHA-256 of their
bytes, without the ".blk": they stay readable, and the next point after them is written whole.)

Chunks are shared within an item only: pruning (which deletes chunks no manifest names) then runs
under the item's apply lease, the same lease that writes the item's manifests, so a sweep can never
delete a chunk a point being recorded has just relied on.

A worker's replica file is a working copy: `restore` rebuilds it (or writes a VM's disk) from a
manifest. Recording a point reads only the chunks written since the previous manifest (the disk's
`dirty_chunks`, kept by the data path as it applies), so a point costs the data changed, once. A full
cycle's chunks are cut while it is applied (ChunkCutter), so its point only names them, and the
apply's hashes of the blocks (replication/apply_records.py) name them: the data is hashed once.

Why one module of over 500 lines: it is the only code that knows the store's layout of a point (the
chunk names and both namings, the manifest's encoding, incremental bases and depth); writing, cutting,
restoring and sweeping all depend on those rules, and a split would spread one format over several
modules that each import its private parts.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import struct
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from itertools import repeat
from pathlib import Path

from hub.object_store import ObjectMissing, batched_writes, put_range, store, unsynced_writes
from replication.replica_files import (
    BLOCK_SIZE,
    data_extents,
    hash_zeros,
    sparse_write_with_digests,
    storage_account_name,
)

CHUNK_BYTES = 64 * 1024
BLOCKS_PER_CHUNK = CHUNK_BYTES // BLOCK_SIZE
MANIFEST_MAGIC = b"MHM1"
ENTRY = struct.Struct("<Q32s")  # chunk index, the chunk's SHA-256 (chunk_sha)
# How a manifest's chunks are named (its header's "chunkNaming"): BLOCK_NAMING now; BYTES_NAMING (no
# "chunkNaming") in manifests written before.
BLOCK_NAMING, BYTES_NAMING = "sha256-of-block-sha256s", "sha256"
_CHUNK_TAG = b"MHC2"
GONE = bytes(32)  # in an incremental manifest: the chunk is all zero now
# An incremental manifest's chain of bases is at most this long; a delta larger than a quarter of the
# whole is written whole.
MAX_DEPTH = 16
# The lease holder's renew is offered every this many chunks (it renews at most every few seconds): with
# the Blob backend a chunk is one or two HTTP requests, and every 256 chunks let a loaded host's lease
# lapse mid-point, so that another worker applied beside it.
RENEW_CHUNKS = 8
# Above this many dirty chunks, a disk's list gives way to "every chunk" (None): the list stays small.
DIRTY_LIMIT = 100_000


def item_prefix(item) -> str:
    return f"{storage_account_name(item.project)}/points/{item.pk}"


def chunk_name(prefix: str, sha: bytes, naming: str = BLOCK_NAMING) -> str:
    """A chunk's object. The two namings' objects never share a name (".blk"), so content addressing
    holds across them: a chunk's bytes are never taken for another's under the other naming."""
    text = sha.hex()
    return f"{prefix}/chunks/{text[:2]}/{text}" + (".blk" if naming == BLOCK_NAMING else "")


def chunk_sha(data, naming: str = BLOCK_NAMING) -> bytes:
    """A chunk's SHA-256 under `naming`. BLOCK_NAMING: the SHA-256 of a tag, the chunk's length and the
    SHA-256 of each of its 4 KiB blocks (the last one shorter at a disk's end) in order; the length
    fixes how many blocks there are, so equal names mean equal blocks, hence equal bytes, unless SHA-256
    collides. The applying worker has the blocks' hashes already (the protocol's content digest needs
    them), so a full cycle's chunks are named without hashing their bytes twice."""
    if naming == BYTES_NAMING:
        return hashlib.sha256(data).digest()
    view = memoryview(data)
    size = len(view)
    blocks = map(
        view.__getitem__, map(slice, range(0, size, BLOCK_SIZE), range(BLOCK_SIZE, size + BLOCK_SIZE, BLOCK_SIZE))
    )
    return chunk_sha_of_blocks(size, b"".join(map(_digest_of, map(hashlib.sha256, blocks))))


_digest_of = operator.methodcaller("digest")


def chunk_sha_of_blocks(size: int, block_shas: bytes) -> bytes:
    """chunk_sha (BLOCK_NAMING) of a chunk of `size` bytes from its blocks' SHA-256s, joined in order."""
    return hashlib.sha256(_CHUNK_TAG + size.to_bytes(8, "little") + block_shas).digest()


@cache
def zero_block_sha(length: int = BLOCK_SIZE) -> bytes:
    return hashlib.sha256(bytes(length)).digest()


def manifest_name(prefix: str, disk_pk, cycle: int) -> str:
    return f"{prefix}/manifests/{disk_pk}/{cycle:012d}"


@dataclass
class Manifest:
    """One disk at one point: its size and, per chunk index holding data, the chunk's SHA-256 (resolved
    through the chain of bases); `cycle`, and `depth` (how many bases it stands on)."""

    size_bytes: int
    chunks: dict[int, bytes] = field(default_factory=dict)
    cycle: int = 0
    depth: int = 0
    naming: str = BLOCK_NAMING  # how its chunks are named (chunk_sha)


def _encode(size_bytes: int, entries: dict[int, bytes], base: int | None, depth: int, **about) -> bytes:
    """A manifest object; its chunks are named as chunk_sha names them now (BLOCK_NAMING)."""
    header = json.dumps(
        {
            "sizeBytes": size_bytes,
            "chunkBytes": CHUNK_BYTES,
            "chunkNaming": BLOCK_NAMING,
            "base": base,
            "depth": depth,
            **about,
        }
    ).encode()
    body = b"".join(ENTRY.pack(index, entries[index]) for index in sorted(entries))
    return MANIFEST_MAGIC + len(header).to_bytes(4, "little") + header + body


def _decode(data: bytes) -> tuple[dict, dict[int, bytes]]:
    """(header, entries) of one manifest object."""
    if data[:4] != MANIFEST_MAGIC:
        raise ValueError("not a recovery point manifest")
    length = int.from_bytes(data[4:8], "little")
    header = json.loads(data[8 : 8 + length])
    if header.get("chunkBytes") != CHUNK_BYTES:
        raise ValueError(f"manifest chunks of {header.get('chunkBytes')} bytes, not {CHUNK_BYTES}")
    if _naming(header) not in (BLOCK_NAMING, BYTES_NAMING):
        raise ValueError(f"manifest chunks named by {_naming(header)!r}")
    return header, dict(ENTRY.iter_unpack(memoryview(data)[8 + length :]))


def _naming(header: dict) -> str:
    return header.get("chunkNaming", BYTES_NAMING)


def _read(item, disk_pk, cycle: int) -> tuple[dict, dict[int, bytes]] | None:
    try:
        return _decode(store().get(manifest_name(item_prefix(item), disk_pk, cycle)))
    except ObjectMissing:
        return None


def manifest_load(item, disk_pk, cycle: int) -> Manifest | None:
    """The manifest of a point, resolved through its bases; None when it (or a base) is missing."""
    chain = []
    next_cycle: int | None = cycle
    while next_cycle is not None and len(chain) <= MAX_DEPTH:
        read = _read(item, disk_pk, next_cycle)
        if read is None:
            return None
        chain.append(read)
        next_cycle = read[0].get("base")
    if next_cycle is not None:
        raise ValueError(f"manifest chain of cycle {cycle} is longer than {MAX_DEPTH}")
    if len({_naming(header) for header, _ in chain}) > 1:
        raise ValueError(f"manifest chain of cycle {cycle} mixes chunk namings")  # never written so
    chunks: dict[int, bytes] = {}
    for _, entries in reversed(chain):
        for index, sha in entries.items():
            if sha == GONE:
                chunks.pop(index, None)
            else:
                chunks[index] = sha
    header = chain[0][0]
    return Manifest(header["sizeBytes"], chunks, cycle, header.get("depth", 0), _naming(header))


def manifest_chain(item, disk_pk, cycle: int) -> list[int]:
    """The cycles whose manifest objects a point's manifest needs: its own and its bases'."""
    cycles: list[int] = []
    next_cycle: int | None = cycle
    while next_cycle is not None and len(cycles) <= MAX_DEPTH:
        read = _read(item, disk_pk, next_cycle)
        if read is None:
            break
        cycles.append(next_cycle)
        next_cycle = read[0].get("base")
    return cycles


def _data_chunk_indexes(descriptor: int, size: int) -> list[int]:
    """The chunk indexes that hold any of the file's data extents (a sparse replica's holes are skipped)."""
    indexes: list[int] = []
    for start, stop in data_extents(descriptor, min(size, os.fstat(descriptor).st_size)):
        first, last = start // CHUNK_BYTES, (stop - 1) // CHUNK_BYTES
        indexes.extend(range(max(first, indexes[-1] + 1 if indexes else 0), last + 1))
    return indexes


def manifest_write(
    item, disk, cycle: int, replica: Path, base: Manifest | None, dirty, renew=None
) -> tuple[Manifest, int]:
    """Write the manifest of `disk` at `cycle` from its replica: `base` (the previous point's manifest)
    with the `dirty` chunk indexes read again, or every data chunk when there is no base or dirty is None.
    Incremental over `base` when it can be. Returns the manifest and the bytes of new chunks it stored.
    `renew` is called as it goes: the caller's apply lease must outlive a long write."""
    objects, prefix = store(), item_prefix(item)
    size = disk.size_bytes
    stored = 0
    cut = _cut_chunks.pop((disk.pk, cycle), None)
    if cut is not None and cut.size_bytes == size:
        # Cut while the full cycle was applied (ChunkCutter): its chunks are stored, and one sync makes
        # them durable before the manifest that names them.
        with batched_writes(objects):
            pass
        manifest = Manifest(size, dict(cut.chunks), cycle=cycle)
        data = _encode(size, manifest.chunks, None, 0, itemId=str(item.pk), diskId=disk.disk_id, cycle=cycle)
        objects.put(manifest_name(prefix, disk.pk, cycle), data)
        return manifest, cut.stored
    try:
        handle = open(replica, "rb")  # noqa: SIM115 (closed below; the extent walk needs the descriptor)
    except FileNotFoundError:
        handle = None
    manifest = Manifest(size, cycle=cycle)
    # A base whose chunks are named otherwise (written before BLOCK_NAMING) cannot be built on.
    whole = base is None or dirty is None or base.size_bytes != size or base.naming != BLOCK_NAMING
    indexes: list[int] = []
    if handle is not None:
        with handle:
            descriptor = handle.fileno()
            if whole:
                indexes = _data_chunk_indexes(descriptor, size)
            else:
                manifest.chunks = dict(base.chunks)
                indexes = sorted(index for index in set(dirty) if index * CHUNK_BYTES < size)
            # The chunks become durable together, before the manifest that names them is written.
            with batched_writes(objects):
                # A first point (no base) finds none of its chunks stored, bar the leftovers of an attempt
                # cut short, which are rewritten alike: no lookup per chunk then.
                stored = _chunks_store(
                    objects, prefix, descriptor, indexes, size, manifest.chunks, look_up=base is not None, renew=renew
                )
    if handle is None:
        whole = True  # no replica: an all-zero disk
    changed = {} if whole else {index: manifest.chunks.get(index, GONE) for index in indexes}
    changed = {index: sha for index, sha in changed.items() if base.chunks.get(index, GONE) != sha} if changed else {}
    if whole or base.depth >= MAX_DEPTH or len(changed) * 4 > max(len(manifest.chunks), 1):
        data = _encode(size, manifest.chunks, None, 0, itemId=str(item.pk), diskId=disk.disk_id, cycle=cycle)
    else:
        manifest.depth = base.depth + 1
        data = _encode(size, changed, base.cycle, manifest.depth, itemId=str(item.pk), diskId=disk.disk_id, cycle=cycle)
    objects.put(manifest_name(prefix, disk.pk, cycle), data)
    return manifest, stored


_ZERO_CHUNK = bytes(CHUNK_BYTES)
READ_BYTES = 4 * 1024 * 1024  # adjacent chunks are read from the replica this many bytes at a time
WRITTEN_KEPT = 100_000  # names of chunks written, kept to skip writing a repeated chunk twice


def _chunks_store(
    objects, prefix: str, descriptor: int, indexes, size: int, chunks: dict, *, look_up: bool, written=None, renew=None
) -> int:
    """Read the chunks `indexes` (ascending) from the replica, runs of adjacent ones in one read, and
    store those holding data; `chunks` (index -> SHA-256) is updated, an all-zero chunk leaving it.
    `look_up`: ask the store whether a chunk is there before writing it (else each is written once per
    call, or per `written`, the names written so far). Returns the bytes of chunks written."""
    stored, count = 0, 0
    written = set() if written is None else written
    puts = _Puts(objects)
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
                continue
            sha = chunk_sha(piece)
            chunks[index] = sha
            name = chunk_name(prefix, sha)
            if name in written or (look_up and objects.exists(name)):
                continue
            puts.put(name, piece)
            if len(written) >= WRITTEN_KEPT:  # a huge disk: a repeated chunk is written again, not remembered
                written.clear()
            written.add(name)
            stored += len(piece)
        position = last + 1
    puts.wait()
    return stored


PUTS_IN_FLIGHT = 8  # chunk writes at once to a backend whose put is a network round trip


class _Puts:
    """Chunk writes: in the calling thread for local files (a put there is a few system calls), and up to
    PUTS_IN_FLIGHT at once from a small pool for Blob or S3, where each is a round trip of its own and
    one at a time would leave a point's tens of thousands of chunks waiting on latency. `wait` returns
    once all are stored, raising the first failure."""

    def __init__(self, objects):
        self.objects = objects
        self.pool = None if hasattr(objects, "unsynced_writes") else _put_pool()
        self.pending: deque = deque()

    def put(self, name: str, data) -> None:
        self._call(self.objects.put, name, data)

    def put_range(self, name: str, descriptor: int, offset: int, length: int) -> None:
        """A put of the file's bytes offset..offset + length (hub/object_store.put_range)."""
        self._call(put_range, self.objects, name, descriptor, offset, length)

    def _call(self, function, *args) -> None:
        if self.pool is None:
            function(*args)
            return
        self.pending.append(self.pool.submit(function, *args))
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
        pool = _put_pools[os.getpid()] = ThreadPoolExecutor(PUTS_IN_FLIGHT, thread_name_prefix="chunk-put")
    return pool


class ChunkCutter:
    """A full cycle's chunks, cut and stored while the cycle is applied rather than by reading the whole
    replica again when its point is recorded. The applier's running digest (apply_records.CycleDigest)
    gives it the SHA-256 of each non-zero block it writes (`blocks`) and, once the cycle has moved past
    a chunk, calls `cut`: the chunk is named from its blocks' hashes (a block not written is zero), and
    its bytes go from the replica to the store without passing through Python where the store can copy
    a file range (local files). At the marker `done` leaves the chunk map for manifest_write. It holds
    only while the cycle is applied in order by one process (the data path's running digest decides);
    the chunks are written without a sync each, made durable together by manifest_write's sync before
    the manifest names them. A cycle cut short leaves unnamed chunks, which the sweep deletes."""

    def __init__(self, item, disk_pk, cycle: int, size_bytes: int):
        self.objects, self.prefix = store(), item_prefix(item)
        self.disk_pk, self.cycle, self.size_bytes = disk_pk, cycle, size_bytes
        self.blocks: dict[int, bytes] = {}  # block index -> SHA-256 of its bytes, for blocks not yet cut
        self.chunks: dict[int, bytes] = {}
        self.stored = 0
        self.written: set[str] = set()
        _cut_chunks.pop((disk_pk, cycle), None)

    def cut(self, descriptor: int, below: int | None = None) -> None:
        """Store the chunks below index `below` (every one when None) that hold a written block: the
        cycle, written in ascending order, will write nothing more into them."""
        touched = set(map(BLOCKS_PER_CHUNK.__rfloordiv__, self.blocks))  # the blocks not yet cut: a batch's
        ready = sorted(index for index in touched if below is None or index < below)
        if not ready:
            return
        size, blocks, puts = self.size_bytes, self.blocks, _Puts(self.objects)
        disk_blocks = -(-size // BLOCK_SIZE)
        if size % BLOCK_SIZE and ready[-1] == (disk_blocks - 1) // BLOCKS_PER_CHUNK:
            blocks.setdefault(disk_blocks - 1, zero_block_sha(size % BLOCK_SIZE))  # the disk's short last block
        with unsynced_writes(self.objects):
            for index in ready:
                first = index * BLOCKS_PER_CHUNK
                stop = min(first + BLOCKS_PER_CHUNK, disk_blocks)
                offset = index * CHUNK_BYTES
                length = min(CHUNK_BYTES, size - offset)
                shas = b"".join(map(blocks.pop, range(first, stop), repeat(zero_block_sha())))
                sha = self.chunks[index] = chunk_sha_of_blocks(length, shas)
                name = chunk_name(self.prefix, sha)
                if name in self.written:  # a chunk repeated within the cycle is written once
                    continue
                puts.put_range(name, descriptor, offset, length)
                if len(self.written) >= WRITTEN_KEPT:
                    self.written.clear()
                self.written.add(name)
                self.stored += length
            puts.wait()

    def done(self) -> None:
        """The cycle's replica is verified: its chunk map is what its point's manifest will name."""
        self.written.clear()
        if len(_cut_chunks) > 64:
            _cut_chunks.clear()
        _cut_chunks[(self.disk_pk, self.cycle)] = self


_cut_chunks: dict = {}  # (disk pk, cycle) -> its verified full cycle's ChunkCutter, until its point


def restore(item, manifest: Manifest, target: Path, *, sha256: bool, renew=None) -> tuple[str, str]:
    """Write the disk a manifest describes into a new sparse file, and return its SHA-256 (its holes
    hashed as the zeros they read as; "" unless asked) and the protocol's content digest."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with open(partial, "wb") as writer:
        digests = sparse_write_with_digests(
            writer, _checked_chunks(item, manifest, renew), manifest.size_bytes, sha256=sha256
        )
    os.replace(partial, target)
    return digests


def _checked_chunks(item, manifest: Manifest, renew=None):
    """(position, data) for each chunk the manifest names, in order, each checked against its SHA-256
    (a stored object that does not match is a ValueError, never a silently wrong disk)."""
    objects, prefix = store(), item_prefix(item)
    for count, index in enumerate(sorted(manifest.chunks)):
        if renew is not None and count % RENEW_CHUNKS == 0:
            renew()
        position = index * CHUNK_BYTES
        data = objects.get(chunk_name(prefix, manifest.chunks[index], manifest.naming))
        intact = len(data) == min(CHUNK_BYTES, manifest.size_bytes - position)
        if not intact or chunk_sha(data, manifest.naming) != manifest.chunks[index]:
            raise ValueError(f"chunk {index} of the manifest does not match its stored object")
        yield position, data


def manifest_sha256(item, manifest: Manifest) -> str:
    """The SHA-256 of the disk a manifest describes, read from the store without writing it anywhere:
    what a host with no working copy of the replica (another worker's, the web's) can tell of it."""
    objects, prefix = store(), item_prefix(item)
    whole, hashed_to = hashlib.sha256(), 0
    for index in sorted(manifest.chunks):
        data = objects.get(chunk_name(prefix, manifest.chunks[index], manifest.naming))
        position = index * CHUNK_BYTES
        hash_zeros(whole, position - hashed_to)
        whole.update(data)
        hashed_to = position + len(data)
    hash_zeros(whole, manifest.size_bytes - hashed_to)
    return whole.hexdigest()


def manifests_sweep(item, kept: dict, renew=None) -> None:
    """Delete the manifest objects no kept point needs (`kept`: disk pk -> the kept points' cycles); a
    pruned point's manifest stays while a kept one is built on it. `renew` keeps the caller's lease."""
    objects, prefix = store(), item_prefix(item)
    needed = set()
    for disk_pk, cycles in kept.items():
        for cycle in cycles:
            needed.update(manifest_name(prefix, disk_pk, chained) for chained in manifest_chain(item, disk_pk, cycle))
    for name in list(objects.names(f"{prefix}/manifests/")):
        if name not in needed:
            if renew is not None:
                renew()
            objects.delete(name)


def chunks_sweep(item, renew=None) -> int:
    """Delete the item's chunks that no remaining manifest object names; returns how many went. Run
    under the item's apply lease (see the module's note), which `renew` keeps before each deletion: a
    chunk deleted after the lease lapsed could be one a new holder's point has just named."""
    objects, prefix = store(), item_prefix(item)
    named: set[str] = set()
    for name in objects.names(f"{prefix}/manifests/"):
        try:
            header, entries = _decode(objects.get(name))
        except (ObjectMissing, ValueError):
            continue
        named.update(chunk_name(prefix, sha, _naming(header)) for sha in entries.values() if sha != GONE)
    deleted = 0
    for name in list(objects.names(f"{prefix}/chunks/")):
        if name not in named:
            if renew is not None:
                renew()
            objects.delete(name)
            deleted += 1
    return deleted


def item_points_delete(item) -> None:
    """Every manifest and chunk of the item (its replication stopped)."""
    objects = store()
    for name in list(objects.names(f"{item_prefix(item)}/")):
        objects.delete(name)


def stored_bytes(item) -> int:
    """What the item's points take in the store: every chunk and manifest, each counted once."""
    objects = store()
    return sum(objects.size(name) for name in objects.names(f"{item_prefix(item)}/"))


def merge_dirty(current, written: set[int]):
    """A disk's dirty chunks after `written` more: None (every chunk) stays None and a long list becomes it."""
    if current is None:
        return None
    if not written:
        return current
    merged = sorted(set(current) | written)
    return None if len(merged) > DIRTY_LIMIT else merged
