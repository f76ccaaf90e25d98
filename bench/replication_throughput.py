"""Initial replication throughput of one 2 GiB disk image, end to end, next to `zstd -1` on one core.

Starts a hub (PostgreSQL + Redis, uvicorn + Celery worker, DEBUG=false), writes a 2 GiB image with
realistic content (tests/disk_images.write_realistic_image: about 35% zeros, 30% text, 20% records,
15% random), times `zstd -1 -T1 -q -c IMAGE > /dev/null` three times (the best counts), then, per run,
builds the replication rig of the live tests (tests/replication_rig.build_rig: an appliance from the
portal's installer, finalized; the Mobility service installed from it, its disk the image) and
replicates the server through the Site Recovery SDK. Measured, from the Replicate call:

- until the hub stored the last batch (upload throughput), and until the recovery point is recorded,
  which the hub does only after applying every batch and checking the replica's content digest
  against the agent's (replica verified); both as MB/s of the image's size;
- the bytes on the wire: agent -> process server (batch uploads, counted by a splice(2) relay in this
  process) and process server -> hub (the hub's ProtectedDisk.transferred_bytes);
- CPU seconds of each process in that window (agent: read + hash; appliance: compress + encrypt;
  uvicorn: upload handling; worker: apply + digest; PostgreSQL backends of the bench database).

The replica's SHA-256 is checked against the image's afterwards (`manage.py replica --sha256`).
Target (from the issue): ours ÷ zstd's MB/s >= 0.5. Measured, not asserted.

    .venv/bin/python bench/replication_throughput.py [--size-mib 2048] [--runs 2] [--no-relay] [--profile DIR]
        [--json out.json]

--profile DIR samples the agent, the appliance, uvicorn and the worker with py-spy while they replicate
(py-spy is not a project dependency: `pip install py-spy` into the venv) and keeps the collapsed
stacks in DIR, one file per process and run; the sampling costs a little
CPU, so profiled runs are slower than the figures without it.
"""

from __future__ import annotations

import os
import sys
import time
from operator import not_
from pathlib import Path

from harness.machine import CpuWatch, wait_for_quiet
from harness.options import Bounded, Passed, bench_main
from harness.profiler import Profiler, format_profile
from harness.reference_tools import megabytes_per_second, zstd_compressed_bytes, zstd_seconds
from harness.replication import (
    MIB,
    POLL_SECONDS,
    cpu_by_process,
    cycle_env,
    cycle_lines,
    format_cpu_by_process,
    profiled_pids,
    replicating_server,
    watch_new_backends,
    watch_processes,
)
from harness.report import format_cpu, target_line

from tests.disk_images import sha256_of, write_realistic_image
from tests.replication_rig import enable_replication

TARGET_RATIO = 0.5
IMAGE_SEED = 11
# Long enough that no delta cycle starts while the initial replication is measured.
IDLE_CYCLE_SECONDS = 3600
TIME_LIMIT_SECONDS = 900


def one_run(hub, workdir: Path, image: Path, image_sha256: str, *, relay: bool, profile: Path | None) -> dict:
    with replicating_server(hub, workdir, image, cycle_seconds=IDLE_CYCLE_SECONDS, relay=relay) as server:
        rig, counting, database = server
        monitor = watch_processes(hub, rig, database)
        monitor.watch("bench (relay, poller)", os.getpid())
        quiet = wait_for_quiet()
        watch_new_backends(monitor, database)
        machine = CpuWatch(hub.process.pid, rig.appliance.process.pid, rig.agent_pid())
        profiler = Profiler(profile / workdir.name, profiled_pids(monitor)) if profile else None
        started_wall, started = time.time(), time.monotonic()
        enable_replication(rig)
        enabled_wall = time.time()
        deadline = started + TIME_LIMIT_SECONDS
        next_refresh = started
        while True:
            counters = database.counters(rig.item_id)
            if 1 in counters.recovery_points:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"No recovery point within {TIME_LIMIT_SECONDS} s: {counters}")
            if time.monotonic() >= next_refresh:
                watch_new_backends(monitor, database)
                next_refresh += 2
            time.sleep(POLL_SECONDS)
        finished = time.monotonic()
        profiled = profiler.stop() if profiler else None
        monitor.sample()
        cpu_machine = machine.stop()
        monitor.stopping.set()
        point_wall = counters.recovery_points[1]
        last_stored_wall = counters.last_upload_at
        agent_up, agent_down, _ = counting.counted() if counting else (None, None, None)
        state = rig.replica(sha256=True)
        (disk,) = state["disks"]
        cycles = cycle_lines(rig)
        size = image.stat().st_size
        to_point = point_wall - started_wall
        to_last_stored = last_stored_wall - started_wall
        window_end = started + (point_wall - started_wall)
        return {
            "image_bytes": size,
            "seconds": {
                "replicate_call": round(enabled_wall - started_wall, 2),
                "to_first_batch_stored": round(counters.replication_started_at - started_wall, 2),
                "to_last_batch_stored": round(to_last_stored, 2),
                "to_recovery_point": round(to_point, 2),
                "last_batch_stored_to_recovery_point": round(point_wall - last_stored_wall, 2),
                "agent_full_cycle": next((line["seconds"] for line in cycles if line["cycle"] == 1), None),
            },
            "mb_per_second": {
                "to_recovery_point": round(megabytes_per_second(size, to_point), 1),
                "upload_to_last_batch_stored": round(megabytes_per_second(size, to_last_stored), 1),
            },
            "wire_bytes": {
                "agent_to_process_server": agent_up,
                "process_server_answers": agent_down,
                "process_server_to_hub": counters.transferred_bytes,
                "block_data": counters.changed_bytes,
                "batches": counters.stored_sequence,
            },
            "replica_sha256_matches": disk["sha256"] == image_sha256,
            "agent_cycles": cycles,
            "cpu_by_process": cpu_by_process(monitor, started, min(window_end, finished)),
            "cpu_machine": cpu_machine,
            "profile": profiled,
            "quiet_wait": quiet,
        }


