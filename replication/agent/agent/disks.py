"""Where a disk's data comes from: a real block device or disk image file, read-only; or a synthetic
disk, whose content is computed from a seed and the time, for simulated machines.

A source answers `size_bytes`, `extents()` (byte ranges that may hold data; everything outside them
reads as zeros, so a cycle never walks the empty space of a 2 TB disk) and `read(offset, length)`.
`snapshot(at)` fixes the moment a cycle reads: a synthetic disk then reads the same however often a
resumed cycle reads it, like a volume snapshot; a file is read as it is."""

from __future__ import annotations

import bisect
import errno
import hashlib
import os
import random
import struct

from agent.blocks import BLOCK_SIZE

READ_CHUNK = 4 * 1024 * 1024


class FileDisk:
    """A block device or an image file. Sparse image files are read by their data extents only."""

    def __init__(self, path: str):
        self.path = path
        self._descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self.size_bytes = os.lseek(self._descriptor, 0, os.SEEK_END)
        self._buffer = bytearray(READ_CHUNK)

    def snapshot(self, at: float) -> FileDisk:
        return self

    def extents(self) -> list[tuple[int, int]]:
        if not hasattr(os, "SEEK_DATA"):
            return [(0, self.size_bytes)]
        extents, offset = [], 0
        try:
            while offset < self.size_bytes:
                try:
                    start = os.lseek(self._descriptor, offset, os.SEEK_DATA)
                except OSError as error:
                    if error.errno == errno.ENXIO:  # nothing but holes after offset
                        break
                    raise
                end = min(os.lseek(self._descriptor, start, os.SEEK_HOLE), self.size_bytes)
                extents.append((start, end))
                offset = end
        except OSError:
            return [(0, self.size_bytes)]  # devices and file systems without SEEK_DATA: read it all
        return extents

    def read(self, offset: int, length: int) -> bytearray:
        """data[:length] is the disk at offset; the buffer is reused by the next read."""
        buffer = self._buffer if length == len(self._buffer) else bytearray(length)
        view = memoryview(buffer)
        done = 0
        while done < length:
            count = os.preadv(self._descriptor, [view[done:length]], offset + done)
            if count == 0:
                view[done:length] = bytes(length - done)  # the file shrank: beyond its end is zeros
                break
            done += count
        return buffer

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1


# Synthetic disks

DEFAULT_USED_FRACTION = 0.01
DEFAULT_USED_LIMIT = 64 * 1024 * 1024
DEFAULT_WRITE_BYTES_PER_SECOND = 16 * 1024
RUN_BLOCKS = 64  # data is laid out, and rewritten, in runs of 256 KiB: a file, a table's extent
HOT_FRACTION = 0.2  # runs that are ever rewritten; the rest were written once
EXTENT_BYTES = 16 * 1024 * 1024  # used space comes in pieces of about this size, spread over the disk
MAX_EXTENTS = 32
TEXT_POOL_BYTES = 96 * 1024
RUN_PARAMETERS = struct.Struct("<HHHHQ")
BLOCK_KEY = struct.Struct("<QQ")
VOCABULARY = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there their one all we can has been if more when will would who so no out up "
    "server disk volume backup service request response error warning info debug connection timeout user "
    "session database table index query commit transaction checkpoint replica cluster node storage network "
    "packet address config value default enabled disabled started stopped restarting healthy degraded"
)
WORDS = VOCABULARY.split()


def default_synthetic(machine_id: str, disk_id: str, size_bytes: int) -> dict:
    used = min(int(size_bytes * DEFAULT_USED_FRACTION), DEFAULT_USED_LIMIT)
    return {
        "seed": f"{machine_id}/{disk_id}",
        "usedBytes": max(BLOCK_SIZE, used - used % BLOCK_SIZE),
        "writeBytesPerSecond": DEFAULT_WRITE_BYTES_PER_SECOND,
    }


