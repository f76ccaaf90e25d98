"""Planned migration downtime: Migrate with shutdown for a server with 1 GiB of changes since its last cycle.

Starts a hub (DEBUG=false, REPLICATION_CYCLE_SECONDS=3600), writes a 2 GiB disk image with realistic
content (tests/disk_images.write_realistic_image) and, per run, builds the live tests' replication rig
with a copy of it (a real appliance; the Mobility service configured with `--cycle-seconds 3600`,
so that after the initial replication no cycle runs on its own, talking to the appliance through a
byte-counting relay in this process), replicates it through the Site Recovery SDK and waits for the
initial recovery point. Then:

1. writes 1 GiB of changed blocks into the image (tests/disk_images.change_blocks: 262,144 distinct
   4 KiB blocks with new random content, so compression cannot shrink the final sync);
2. starts Migrate with "Shut down virtual machines and perform a planned migration with no data
   loss" through the SDK (begin_migrate, VMwareCbtMigrateInput performShutdown "true");
3. measures from the Migrate request until the Migrate job ended (the VM started: the job's last
   step is Start virtual machine), from the hub's database, with the job's steps and the moments the
   final sync's last batch was stored and its recovery point recorded;
4. reports the bytes the final sync moved: agent -> process server (the relay), process server -> hub
   (ProtectedDisk.transferred_bytes) and block data (changed_bytes);
5. checks the migrated VM disk: the job records the source's SHA-256 (sent with the final cycle's
   marker) and the VM disk's; both must equal the image's SHA-256 computed here.

No target is set for this figure by the issue; it is reported. Measured, not asserted.

    .venv/bin/python bench/migration_downtime.py [--size-mib 2048] [--churn-mib 1024] [--runs 2] [--json out.json]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from azure.mgmt.recoveryservicessiterecovery import models as asr_models
from harness.machine import CpuWatch, wait_for_quiet
from harness.options import Bounded, bench_main
from harness.replication import GIB, MIB, POLL_SECONDS, cycle_env, cycle_lines, measured_runs, replicating_server
from harness.report import format_cpu

from tests.disk_images import BLOCK, change_blocks, sha256_of, write_realistic_image
from tests.replication_rig import CONTAINER, FABRIC, RG, enable_replication

IMAGE_SEED = 31
IDLE_CYCLE_SECONDS = 3600
INITIAL_SECONDS = 900
MIGRATE_SECONDS = 900


def migrate_job(database, item_id: str) -> dict | None:
    row = database.connection.execute(
        """SELECT id, state, extract(epoch FROM created_at), extract(epoch FROM started_at),
                  extract(epoch FROM ended_at), input, errors
           FROM jobs_job WHERE scenario_name = 'Migrate' AND target_object_id = %s
           ORDER BY created_at DESC LIMIT 1""",
        (item_id,),
    ).fetchone()
    if row is None:
        return None
    steps = database.connection.execute(
        """SELECT name, state, extract(epoch FROM started_at), extract(epoch FROM ended_at)
           FROM jobs_jobtask WHERE job_id = %s ORDER BY position""",
        (row[0],),
    ).fetchall()
    return {
        "id": str(row[0]),
        "state": row[1],
        "created_at": float(row[2]),
        "started_at": None if row[3] is None else float(row[3]),
        "ended_at": None if row[4] is None else float(row[4]),
        "input": row[5],
        "errors": row[6],
        "steps": [
            {
                "name": name,
                "state": state,
                "started_at": None if started is None else float(started),
                "ended_at": None if ended is None else float(ended),
            }
            for name, state, started, ended in steps
        ],
    }


def begin_migrate_with_shutdown(rig):
    """Migrate with shutdown through the SDK: its poller and the time.time() of the request."""
    migrate = asr_models.MigrateInput(
        properties=asr_models.MigrateInputProperties(
            provider_specific_details=asr_models.VMwareCbtMigrateInput(perform_shutdown="true")
        )
    )
    requested_at = time.time()
    poller = rig.sdk().replication_migration_items.begin_migrate(
        RG, rig.vault, FABRIC, CONTAINER, rig.item_name, migrate, polling_interval=1
    )
    return poller, requested_at


def ended_migrate_job(database, item_id: str, within_seconds: float = MIGRATE_SECONDS) -> dict:
    """The item's Migrate job once it has ended; RuntimeError unless it succeeded within within_seconds."""
    deadline = time.monotonic() + within_seconds
    while True:
        job = migrate_job(database, item_id)
        if job and job["state"] in ("Succeeded", "Failed", "Cancelled"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"The Migrate job did not end within {within_seconds} s: {job}")
        time.sleep(POLL_SECONDS)
    if job["state"] != "Succeeded":
        raise RuntimeError(f"The Migrate job {job['state']}: {job['errors']}")
    return job


