"""The reference tools the replication figures are set beside, timed on the same image."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

MIB = 1024 * 1024


def zstd_seconds(path: Path, repeats: int = 3) -> list[float]:
    """`zstd -1 -T1 -q -c FILE > /dev/null`, timed, `repeats` times (the page cache holds the file)."""
    timings = []
    for _ in range(repeats):
        with open(os.devnull, "wb") as sink:
            started = time.perf_counter()
            subprocess.run(["zstd", "-1", "-T1", "-q", "-c", str(path)], stdout=sink, check=True, timeout=600)
            timings.append(time.perf_counter() - started)
    return timings


def zstd_compressed_bytes(path: Path) -> int:
    """The size of `zstd -1 -T1`'s output for the file, counted as it streams out."""
    total = 0
    with subprocess.Popen(["zstd", "-1", "-T1", "-q", "-c", str(path)], stdout=subprocess.PIPE) as process:
        while chunk := process.stdout.read(MIB):
            total += len(chunk)
    return total


def megabytes_per_second(byte_count: int, seconds: float) -> float:
    return byte_count / 1e6 / seconds if seconds > 0 else float("inf")
