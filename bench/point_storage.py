"""Recovery-point storage: what the item's kept points take in the object store, against the data
changed and the number of points.

Starts a hub (DEBUG=false, REPLICATION_CYCLE_SECONDS=20), writes a disk image with realistic content
(tests/disk_images.write_realistic_image) and replicates it with the live tests' rig (a real appliance
and Mobility service) through the Site Recovery SDK. After the initial replication's point, each round
changes the image and waits until a recovery point holds it exactly (the replica's SHA-256), then reads
`manage.py replica`: the bytes every kept point takes in the store (chunks and manifests, each counted
once) and the new chunk bytes the round's point stored. Two kinds of change alternate:

- scattered: `--changed-percent` of the 4 KiB blocks at random (tests/disk_images.change_blocks), the
  worst case for 1 MiB chunks, since each changed block makes its whole chunk new;
- clustered: the same number of bytes as runs of 256 contiguous blocks (1 MiB), as files written.

Reported per round: points kept, bytes changed, new chunk bytes, total point storage, and what keeping
a full copy per point would take (the image's data x points). Measured, not asserted.

    .venv/bin/python bench/point_storage.py [--size-mib 256] [--changed-percent 1] [--rounds 4] [--json out.json]
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

from harness.options import bench_main
from harness.replication import MIB, change_round_options, cycling_hub_options, replicating_server

from tests.disk_images import BLOCK, change_blocks, sha256_of, write_realistic_image
from tests.replication_rig import enable_replication

IMAGE_SEED = 31
CYCLE_SECONDS = 20
INITIAL_SECONDS = 900
ROUND_SECONDS = 300
RUN_BLOCKS = 256  # a clustered change: 1 MiB of contiguous blocks
CHUNK_BYTES = 64 * 1024  # replication/point_manifests.py's CHUNK_BYTES (the hub's Django is not loaded here)


def change_clustered(path: Path, count: int, seed: int) -> int:
    """Overwrite about `count` blocks as runs of RUN_BLOCKS contiguous blocks at random places; returns
    how many blocks were written."""
    rng = random.Random(seed)
    blocks = path.stat().st_size // BLOCK
    runs = max(1, round(count / RUN_BLOCKS))
    with open(path, "r+b") as image:
        for _ in range(runs):
            start = rng.randrange(0, blocks - RUN_BLOCKS)
            image.seek(start * BLOCK)
            image.write(rng.randbytes(RUN_BLOCKS * BLOCK))
        image.flush()
        os.fsync(image.fileno())
    return runs * RUN_BLOCKS


def data_bytes(path: Path) -> int:
    """The image's non-zero 4 KiB blocks, in bytes: what one full copy of it would keep."""
    total = 0
    zero = bytes(BLOCK)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            total += len(block) if block != zero else 0
    return total


def wait_for_point_holding(rig, image_sha256: str, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        state = rig.replica(sha256=True)
        (disk,) = [disk for disk in state["disks"] if disk["included"]]
        latest = max((point["cycle"] for point in state["recoveryPoints"]), default=0)
        if disk["sha256"] == image_sha256 and disk["appliedCycle"] == latest:
            return state
        if time.monotonic() > deadline:
            raise RuntimeError(f"No recovery point held the changed image: {str(state)[:1000]}")
        time.sleep(1)


def run(hub, *, workdir: Path, size: int, changed_percent: float, rounds: int) -> dict:
    image = workdir / "disk0.img"
    print(f"Writing a {size // MIB} MiB image with realistic content...", flush=True)
    write_realistic_image(image, size, seed=IMAGE_SEED)
    image_data = data_bytes(image)
    measured = []
    with replicating_server(hub, workdir / "rig", image, cycle_seconds=CYCLE_SECONDS, relay=False) as server:
        rig, _, database = server
        print("Initial replication...", flush=True)
        enable_replication(rig)
        database.wait_for_point(rig.item_id, 1, INITIAL_SECONDS)
        state = wait_for_point_holding(rig, sha256_of(image), INITIAL_SECONDS)
        measured.append(_row(state, "initial", image_data, 0))
        for index in range(rounds):
            count = max(1, round(size // BLOCK * changed_percent / 100))
            kind = "scattered" if index % 2 == 0 else "clustered"
            print(f"Round {index + 1} of {rounds}: {kind}, {count} blocks...", flush=True)
            if kind == "scattered":
                change_blocks(image, count, seed=200 + index)
            else:
                count = change_clustered(image, count, seed=200 + index)
            state = wait_for_point_holding(rig, sha256_of(image), ROUND_SECONDS)
            measured.append(_row(state, kind, data_bytes(image), count * BLOCK))
            print(f"  {measured[-1]}", flush=True)
    return {
        "benchmark": "point_storage",
        "image_bytes": size,
        "image_seed": IMAGE_SEED,
        "changed_percent": changed_percent,
        "chunk_bytes": CHUNK_BYTES,
        "rounds": measured,
    }


def _row(state: dict, kind: str, image_data: int, changed: int) -> dict:
    points = state["recoveryPoints"]
    return {
        "change": kind,
        "points_kept": len(points),
        "bytes_changed": changed,
        "new_chunk_bytes": points[-1]["newChunkBytes"] if points else 0,
        "point_storage_bytes": state["pointStorageBytes"],
        "full_copy_per_point_bytes": image_data * len(points),
    }


def report(result: dict) -> str:
    lines = [
        f"Recovery-point storage, {result['image_bytes'] // MIB} MiB image, {result['changed_percent']}% of its "
        f"blocks' worth changed per round, chunks of {result['chunk_bytes'] // 1024} KiB:"
    ]
    for row in result["rounds"]:
        lines.append(
            f" {row['change']:>9}: {row['points_kept']} points kept; changed {row['bytes_changed'] / MIB:.1f} MiB, "
            f"new chunks {row['new_chunk_bytes'] / MIB:.1f} MiB; all points {row['point_storage_bytes'] / MIB:.1f} MiB "
            f"(a full copy per point: {row['full_copy_per_point_bytes'] / MIB:.1f} MiB)"
        )
    return "\n".join(lines)


OPTIONS = change_round_options(256, 4096, 4, 10, changed="blocks' worth changed", what="change")
HUB_OPTIONS = cycling_hub_options(CYCLE_SECONDS, "migratehub-bench-points-")

if __name__ == "__main__":
    sys.exit(bench_main(__doc__, run, report, OPTIONS, **HUB_OPTIONS))