def step_seconds(job: dict) -> dict[str, float]:
    return {
        step["name"]: round(step["ended_at"] - step["started_at"], 2)
        for step in job["steps"]
        if step["started_at"] and step["ended_at"]
    }


def one_run(hub, workdir: Path, source: Path, churn_bytes: int, seed: int) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    image = workdir / "disk0.img"
    subprocess.run(["cp", "--sparse=always", str(source), str(image)], check=True, timeout=600)
    with replicating_server(hub, workdir / "rig", image, cycle_seconds=IDLE_CYCLE_SECONDS, relay=True) as server:
        rig, relay, database = server
        print("  initial replication...", flush=True)
        enable_replication(rig)
        database.wait_for_point(rig.item_id, 1, INITIAL_SECONDS)
        count = churn_bytes // BLOCK
        print(f"  writing {count:,} changed blocks ({churn_bytes / GIB:.2f} GiB)...", flush=True)
        change_blocks(image, count, seed=seed)
        image_sha256 = sha256_of(image)
        before = database.counters(rig.item_id)
        before_agent, _, _ = relay.counted()
        wait_for_quiet()
        watch = CpuWatch(hub.process.pid, rig.appliance.process.pid, rig.agent_pid())

        print("  Migrate with shutdown...", flush=True)
        poller, requested_at = begin_migrate_with_shutdown(rig)
        accepted_at = time.time()
        job = ended_migrate_job(database, rig.item_id)
        cpu = watch.stop()
        item = poller.result()
        after = database.counters(rig.item_id)
        after_agent, _, _ = relay.counted()
        final_cycle = job["input"].get("final_cycle")
        (vm_disk,) = job["input"]["vm"]["disks"]
        final_lines = [line for line in cycle_lines(rig) if line["cycle"] == final_cycle]
        result = {
            "churn_bytes": count * BLOCK,
            "blocks_changed": count,
            "seconds": {
                "request_to_vm_started": round(job["ended_at"] - requested_at, 2),
                "request_accepted": round(accepted_at - requested_at, 2),
                "request_to_final_batch_stored": round(after.last_upload_at - requested_at, 2),
                "request_to_final_point": round(after.recovery_points[final_cycle] - requested_at, 2),
                "final_point_to_vm_started": round(job["ended_at"] - after.recovery_points[final_cycle], 2),
                "steps": step_seconds(job),
                "agent_final_cycle": final_lines[0]["seconds"] if final_lines else None,
            },
            "final_sync": {
                "cycle": final_cycle,
                "agent_to_process_server_bytes": after_agent - before_agent,
                "process_server_to_hub_bytes": after.transferred_bytes - before.transferred_bytes,
                "block_data_bytes": after.changed_bytes - before.changed_bytes,
                "batches": after.stored_sequence - before.stored_sequence,
                "agent_line": final_lines[0] if final_lines else None,
            },
            "migration_state": item.properties.migration_state,
            "image_sha256": image_sha256,
            "source_sha256": vm_disk["sourceSha256"],
            "vm_disk_sha256": vm_disk["vmDiskSha256"],
            "vm_disk_matches_image": vm_disk["vmDiskSha256"] == image_sha256 == vm_disk["sourceSha256"],
            "cpu_machine": cpu,
        }
    # The next run writes an image of its own: give back this one's space now.
    image.unlink(missing_ok=True)
    return result


