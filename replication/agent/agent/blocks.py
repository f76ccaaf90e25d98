"""The replication protocol's shared definitions (docs/replication-protocol.md): 4 KiB blocks, their
SHA-256-derived block hashes, the content digest, batch encoding, and the table of block hashes the agent keeps
per disk. The hub has its own copy of the definitions; the two must agree byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator

BLOCK_SIZE = 4096
BATCH_MAGIC = b"MHB1"
# A batch's block data. Every process server takes 4 MiB; one that takes more says how much in the
# replication entry of its heartbeat answer (`batchDataBytes`), and a cycle's batches are cut at what
# it offered when the cycle was planned, up to MAX_BATCH_DATA. Larger batches cost the hub far less per
# byte (its fixed per-request and per-apply costs are paid once per batch).
LEGACY_BATCH_DATA = 4 * 1024 * 1024
MAX_BATCH_DATA = 16 * 1024 * 1024
RECORD = struct.Struct("<QI")  # block index, data length (0: the block is now all zeros)
INDEX = struct.Struct("<Q")
JOURNAL_ENTRY = struct.Struct("<Q16s")  # block index, its hash (NO_HASH: zero)
ZERO_BLOCK = bytes(BLOCK_SIZE)
# The table stores zero blocks as 16 zero bytes rather than the zero block's hash: a fresh bytearray is
# then an all-zero disk, and "anything non-zero in this range?" is a plain byte comparison.
NO_HASH = bytes(16)


def batch_data_bytes(offered) -> int:
    """The block data per batch for an offer (a process server's `batchDataBytes`, or a kept plan's):
    whole blocks from LEGACY_BATCH_DATA to MAX_BATCH_DATA; LEGACY_BATCH_DATA for anything else (an
    older process server offers nothing)."""
    if not isinstance(offered, int) or isinstance(offered, bool) or offered < LEGACY_BATCH_DATA:
        return LEGACY_BATCH_DATA
    return min(offered, MAX_BATCH_DATA) // BLOCK_SIZE * BLOCK_SIZE


def block_hash(block) -> bytes:
    """The first 16 bytes of the block's SHA-256: SHA-256 runs on the CPU's SHA extensions through
    OpenSSL, about three times faster here than blake2b, and 128 bits are plenty to notice a change."""
    return hashlib.sha256(block).digest()[:16]


ZERO_HASH = block_hash(ZERO_BLOCK)


def block_count(size_bytes: int) -> int:
    return -(-size_bytes // BLOCK_SIZE)


def hash_blocks(data, length: int) -> list[bytes]:
    """The hashes of the blocks in data[:length], NO_HASH for zero blocks. Only the last block may be
    short. Zero blocks are found with a memcmp (bytes.startswith), far cheaper than hashing them."""
    view = memoryview(data)
    whole = length - length % BLOCK_SIZE
    sha256, starts_with, zero = hashlib.sha256, data.startswith, ZERO_BLOCK
    hashes = [
        NO_HASH if starts_with(zero, offset) else sha256(view[offset : offset + BLOCK_SIZE]).digest()[:16]
        for offset in range(0, whole, BLOCK_SIZE)
    ]
    if whole < length:
        tail = view[whole:length]
        hashes.append(NO_HASH if not any(tail) else block_hash(tail))
    return hashes


class ContentDigest:
    """SHA-256 over (index, hash) of every non-zero block in increasing order, then the disk's size."""

    def __init__(self):
        self._sha = hashlib.sha256()

    def add(self, first_index: int, hashes: list[bytes]) -> None:
        pack = INDEX.pack
        self._sha.update(
            b"".join(
                [pack(first_index + position) + value for position, value in enumerate(hashes) if value != NO_HASH]
            )
        )

    def add_table(self, table: BlockHashes, end_block: int) -> None:
        """Blocks [0, end_block) as the table holds them: a resumed cycle's digest of what it read
        before the checkpoint (a delta cycle's table then holds exactly what the cycle read)."""
        for chunk_index in sorted(table.chunks):
            first = chunk_index * CHUNK_BLOCKS
            if first >= end_block:
                break
            count = min(CHUNK_BLOCKS, end_block - first)
            chunk = table.chunks[chunk_index]
            self.add(first, [bytes(chunk[position * 16 : position * 16 + 16]) for position in range(count)])

    def hexdigest(self, size_bytes: int) -> str:
        final = self._sha.copy()
        final.update(size_bytes.to_bytes(8, "little"))
        return final.hexdigest()


# The whole disk's SHA-256, sent with a final cycle's marker (Migrate with shutdown) so the migrated VM's
# disk can be checked byte for byte. Beyond this size hashing the zeros alone takes too long; the
# hub's limit for the VM's disk is the same.
SHA256_LIMIT_BYTES = 16 * 1024**3
# Zeros are fed to SHA-256 from this one buffer, a megabyte per call, never allocated per gap.
ZERO_CHUNK = memoryview(bytes(1024 * 1024))


class DiskSha256:
    """SHA-256 of a disk's bytes, fed the pieces read in increasing offset order; the bytes between
    pieces (holes, space outside a synthetic disk's used extents) are zeros."""

    def __init__(self):
        self._sha = hashlib.sha256()
        self.position = 0

    def add(self, offset: int, data) -> None:
        if offset < self.position:
            raise ValueError(f"disk bytes at {offset} hashed out of order (already at {self.position})")
        self._zeros_to(offset)
        self._sha.update(data)
        self.position = offset + len(data)

    def _zeros_to(self, end: int) -> None:
        while self.position < end:
            count = min(len(ZERO_CHUNK), end - self.position)
            self._sha.update(ZERO_CHUNK[:count])
            self.position += count

    def hexdigest(self, size_bytes: int) -> str:
        self._zeros_to(size_bytes)
        return self._sha.hexdigest()


