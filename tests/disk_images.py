"""Disk images with realistic content for replication tests and benchmarks: runs of zeros (unused
space), text (logs, configuration), repeated structured records (databases), and random bytes
(compressed or encrypted files), in a deterministic mix from a seed."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

BLOCK = 4096
MIB = 1024 * 1024
CHUNK = MIB
WORDS = [
    "server",
    "replication",
    "delta",
    "cycle",
    "appliance",
    "agent",
    "vault",
    "recovery",
    "point",
    "migrate",
    "azure",
    "disk",
    "block",
    "error",
    "warning",
    "info",
    "request",
    "response",
    "latency",
    "user",
    "session",
    "order",
    "invoice",
    "customer",
    "product",
]


def _text(rng: random.Random, size: int) -> bytes:
    lines = []
    total = 0
    while total < size:
        line = (
            f"2026-11-26T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d} "
            + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 14)))
            + f" id={rng.randrange(10**9)}\n"
        )
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def _records(rng: random.Random, size: int) -> bytes:
    record = bytearray()
    while len(record) < size:
        record += rng.randrange(10**6).to_bytes(4, "little") + b"\x00" * 12 + rng.choice(WORDS).encode().ljust(16)
    return bytes(record[:size])


def write_realistic_image(path: Path, size: int, seed: int = 1) -> None:
    """`size` bytes: about 35% zeros, 30% text, 20% records, 15% random, chosen per 1 MiB chunk. Text and
    records are slices at random offsets of 16 MiB pools, so a 2 GiB image takes seconds to write."""
    rng = random.Random(seed)
    pool_size = max(CHUNK, min(16 * CHUNK, size // 2))
    text_pool, record_pool = _text(rng, pool_size + CHUNK), _records(rng, pool_size + CHUNK)
    with open(path, "wb") as image:
        image.truncate(size)
        for offset in range(0, size, CHUNK):
            length = min(CHUNK, size - offset)
            kind = rng.random()
            if kind < 0.35:
                continue  # a hole: zeros, as unused space is
            start = rng.randrange(pool_size)
            if kind < 0.65:
                data = text_pool[start : start + length]
            elif kind < 0.85:
                data = record_pool[start : start + length]
            else:
                data = rng.randbytes(length)
            image.seek(offset)
            image.write(data)


def change_blocks(path: Path, count: int, seed: int = 2) -> list[int]:
    """Overwrite `count` distinct 4 KiB blocks at random with new random content; their indexes."""
    size = path.stat().st_size
    rng = random.Random(seed)
    indexes = sorted(rng.sample(range(size // BLOCK), count))
    with open(path, "r+b") as image:
        for index in indexes:
            image.seek(index * BLOCK)
            image.write(rng.randbytes(BLOCK))
        image.flush()
        os.fsync(image.fileno())
    return indexes


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(8 * CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