class SyntheticDisk:
    """A disk whose used space is a few extents spread over it, holding text-like, random-like and
    partly filled blocks, and whose "hot" runs are rewritten periodically at the write rate.

    A block's content is a function of (seed, block, version) and its version a function of the time
    (each hot run has its own period and phase), so any moment's content is computed directly, the
    same after an agent restart, without replaying a history of writes."""

    def __init__(self, size_bytes: int, seed: str, used_bytes: int, write_bytes_per_second: float):
        self.size_bytes = size_bytes
        self._key = hashlib.blake2b(seed.encode(), digest_size=32).digest()
        blocks = -(-size_bytes // BLOCK_SIZE)
        used_blocks = max(0, min(blocks, -(-int(used_bytes) // BLOCK_SIZE)))
        self._extents = self._layout(blocks, used_blocks)
        self._starts = [start for start, _ in self._extents]
        self._text = self._text_pool(seed)
        hot_bytes = used_blocks * BLOCK_SIZE * HOT_FRACTION
        # A hot run is rewritten every base_period * m seconds, m in [0.5, 2): E[1/m] = ln(4)/1.5.
        self._base_period = hot_bytes * 0.924 / write_bytes_per_second if write_bytes_per_second > 0 else 0.0
        self._run_cache: dict[int, tuple[int, bool, float, float]] = {}

    @classmethod
    def from_spec(cls, size_bytes: int, spec: dict) -> SyntheticDisk:
        return cls(
            size_bytes,
            str(spec["seed"]),
            int(spec.get("usedBytes", DEFAULT_USED_LIMIT)),
            float(spec.get("writeBytesPerSecond", DEFAULT_WRITE_BYTES_PER_SECOND)),
        )

    def _layout(self, blocks: int, used_blocks: int) -> list[tuple[int, int]]:
        """Block ranges of the used space: the first at the start of the disk (boot and file system
        metadata), the others placed at random in equal slots of the rest, never overlapping."""
        if used_blocks <= 0:
            return []
        if used_blocks >= blocks:
            return [(0, blocks)]
        count = max(1, min(MAX_EXTENTS, used_blocks * BLOCK_SIZE // EXTENT_BYTES))
        chooser = random.Random(self._key)
        sizes = [used_blocks // count + (1 if index < used_blocks % count else 0) for index in range(count)]
        extents = [(0, sizes[0])]
        rest = blocks - sizes[0]
        for index in range(1, count):
            slot_start = sizes[0] + rest * (index - 1) // (count - 1)
            slot_end = sizes[0] + rest * index // (count - 1)
            start = slot_start + int(chooser.random() * max(0, slot_end - slot_start - sizes[index]))
            extents.append((start, min(start + sizes[index], slot_end)))
        return extents

    @staticmethod
    def _text_pool(seed: str) -> bytes:
        """Log- and config-like text: what makes most real disks compress two to four times."""
        chooser = random.Random(seed)
        lines, total = [], 0
        while total < TEXT_POOL_BYTES + BLOCK_SIZE:
            kind = chooser.random()
            if kind < 0.5:
                line = (
                    f"2024-{chooser.randint(1, 12):02d}-{chooser.randint(1, 28):02d}T{chooser.randint(0, 23):02d}:"
                    f"{chooser.randint(0, 59):02d}:{chooser.randint(0, 59):02d}Z "
                    f"{chooser.choice(('INFO', 'INFO', 'INFO', 'WARN', 'DEBUG', 'ERROR'))} "
                    f"{chooser.choice(WORDS)}[{chooser.randint(100, 65000)}]: "
                    + " ".join(chooser.choice(WORDS) for _ in range(chooser.randint(4, 14)))
                )
            elif kind < 0.8:
                value = chooser.randint(0, 10 ** chooser.randint(1, 9))
                line = f"{chooser.choice(WORDS)}.{chooser.choice(WORDS)} = {value}"
            else:
                line = " ".join(chooser.choice(WORDS) for _ in range(chooser.randint(6, 18))).capitalize() + "."
            lines.append(line)
            total += len(line) + 1
        return "\n".join(lines).encode()

    def snapshot(self, at: float) -> SyntheticSnapshot:
        return SyntheticSnapshot(self, at)

    def close(self) -> None:
        pass

    def extents(self) -> list[tuple[int, int]]:
        return [(start * BLOCK_SIZE, min(end * BLOCK_SIZE, self.size_bytes)) for start, end in self._extents]

    def is_used(self, index: int) -> bool:
        position = bisect.bisect_right(self._starts, index) - 1
        return position >= 0 and index < self._extents[position][1]

    def _run(self, run: int) -> tuple[int, bool, float, float]:
        """(kind 0-99, hot, period, phase) of a run, from the seed."""
        cached = self._run_cache.get(run)
        if cached is None:
            digest = hashlib.blake2b(run.to_bytes(8, "little"), key=self._key, digest_size=16, person=b"run").digest()
            kind, hot, period, phase, _ = RUN_PARAMETERS.unpack(digest)
            is_hot = self._base_period > 0 and hot / 65536 < HOT_FRACTION
            cached = (kind % 100, is_hot, self._base_period * (0.5 + 1.5 * period / 65536), phase / 65536)
            if len(self._run_cache) > 65536:
                self._run_cache.clear()
            self._run_cache[run] = cached
        return cached

    def version(self, index: int, at: float) -> int:
        _, hot, period, phase = self._run(index // RUN_BLOCKS)
        return int(at / period + phase) if hot else 0

    def block(self, index: int, at: float) -> bytes:
        """The block's content at that moment (the last block is cut to the disk's size)."""
        length = min(BLOCK_SIZE, self.size_bytes - index * BLOCK_SIZE)
        if not self.is_used(index):
            return bytes(length)
        run = index // RUN_BLOCKS
        kind, hot, period, phase = self._run(run)
        version = int(at / period + phase) if hot else 0
        key = hashlib.blake2b(BLOCK_KEY.pack(index, version), key=self._key, digest_size=8).digest()
        pick = int.from_bytes(key, "little")
        if hot and version and self._deleted(run, version):
            return bytes(length)
        if kind < 55:
            data = self._text_block(index, version, pick, BLOCK_SIZE)
        elif kind < 78:
            data = hashlib.shake_128(self._key + key).digest(BLOCK_SIZE)  # compressed or encrypted files
        elif kind < 93:
            filled = 256 + pick % (BLOCK_SIZE - 512)  # a file's last block: the rest of it is zeros
            data = self._text_block(index, version, pick, filled) + bytes(BLOCK_SIZE - filled)
        else:
            data = ZERO_RUN_BLOCK  # free space inside the used area
        return data[:length]

    def _deleted(self, run: int, version: int) -> bool:
        """One rewrite in 16 deletes the run's file (and trims it): its blocks read as zeros."""
        marks = hashlib.blake2b(BLOCK_KEY.pack(run, version), key=self._key, digest_size=1, person=b"del").digest()
        return marks[0] < 16

    def _text_block(self, index: int, version: int, pick: int, length: int) -> bytes:
        stamp = f"#{index:x}.{version}\n".encode()
        start = pick % TEXT_POOL_BYTES
        return stamp + self._text[start : start + length - len(stamp)]


ZERO_RUN_BLOCK = bytes(BLOCK_SIZE)


class SyntheticSnapshot:
    def __init__(self, disk: SyntheticDisk, at: float):
        self.disk, self.at, self.size_bytes = disk, at, disk.size_bytes

    def extents(self) -> list[tuple[int, int]]:
        return self.disk.extents()

    def read(self, offset: int, length: int) -> bytes:
        """Block-aligned reads (the replicator's); anything else is cut from the blocks around it."""
        first, end = offset // BLOCK_SIZE, -(-(offset + length) // BLOCK_SIZE)
        data = b"".join(self.disk.block(index, self.at) for index in range(first, end))
        skip = offset - first * BLOCK_SIZE
        return data[skip : skip + length] if skip or len(data) != length else data

    def close(self) -> None:
        pass


class DiskReadError(OSError):
    """A read of a source disk failed (an injected diskReadErrors fault)."""

    def __init__(self, disk_id: str, disk_index: int, offset: int):
        super().__init__(errno.EIO, f"Input/output error reading disk {disk_id} at offset {offset}")
        self.disk_id, self.disk_index = disk_id, disk_index


class FailingReads:
    """A source whose reads fail with EIO, as a disk with bad sectors; its size and extents still answer."""

    def __init__(self, source, disk_id: str, disk_index: int):
        self.source, self.disk_id, self.disk_index = source, disk_id, disk_index
        self.size_bytes = source.size_bytes

    def snapshot(self, at: float) -> FailingReads:
        return FailingReads(self.source.snapshot(at), self.disk_id, self.disk_index)

    def extents(self) -> list[tuple[int, int]]:
        return self.source.extents()

    def read(self, offset: int, length: int):
        from agent.faults import FAULTS

        if FAULTS.read_fails():
            raise DiskReadError(self.disk_id, self.disk_index, offset)
        return self.source.read(offset, length)

    def close(self) -> None:
        self.source.close()


def open_source(spec: dict, machine_id: str):
    """A disk's source from its spec: {"diskId", "sizeBytes", "path"?, "synthetic"?}; reads fail while
    a diskReadErrors fault is on it (agent.faults)."""
    from agent.faults import FAULTS

    source = _open_source(spec, machine_id)
    failing = FAULTS.unreadable_index(str(spec["diskId"]))
    return source if failing is None else FailingReads(source, str(spec["diskId"]), failing)


def _open_source(spec: dict, machine_id: str):
    if spec.get("path"):
        return FileDisk(str(spec["path"]))
    size_bytes = int(spec["sizeBytes"])
    synthetic = spec.get("synthetic") or {}
    settings = {**default_synthetic(machine_id, str(spec["diskId"]), size_bytes), **synthetic}
    return SyntheticDisk.from_spec(size_bytes, settings)