def run(hub, *, workdir: Path, size: int, churn: int, runs: int) -> dict:
    churn = min(churn, size // MIB // 2 * MIB)
    source = workdir / "source.img"
    print(f"Writing a {size // MIB} MiB image with realistic content...", flush=True)
    write_realistic_image(source, size, seed=IMAGE_SEED)
    measured = measured_runs(
        runs,
        lambda index: one_run(hub, workdir / f"run{index + 1}", source, churn, seed=200 + index),
        lambda result: (
            f"Migrate request -> VM started {result['seconds']['request_to_vm_started']} s; final sync "
            f"{result['final_sync']['process_server_to_hub_bytes']:,} B to the hub; VM disk SHA-256 matches the "
            f"image: {result['vm_disk_matches_image']}"
        ),
    )
    best = min(measured, key=lambda result: result["seconds"]["request_to_vm_started"])
    return {
        "benchmark": "migration_downtime",
        "image_bytes": size,
        "image_seed": IMAGE_SEED,
        "churn_bytes": churn,
        "agent_cycle_seconds": IDLE_CYCLE_SECONDS,
        "runs": measured,
        "best_run": measured.index(best) + 1,
        "downtime_seconds": [result["seconds"]["request_to_vm_started"] for result in measured],
        "all_vm_disks_match": all(result["vm_disk_matches_image"] for result in measured),
    }


def report(result: dict) -> str:
    lines = [
        f"Planned migration downtime: {result['image_bytes'] // MIB} MiB image, "
        f"{result['churn_bytes'] / GIB:.2f} GiB changed since the last cycle (agent cycle "
        f"{result['agent_cycle_seconds']} s), Migrate with shutdown through the SDK:"
    ]
    for index, run in enumerate(result["runs"], 1):
        seconds, sync = run["seconds"], run["final_sync"]
        steps = ", ".join(f"{name} {value} s" for name, value in seconds["steps"].items())
        lines += [
            f" run {index}: Migrate request -> VM started {seconds['request_to_vm_started']} s "
            f"(-> final batch stored {seconds['request_to_final_batch_stored']} s, -> final recovery point "
            f"{seconds['request_to_final_point']} s, then {seconds['final_point_to_vm_started']} s to the VM started; "
            f"agent's final cycle {seconds['agent_final_cycle']} s)",
            f"   job steps: {steps}",
            f"   final sync (cycle {sync['cycle']}): agent -> process server "
            f"{sync['agent_to_process_server_bytes']:,} B, "
            f"process server -> hub {sync['process_server_to_hub_bytes']:,} B in {sync['batches']} batches, "
            f"block data {sync['block_data_bytes']:,} B",
            f"   VM disk SHA-256 {run['vm_disk_sha256'][:16]}..., source's (marker) {run['source_sha256'][:16]}..., "
            f"image's {run['image_sha256'][:16]}...: {'all equal' if run['vm_disk_matches_image'] else 'DIFFERENT'}",
            format_cpu(run["cpu_machine"]),
        ]
    spread = ", ".join(f"{value:.1f}" for value in result["downtime_seconds"])
    lines.append(
        f" Downtime (Migrate request -> VM started): best {min(result['downtime_seconds']):.1f} s (runs: {spread} s); "
        f"VM disks equal the source: {result['all_vm_disks_match']}"
    )
    return "\n".join(lines)


OPTIONS = [
    Bounded("--size-mib", 2048, 256, 8192, "image size (256 to 8192 MiB)", keyword="size", scale=MIB),
    # At most half the image: run() lowers it further for a smaller image.
    Bounded(
        "--churn-mib", 1024, 1, 8192 // 2, "changed since the last cycle (at most half)", keyword="churn", scale=MIB
    ),
    Bounded("--runs", 2, 1, 5, "migrations measured, each of a new server (1 to 5)"),
]
HUB_OPTIONS = {"extra_env": cycle_env(IDLE_CYCLE_SECONDS), "workdir_prefix": "migratehub-bench-downtime-"}

if __name__ == "__main__":
    sys.exit(bench_main(__doc__, run, report, OPTIONS, **HUB_OPTIONS))
