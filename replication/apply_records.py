"""A stored batch's records written into a replica file, and a full cycle's running digest
(docs/replication-protocol.md; the apply loop that calls these is replication/data_path.py).

A batch decompresses to records, each a block number, a length and the block's bytes. They are
checked against the disk and the batch (`check_records`), then written run by run of adjacent blocks,
one pwritev each, straight from the decompressed buffer (`write_records`).

While a full cycle is applied in order, `CycleDigest` hashes each block written once, with SHA-256: the
first 16 bytes feed the protocol's content digest, checked at the marker without reading the replica
again, and the whole hash goes to the cycle's ChunkCutter (replication/point_manifests.py), which
names the point's 64 KiB chunks from their blocks' hashes instead of hashing their bytes again. The
bulk of a full cycle (batches of whole 4 KiB blocks) is hashed, parsed and written with C-level
iteration (map, compress, struct), not a Python statement per block.
"""

from __future__ import annotations

import hashlib
import operator
import os
import struct
from functools import lru_cache
from itertools import chain, compress, repeat

import zstandard

from replication.chunk_cutting import ChunkCutter
from replication.chunk_packs import CHUNK_BYTES
from replication.replica_files import BLOCK_SIZE, ZERO_BLOCK

RECORD = struct.Struct("<QI")
WHOLE_RECORD = struct.Struct(f"<QI{BLOCK_SIZE}x")  # a record of a whole block, its data skipped
IOV_LIMIT = 1024  # Linux's IOV_MAX: buffers per pwritev
MAX_RECORDS_BYTES = 64 * 1024 * 1024  # a batch's records decompress to at most this
_digest_of = operator.methodcaller("digest")


class RecordsBuffer:
    """Where one apply task decompresses its batches, one at a time: the records of the last batch, valid
    until the next. A new bytes object per batch (16 MiB for a full cycle's) cost the kernel a page fault
    and a zeroed page per 4 KiB each time, about half of the decompression's CPU; this buffer is faulted
    in once per task. It keeps the bytes' interface (a bytearray sized to the records: CPython keeps the
    allocation when it shrinks by less than half, and grows within it), so the code reading the records
    is the same for both."""

    def __init__(self):
        self.buffer = bytearray()

    def decompress(self, compressed) -> bytearray | bytes:
        """The records of a zstd frame; zstandard.ZstdError when it is corrupt, or holds more than
        MAX_RECORDS_BYTES or other than the size its header declares."""
        size = zstandard.frame_content_size(compressed)
        if size > MAX_RECORDS_BYTES:  # (decompress's max_output_size bounds only frames of no declared size)
            raise zstandard.ZstdError(f"the frame declares {size} bytes, more than a batch holds")
        if size < 0 or size < len(self.buffer) // 2:
            # No size declared (a streamed frame), or small next to the buffer (shrinking it to fit would
            # give its allocation back): a bytes object of its own, as before.
            return zstandard.ZstdDecompressor().decompress(compressed, max_output_size=MAX_RECORDS_BYTES)
        buffer = self._sized(size)
        view = memoryview(buffer)
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(compressed, read_across_frames=False)
            filled = 0
            while filled < size:
                count = reader.readinto(view[filled:])
                if not count:
                    break
                filled += count
            if filled != size or reader.read(1):
                raise zstandard.ZstdError(f"the frame holds other than the {size} bytes its header declares")
        finally:
            view.release()
        return buffer

    def _sized(self, size: int) -> bytearray:
        buffer = self.buffer
        try:
            if len(buffer) > size:
                del buffer[size:]
            elif len(buffer) < size:
                buffer += bytes(size - len(buffer))
        except BufferError:  # a view of the last records is still held somewhere: leave it be
            buffer = self.buffer = bytearray(size)
        return buffer