def run(hub, *, workdir: Path, size: int, runs: int, relay: bool, profile: Path | None) -> dict:
    image = workdir / "disk0.img"
    print(f"Writing a {size // MIB} MiB image with realistic content...", flush=True)
    write_realistic_image(image, size, seed=IMAGE_SEED)
    image_sha256 = sha256_of(image)
    measured = []
    zstd_timings = []
    for index in range(runs):
        wait_for_quiet()
        zstd_timings += zstd_seconds(image)
        print(f"  zstd -1 -T1: {', '.join(f'{t:.2f} s' for t in zstd_timings[-3:])}", flush=True)
        print(f"Run {index + 1} of {runs}: replicating the image...", flush=True)
        result = one_run(hub, workdir / f"run{index + 1}", image, image_sha256, relay=relay, profile=profile)
        print(
            f"  recovery point after {result['seconds']['to_recovery_point']} s "
            f"({result['mb_per_second']['to_recovery_point']} MB/s), last batch stored after "
            f"{result['seconds']['to_last_batch_stored']} s; replica SHA-256 matches: "
            f"{result['replica_sha256_matches']}",
            flush=True,
        )
        measured.append(result)
    zstd_best = min(zstd_timings)
    zstd_mbps = megabytes_per_second(size, zstd_best)
    best = max(measured, key=lambda result: result["mb_per_second"]["to_recovery_point"])
    ratio = best["mb_per_second"]["to_recovery_point"] / zstd_mbps
    return {
        "benchmark": "replication_throughput",
        "image_bytes": size,
        "image_seed": IMAGE_SEED,
        "relay": relay,
        "zstd": {
            "command": "zstd -1 -T1 -q -c IMAGE > /dev/null",
            "seconds": [round(t, 3) for t in zstd_timings],
            "best_seconds": round(zstd_best, 3),
            "mb_per_second": round(zstd_mbps, 1),
            "compressed_bytes": zstd_compressed_bytes(image),
        },
        "runs": measured,
        "best_run": measured.index(best) + 1,
        "ratio": round(ratio, 3),
        "upload_ratio": round(best["mb_per_second"]["upload_to_last_batch_stored"] / zstd_mbps, 3),
        "target_ratio": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO,
    }


def report(result: dict) -> str:
    size_mib = result["image_bytes"] // MIB
    zstd = result["zstd"]
    lines = [
        f"Initial replication throughput, one {size_mib} MiB image (realistic content, seed {result['image_seed']}):",
        f" zstd -1 -T1: best {zstd['best_seconds']:.2f} s of {len(zstd['seconds'])} "
        f"({', '.join(f'{t:.2f}' for t in zstd['seconds'])} s) = {zstd['mb_per_second']:.0f} MB/s; "
        f"{zstd['compressed_bytes'] / 1e6:.0f} MB out",
    ]
    for index, run in enumerate(result["runs"], 1):
        seconds, wire = run["seconds"], run["wire_bytes"]
        agent = "not counted" if wire["agent_to_process_server"] is None else f"{wire['agent_to_process_server']:,} B"
        lines += [
            f" run {index}: Replicate -> recovery point {seconds['to_recovery_point']} s "
            f"({run['mb_per_second']['to_recovery_point']} MB/s); -> last batch stored "
            f"{seconds['to_last_batch_stored']} s ({run['mb_per_second']['upload_to_last_batch_stored']} MB/s); "
            f"Replicate call {seconds['replicate_call']} s, first batch stored at "
            f"{seconds['to_first_batch_stored']} s, "
            f"last batch -> point {seconds['last_batch_stored_to_recovery_point']} s; agent's full cycle "
            f"{seconds['agent_full_cycle']} s; replica SHA-256 matches: {run['replica_sha256_matches']}",
            f"   wire: agent -> process server {agent}, process server -> hub {wire['process_server_to_hub']:,} B "
            f"in {wire['batches']} batches, block data {wire['block_data']:,} B",
        ]
        lines += format_cpu_by_process(run["cpu_by_process"], seconds["to_recovery_point"])
        lines.append(format_cpu(run["cpu_machine"]))
        if run["profile"]:
            lines += format_profile(run["profile"])
    best = (
        f"best run {result['best_run']}: "
        f"{result['ratio']:.2f} to the recovery point, {result['upload_ratio']:.2f} to the last batch stored"
    )
    lines.append(target_line(f"ours ÷ zstd >= {result['target_ratio']}", result["target_met"], best))
    return "\n".join(lines)


OPTIONS = [
    Bounded("--size-mib", 2048, 64, 8192, "image size (64 to 8192 MiB)", keyword="size", scale=MIB),
    Bounded("--runs", 2, 1, 5, "replications measured, each of a new server (1 to 5)"),
    Passed("--no-relay", "relay", {"action": "store_true", "help": "the agent talks to the appliance directly"}, not_),
    Passed(
        "--profile",
        "profile",
        {
            "type": Path,
            "metavar": "DIR",
            "help": "sample the processes with py-spy (pip install py-spy into the venv), keeping its stacks in DIR",
        },
    ),
]
HUB_OPTIONS = {"extra_env": cycle_env(IDLE_CYCLE_SECONDS), "workdir_prefix": "migratehub-bench-throughput-"}

if __name__ == "__main__":
    sys.exit(bench_main(__doc__, run, report, OPTIONS, **HUB_OPTIONS))
