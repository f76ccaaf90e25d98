"""Chunks of recovery points: how they are named (chunk_sha), and packs, the new chunks of one write
stored together as one object.

A chunk (replication/point_manifests.py) is still 64 KiB and named by its chunk_sha; what changed is
where its bytes are kept. One object per chunk cost a 2 GiB disk 32,768 files (or requests), each
created, closed and renamed, and that was half of the hub worker's time in a full cycle. Now the chunks
one write stores (a ChunkCutter.cut call: one batch's chunks; manifest_write: up to PACK_BYTES of new
chunks at a time) are concatenated into one pack, and a manifest entry says which pack and slot hold a
chunk. Slot n starts at n * CHUNK_BYTES: every chunk is CHUNK_BYTES long but a disk's short last one,
which, having the highest index of its disk, is always its pack's last slot.

A pack is named by its content: the SHA-256 over a tag and its chunks' chunk_sha in slot order, so a
write repeated after a crash names (and overwrites with the same bytes) the same object, and equal names
mean equal bytes. Its chunks are checked against their chunk_sha when read, as a chunk object's were.

A pack stays whole while any manifest names it, even for one slot: storage still grows with the data
changed (a changed chunk goes into a new pack; the unchanged ones stay where they are), but a pack whose
other slots were overwritten since keeps them until no point names it any more. Repacking such packs
(copying their live slots into a new pack) is future work.

    {account}/points/{item id}/packs/{sha[:2]}/{sha}.pack
"""

from __future__ import annotations

import hashlib
import operator
import os
from collections.abc import Callable, Iterable, Iterator
from functools import cache

from hub.object_store import ObjectStore, put_ranges
from replication.replica_files import BLOCK_SIZE, storage_account_name

CHUNK_BYTES = 64 * 1024
BLOCKS_PER_CHUNK = CHUNK_BYTES // BLOCK_SIZE
# How a manifest's chunks are named (its header's "chunkNaming"): BLOCK_NAMING now; BYTES_NAMING (no
# "chunkNaming") in manifests written before.
BLOCK_NAMING, BYTES_NAMING = "sha256-of-block-sha256s", "sha256"
_CHUNK_TAG = b"MHC2"
_PACK_TAG = b"MHP1"
# manifest_write's packs are at most this large (a ChunkCutter's are a batch's chunks, at most 16 MiB
# too): a pack is one request to Blob or S3, held in memory once.
PACK_BYTES = 16 * 1024 * 1024
# Adjacent slots of one pack are read in one ranged get of at most this many bytes.
READ_BYTES = 4 * 1024 * 1024

Place = tuple[bytes, int]  # (the pack's SHA-256, the chunk's slot in it)


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


def pack_sha(chunk_shas: Iterable[bytes]) -> bytes:
    return hashlib.sha256(_PACK_TAG + b"".join(chunk_shas)).digest()


def pack_name(prefix: str, sha: bytes) -> str:
    text = sha.hex()
    return f"{prefix}/packs/{text[:2]}/{text}.pack"


class PackBuilder:
    """One pack as its chunks are added (`add` gives each its slot), then written by `put_from_file`
    (the chunks are ranges of an open replica) or `pieces` (their bytes, for a caller that read them)."""

    def __init__(self):
        self.shas: list[bytes] = []
        self.ranges: list[list[int]] = []  # [offset, length] in the replica, adjacent ones merged
        self.pieces: list = []
        self.size = 0

    def __len__(self) -> int:
        return len(self.shas)

    def add(self, sha: bytes, length: int, offset: int | None = None, piece=None) -> int:
        """Add a chunk of `length` bytes, at `offset` of the replica or given as `piece`; its slot."""
        if self.size % CHUNK_BYTES:
            raise ValueError("a short chunk can only be a pack's last")  # slots are found by multiplying
        slot = len(self.shas)
        self.shas.append(sha)
        self.size += length
        if piece is not None:
            self.pieces.append(piece)
        elif self.ranges and sum(self.ranges[-1]) == offset:
            self.ranges[-1][1] += length
        else:
            self.ranges.append([offset, length])
        return slot

    def sha(self) -> bytes:
        return pack_sha(self.shas)

    def put_from_file(self, objects: ObjectStore, prefix: str, descriptor: int) -> bytes:
        """Write the pack from the replica's ranges (one kernel copy per run of adjacent chunks on local
        files); returns its SHA-256."""
        sha = self.sha()
        put_ranges(objects, pack_name(prefix, sha), descriptor, [tuple(pair) for pair in self.ranges])
        return sha

    def read_from_file(self, descriptor: int) -> bytes:
        """The pack's bytes, read from the replica's ranges (for a backend that is sent bytes)."""
        pieces = []
        for offset, length in self.ranges:
            data = os.pread(descriptor, length, offset)
            if len(data) < length:
                raise ValueError(f"the replica ends before {offset + length}")
            pieces.append(data)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def data(self) -> bytes:
        return b"".join(self.pieces)


def read_chunks(
    objects: ObjectStore, wanted: Iterable[tuple[int, int, Place | None]], prefix: str, own_object: Callable
) -> Iterator[tuple[int, bytes]]:
    """(index, data) for each (index, length, place) in `wanted`, in its order: a chunk in a pack is read
    with the adjacent slots of that pack that follow it in `wanted`, in one ranged get of at most
    READ_BYTES; a chunk without a place (written before packs) from its own object, `own_object(index)`.
    The caller checks each chunk against its chunk_sha."""
    group: list[tuple[int, int]] = []  # (index, length) of consecutive slots of one pack
    group_place: Place | None = None

    def flush() -> Iterator[tuple[int, bytes]]:
        sha, first_slot = group_place
        total = sum(length for _, length in group)
        data = objects.get(pack_name(prefix, sha), first_slot * CHUNK_BYTES, total)
        view, start = memoryview(data), 0
        for index, length in group:
            yield index, bytes(view[start : start + length])
            start += length

    for index, length, place in wanted:
        if group and (
            place is None
            or place[0] != group_place[0]
            or place[1] != group_place[1] + len(group)
            or (len(group) + 1) * CHUNK_BYTES > READ_BYTES
        ):
            yield from flush()
            group = []
        if place is None:
            yield index, objects.get(own_object(index))
            continue
        if not group:
            group_place = place
        group.append((index, length))
    if group:
        yield from flush()