def content_digest_of(data: bytes) -> str:
    """The digest of a whole disk held in memory (tests, small images)."""
    digest = ContentDigest()
    digest.add(0, hash_blocks(data, len(data)))
    return digest.hexdigest(len(data))


# Batches


def encode_batch_prefix(header: dict) -> bytes:
    """Magic, header length and header: the records follow to the end of the body."""
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return BATCH_MAGIC + len(encoded).to_bytes(4, "little") + encoded


def decode_batch(body) -> tuple[dict, memoryview]:
    view = memoryview(body)
    if len(view) < 8 or bytes(view[:4]) != BATCH_MAGIC:
        raise ValueError("not a replication batch (it must start with MHB1)")
    length = int.from_bytes(view[4:8], "little")
    if 8 + length > len(view):
        raise ValueError("the batch header runs past the end of the body")
    return json.loads(bytes(view[8 : 8 + length])), view[8 + length :]


def iter_records(records) -> Iterator[tuple[int, memoryview | None]]:
    """(index, data) per record; data None for a zero record."""
    view = memoryview(records)
    position = 0
    while position < len(view):
        if position + RECORD.size > len(view):
            raise ValueError("a record header is cut short")
        index, length = RECORD.unpack_from(view, position)
        position += RECORD.size
        if length > BLOCK_SIZE or position + length > len(view):
            raise ValueError(f"record for block {index} has a bad length {length}")
        yield index, (view[position : position + length] if length else None)
        position += length


# The per-disk hash table

CHUNK_BLOCKS = 1024  # 4 MiB of disk per chunk of the table
CHUNK_TABLE_BYTES = CHUNK_BLOCKS * 16
EMPTY_CHUNK = bytes(CHUNK_TABLE_BYTES)
TABLE_MAGIC = b"MHT1"


class BlockHashes:
    """16 bytes per block, allocated 4 MiB of disk (16 KiB of table) at a time and only where the disk
    holds data: a sparse 2 TB disk with 64 MiB in use costs 256 KiB, a full 2 GiB image 8 MiB."""

    def __init__(self):
        self.chunks: dict[int, bytearray] = {}

    def get_range(self, first: int, end: int) -> bytes:
        parts = []
        position = first
        while position < end:
            chunk_index, offset = divmod(position, CHUNK_BLOCKS)
            count = min(CHUNK_BLOCKS - offset, end - position)
            chunk = self.chunks.get(chunk_index)
            parts.append(EMPTY_CHUNK[: count * 16] if chunk is None else chunk[offset * 16 : (offset + count) * 16])
            position += count
        return b"".join(parts)

    def set_range(self, first: int, values: bytes) -> None:
        position, consumed = first, 0
        while consumed < len(values):
            chunk_index, offset = divmod(position, CHUNK_BLOCKS)
            count = min(CHUNK_BLOCKS - offset, (len(values) - consumed) // 16)
            part = values[consumed : consumed + count * 16]
            chunk = self.chunks.get(chunk_index)
            if chunk is None:
                if part.count(0) != len(part):
                    chunk = self.chunks[chunk_index] = bytearray(CHUNK_TABLE_BYTES)
                    chunk[offset * 16 : (offset + count) * 16] = part
            else:
                chunk[offset * 16 : (offset + count) * 16] = part
            position += count
            consumed += count * 16

    def set(self, index: int, value: bytes) -> None:
        self.set_range(index, value)

    def non_zero(self, first: int, end: int) -> Iterator[int]:
        """Indices in [first, end) whose block is not zero, in increasing order."""
        for chunk_index in sorted(self.chunks):
            chunk_first = chunk_index * CHUNK_BLOCKS
            if chunk_first + CHUNK_BLOCKS <= first:
                continue
            if chunk_first >= end:
                break
            chunk = self.chunks[chunk_index]
            low, high = max(first, chunk_first) - chunk_first, min(end, chunk_first + CHUNK_BLOCKS) - chunk_first
            if chunk.count(0, low * 16, high * 16) == (high - low) * 16:
                continue
            for position in range(low, high):
                if chunk[position * 16 : position * 16 + 16] != NO_HASH:
                    yield chunk_first + position

    def apply_journal(self, journal: bytes) -> None:
        for index, value in JOURNAL_ENTRY.iter_unpack(journal):
            self.set(index, value)

    def save(self, path: str) -> None:
        """Atomically: a crash leaves the old table or the new one, never half of each."""
        kept = sorted(index for index, chunk in self.chunks.items() if chunk != EMPTY_CHUNK)
        parts = [TABLE_MAGIC, len(kept).to_bytes(8, "little")]
        for index in kept:
            parts += [index.to_bytes(8, "little"), bytes(self.chunks[index])]
        write_atomically(path, b"".join(parts))

    @classmethod
    def load(cls, path: str) -> BlockHashes:
        with open(path, "rb") as handle:
            data = handle.read()
        if data[:4] != TABLE_MAGIC:
            raise ValueError(f"{path} is not a block hash table")
        table = cls()
        count = int.from_bytes(data[4:12], "little")
        position = 12
        for _ in range(count):
            index = int.from_bytes(data[position : position + 8], "little")
            table.chunks[index] = bytearray(data[position + 8 : position + 8 + CHUNK_TABLE_BYTES])
            position += 8 + CHUNK_TABLE_BYTES
        return table


def write_atomically(path: str, data: bytes) -> None:
    temporary = f"{path}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
