"""What applying a full cycle costs the hub worker's process: a realistic image's batches (zstd,
AES-256-GCM, as the process server sends them) are stored, then `replica_apply` applies the cycle up to
its verified recovery point (decrypting, decompressing, writing the replica, its content digest, the
point's packs of chunks and manifest). Measured: the applying process's CPU seconds (time.process_time: user +
system, this process only; PostgreSQL's share is not in it), best of --runs, one new full cycle each.

A pytest module, because it builds its replicating server with the app tests' fixtures (a test
database); run it explicitly, one process, with -s to see the figures:

    PYTEST_WORKERS=0 APPLY_BENCH_MIB=256 APPLY_BENCH_RUNS=5 ./scripts/run-tests -s bench/apply_cycle_cost.py

APPLY_BENCH_BATCH_BLOCKS sets the 4 KiB blocks per batch (4096 by default, as the agent sends them).

APPLY_BENCH_PROFILE=file writes the last run's cProfile statistics there (CPU time; that run's figure
includes the profiler's overhead).
"""

from __future__ import annotations

import cProfile
import hashlib
import os
import time

import pytest

from replication import data_path, point_manifests, uploads
from replication.models import MigrationState, RecoveryPoint
from replication.tests.conftest import replicating_item
from replication.tests.test_data_path import BLOCK, MIB, ProcessServer, marker, records
from tests.disk_images import write_realistic_image

pytestmark = pytest.mark.django_db

SIZE_MIB = int(os.environ.get("APPLY_BENCH_MIB", "256"))
RUNS = int(os.environ.get("APPLY_BENCH_RUNS", "5"))
PROFILE = os.environ.get("APPLY_BENCH_PROFILE")  # a file for the last run's cProfile statistics
# The agent's batches: up to 16 MiB of block data (its MAX_BATCH_DATA; 1024 blocks, 4 MiB, before it grew).
BATCH_BLOCKS = int(os.environ.get("APPLY_BENCH_BATCH_BLOCKS", "4096"))


def cycle_batches(ps, item, source: bytes, cycle: int, first_sequence: int) -> list[bytes]:
    indexes = [
        index for index in range(len(source) // BLOCK) if source.count(0, index * BLOCK, (index + 1) * BLOCK) < BLOCK
    ]
    groups = [indexes[start : start + BATCH_BLOCKS] for start in range(0, len(indexes), BATCH_BLOCKS)]
    bodies = []
    for position, group in enumerate(groups):
        last = position == len(groups) - 1
        bodies.append(
            ps.body(
                item,
                "disk0",
                first_sequence + position,
                cycle,
                records(source, group),
                full=True,
                marker=marker(cycle, source) if last else None,
                scanned=(group[-1] + 1) * BLOCK,
            )
        )
    return bodies


def test_apply_cycle_cost(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.REPLICATION_DIR = tmp_path / "replication"
    size = SIZE_MIB * MIB
    item = replicating_item(django_capture_on_commit_callbacks, "applybench", (size, MIB // 2))
    assert item.migration_state == MigrationState.INITIAL_SEEDING_IN_PROGRESS
    write_realistic_image(tmp_path / "source.img", size, seed=3)
    source = (tmp_path / "source.img").read_bytes()
    ps = ProcessServer(item.project)
    timings, sequence = [], 1
    for cycle in range(1, RUNS + 1):
        bodies = cycle_batches(ps, item, source, cycle, sequence)
        for body in bodies:
            uploads.batch_store(item.appliance, body)
        sequence += len(bodies)
        # As in an initial replication, none of the cycle's chunks is stored yet (writing over a stored
        # pack costs ext4 a flush at the rename).
        point_manifests.item_points_delete(item)
        os.sync()
        profiler = cProfile.Profile(time.process_time) if PROFILE and cycle == RUNS else None
        started = time.process_time()
        if profiler is not None:
            profiler.runcall(data_path.replica_apply, item.pk, owner="bench")
            profiler.dump_stats(PROFILE)
        else:
            data_path.replica_apply(item.pk, owner="bench")
        timings.append(time.process_time() - started)
        assert RecoveryPoint.objects.filter(item=item, cycle=cycle).exists()
    disk = item.disks.get(disk_id="disk0")
    replica = data_path.replica_path(disk).read_bytes()
    assert hashlib.sha256(replica).digest() == hashlib.sha256(source).digest()
    print(
        f"\napply_cycle_cost: {SIZE_MIB} MiB, {len(bodies)} batches per cycle; CPU seconds per cycle "
        f"{', '.join(f'{seconds:.3f}' for seconds in timings)}; best {min(timings):.3f} s; "
        f"load {os.getloadavg()[0]:.2f}"
    )