class CycleDigest:
    """The content digest of a full cycle's replica, computed as its batches are applied, so the marker
    need not read the replica again. It holds only while the cycle is applied in sequence order in this
    process, from its first batch, with every block written once in ascending order (as the agent sends
    a full cycle); anything else drops it, and the marker reads the replica as before."""

    def __init__(self, disk_pk, cycle: int, next_sequence: int):
        self.disk_pk, self.cycle, self.next_sequence = disk_pk, cycle, next_sequence
        self.next_block = 0
        self.hasher = hashlib.sha256()
        self.cutter: ChunkCutter | None = None  # the cycle's chunks, cut as it is applied

    @classmethod
    def start(cls, disk_pk, cycle: int, sequence: int) -> CycleDigest:
        if len(cycle_digests) > 1000:
            cycle_digests.clear()
        digest = cycle_digests[disk_pk] = cls(disk_pk, cycle, sequence)
        return digest

    def add(self, index: int, records: bytes, start: int, length: int, whole_length: int) -> bool:
        """The block of records[start:start + length] as written (a fresh replica is zeros where a
        record stops short); False when it is out of order, so the digest no longer holds."""
        if index < self.next_block:
            cycle_digests.pop(self.disk_pk, None)
            return False
        self.next_block = index + 1
        if length == BLOCK_SIZE:
            if records.startswith(ZERO_BLOCK, start):  # a memcmp: far cheaper than hashing
                return True
            block = memoryview(records)[start : start + length]
        else:
            block = records[start : start + length] + bytes(whole_length - length)
            if not any(block):
                return True
        sha = hashlib.sha256(block).digest()
        self.hasher.update(index.to_bytes(8, "little") + sha[:16])
        if self.cutter is not None:
            self.cutter.blocks[index] = sha
        return True

    def add_whole_blocks(self, records: bytes, indexes: list[int]) -> bool:
        """`add` for a batch of whole-block records (`indexes` their block numbers), at C speed; False
        (the digest dropped) unless they continue the cycle in ascending order."""
        if indexes[0] < self.next_block or not all(map(int.__lt__, indexes, indexes[1:])):
            cycle_digests.pop(self.disk_pk, None)
            return False
        stride, end = WHOLE_RECORD.size, len(records)
        # A memcmp finds zero blocks far cheaper than hashing them; they are not in the digest.
        data = list(map(operator.not_, map(records.startswith, repeat(ZERO_BLOCK), range(RECORD.size, end, stride))))
        kept = list(compress(indexes, data))
        view = memoryview(records)
        blocks = map(
            view.__getitem__,
            map(
                slice,
                compress(range(RECORD.size, end, stride), data),
                compress(range(RECORD.size + BLOCK_SIZE, end + BLOCK_SIZE, stride), data),
            ),
        )
        shas = list(map(_digest_of, map(hashlib.sha256, blocks)))
        # The protocol's entries: the block number, then its hash's first 16 bytes ("16s" cuts it).
        self.hasher.update(_entries(len(kept)).pack(*chain.from_iterable(zip(kept, shas, strict=True))))
        if self.cutter is not None:
            self.cutter.blocks.update(zip(kept, shas, strict=True))
        self.next_block = indexes[-1] + 1
        return True

    def hexdigest(self, size: int) -> str:
        final = self.hasher.copy()
        final.update(size.to_bytes(8, "little"))
        return final.hexdigest()


@lru_cache(maxsize=64)
def _entries(count: int) -> struct.Struct:
    return struct.Struct("<" + "Q16s" * count)


cycle_digests: dict = {}  # disk id -> its full cycle's CycleDigest, while it holds


def cycle_digest(disk_pk, cycle: int, sequence: int) -> CycleDigest | None:
    """The running digest the batch (cycle, sequence) continues, or None (dropped) when it does not."""
    digest = cycle_digests.get(disk_pk)
    if digest is None:
        return None
    if digest.cycle != cycle or digest.next_sequence != sequence:
        cycle_digests.pop(disk_pk, None)
        return None
    return digest


def whole_block_indexes(records: bytes) -> list[int] | None:
    """The block numbers of a batch whose every record holds a whole block (the bulk of a full cycle),
    parsed at C speed; None for any other batch. With every length BLOCK_SIZE, each record starts where
    the fixed stride says, so the parse is the records' own."""
    if not records or len(records) % WHOLE_RECORD.size:
        return None
    pairs = WHOLE_RECORD.iter_unpack(records)
    indexes, lengths = zip(*pairs, strict=True)
    if lengths.count(BLOCK_SIZE) != len(lengths):
        return None
    return list(indexes)


def check_records(records: bytes, size_bytes: int) -> list[int] | None:
    """ValueError unless every record lies within the disk and within the batch: a block number past
    the disk's end, or a length past the block's or the batch's, would fail every apply of the item.
    Returns whole_block_indexes(records), for write_records (parsing them again cost as much as this)."""
    indexes = whole_block_indexes(records)
    if indexes is not None:
        if (max(indexes) + 1) * BLOCK_SIZE > size_bytes:
            raise ValueError(f"record for block {max(indexes)} lies beyond the disk")
        return indexes
    view, position, total = memoryview(records), 0, len(records)
    while position < total:
        if position + RECORD.size > total:
            raise ValueError("the last record is cut short")
        index, length = RECORD.unpack_from(view, position)
        position += RECORD.size + length
        offset = index * BLOCK_SIZE
        if offset >= size_bytes or length > min(BLOCK_SIZE, size_bytes - offset) or position > total:
            raise ValueError(f"record for block {index} (length {length}) lies beyond the disk or the batch")
    return None


_PARSE = object()  # write_records' `indexes` when the caller has not parsed the records


def write_records(
    descriptor: int,
    records: bytes,
    size_bytes: int,
    digest: CycleDigest | None = None,
    dirty: set | None = None,
    *,
    indexes=_PARSE,
) -> int:
    """Write the records at their offsets, each run of adjacent blocks in one pwritev (no copy); feed
    the cycle's running digest, if any, as it goes, and note the chunks each run touches in `dirty`.
    `indexes`: what check_records returned for these records, if the caller has it."""
    if indexes is _PARSE:
        indexes = whole_block_indexes(records)
    if indexes is not None:
        return _write_whole_blocks(descriptor, records, indexes, size_bytes, digest, dirty)
    view = memoryview(records)
    position, total = 0, len(records)
    run_offset, run_length, run_parts, written = -1, 0, [], 0
    unpack = RECORD.unpack_from

    def flush() -> int:
        if not run_parts:
            return 0
        _pwrite_all(descriptor, run_parts, run_offset, run_length)
        if dirty is not None:
            dirty.update(range(run_offset // CHUNK_BYTES, (run_offset + run_length - 1) // CHUNK_BYTES + 1))
        return run_length

    while position < total:
        index, length = unpack(view, position)
        position += RECORD.size
        offset = index * BLOCK_SIZE
        if offset >= size_bytes:
            raise ValueError(f"block {index} lies beyond the disk's end")
        whole_length = min(BLOCK_SIZE, size_bytes - offset)
        if digest is not None and not digest.add(index, records, position, length, whole_length):
            digest = None
        if length == 0:
            data = ZERO_BLOCK[:whole_length]
        else:
            data = view[position : position + length]
            position += length
        if run_parts and offset == run_offset + run_length and len(run_parts) < IOV_LIMIT:
            run_parts.append(data)
            run_length += len(data)
        else:
            written += flush()
            run_offset, run_length, run_parts = offset, len(data), [data]
    written += flush()
    if digest is not None:
        digest.next_sequence += 1
    return written


def _write_whole_blocks(
    descriptor: int, records: bytes, indexes: list[int], size_bytes: int, digest: CycleDigest | None, dirty
) -> int:
    """write_records for a batch of whole blocks, without a Python statement per block: the running
    digest gets its hashes from CycleDigest.add_whole_blocks, and each run of adjacent blocks is one
    pwritev of views into the records."""
    if (indexes[-1] + 1) * BLOCK_SIZE > size_bytes:
        raise ValueError(f"block {indexes[-1]} lies beyond the disk's end")
    if digest is not None and digest.add_whole_blocks(records, indexes):
        digest.next_sequence += 1
    view, stride, header = memoryview(records), WHOLE_RECORD.size, RECORD.size
    count = len(indexes)
    # Where a run of adjacent blocks breaks: the positions whose block does not follow the one before.
    breaks = compress(range(1, count), map(int.__ne__, indexes[1:], map((1).__add__, indexes)))
    first = 0
    for stop in chain(breaks, (count,)):
        while first < stop:
            last = min(stop, first + IOV_LIMIT)
            parts = list(
                map(
                    view.__getitem__,
                    map(slice, range(first * stride + header, last * stride, stride), _ends(first, last)),
                )
            )
            offset, length = indexes[first] * BLOCK_SIZE, (last - first) * BLOCK_SIZE
            _pwrite_all(descriptor, parts, offset, length)
            if dirty is not None:
                dirty.update(range(offset // CHUNK_BYTES, (offset + length - 1) // CHUNK_BYTES + 1))
            first = last
    return count * BLOCK_SIZE


def _ends(first: int, last: int) -> range:
    """Where the data of records first..last-1 ends in a batch of whole-block records."""
    return range((first + 1) * WHOLE_RECORD.size, last * WHOLE_RECORD.size + 1, WHOLE_RECORD.size)


def _pwrite_all(descriptor: int, parts: list, offset: int, length: int) -> None:
    done = os.pwritev(descriptor, parts, offset)
    if done < length:  # a short write (rare on a regular file): the rest in one piece
        rest = memoryview(b"".join(parts))[done:]
        while rest:
            rest = rest[os.pwrite(descriptor, rest, offset + done) :]
            done = length - len(rest)
