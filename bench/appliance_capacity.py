"""200 simulated replicating machines on one appliance, with a churn profile: sustained MB/s, RPO p95
and CPU per process (issue 14, item 5: Azure sizes one appliance for up to 200 machines and about 2 TB
of changed data a day).

Starts a hub (PostgreSQL + Redis, uvicorn + its Celery worker, DEBUG=false, replication cycles of
--cycle-seconds), prepares one appliance the way a user does (harness.appliance: project, Create
resources, installer and key through the portal, `setup --key`), finalizes it (Discover > Finalize
registration), then runs the shipped fleet simulator with --replicate: --count agents whose synthetic
disks hold --used-mib MiB each and rewrite their hot runs at the simulator's write rate (16 KiB/s per
disk: the churn profile). Once all are discovered, every server is replicated in one plan through the
hub's Replicate service (appliance_capacity_seed.py, `manage.py shell`; set-up, not measured). After
initial replication, a steady window of --window-seconds measures:

- sustained MB/s: bytes the process server uploaded to the hub (the project's per-minute transfer
  samples, whole minutes inside the window) and the disks' transferred bytes, per second;
- RPO p95: every 5 s, each Replicating server's RPO (now - its latest recovery point), p95 of all;
- CPU per process (harness.processes): hub web, worker(s), appliance, fleet, PostgreSQL backends;
- where the RPO goes, from the recovery points recorded in the window: the gap between an item's
  consecutive captures (its cycle: 60 s, or longer when a cycle overruns) and each point's latency
  (recorded minus captured: reading and sending, the wait for an apply, the apply);
- the apply backlog, every 5 s: Celery messages waiting in the broker, items with an apply marked
  queued, items whose apply lease is held, stored batches not yet applied (min, median, max).

--worker-processes N runs N Celery worker processes: serve's own child (threads, as always) and N-1
more started by the bench with the same command line, under names of their own. 1, the default, is
the hub as `serve` runs it.

Measured, not asserted.

    .venv/bin/python bench/appliance_capacity.py [--count 200] [--used-mib 4] [--window-seconds 180]
        [--worker-processes 1] [--json out.json]
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
import redis
from harness import ROOT
from harness.appliance import passphrase_file, prepare_appliance
from harness.fleet_window import backlog, count, markers_stored, rpo_parts, rpo_parts_lines, spread
from harness.hub import ADMIN, project_path
from harness.machine import wait_for_quiet
from harness.options import Bounded, bench_main
from harness.processes import ProcessMonitor, hub_worker_pid, stop_process
from harness.replication import cpu_by_process, cycle_env, format_cpu_by_process
from harness.report import summary

from jobs.worker_process import WORKER_COMMAND
from tests.hubs import launch, terminate_group
from tests.replication_rig import wait_for
from tests.test_isolation import csrf, portal_session

PROJECT = "bench-capacity"
SEED_SCRIPT = Path(__file__).resolve().with_name("appliance_capacity_seed.py")
APPLIANCE_HEARTBEAT_SECONDS = 2
FLEET_HEARTBEAT_SECONDS = 5
SAMPLE_SECONDS = 5
CYCLE_SECONDS = 60


def finalize(hub, path: str) -> None:
    """Discover > Finalize registration of the project's appliance, as its admin does in the portal."""
    session = portal_session(hub, ADMIN)
    url = f"{hub.url}/migrate/discover/?project={quote(path, safe='')}"
    chosen = re.search(
        r'<select id="select-configuration-server" name="appliance">\s*<option value="([^"]+)"',
        session.get(url, timeout=30).text,
    )
    if chosen is None:
        raise RuntimeError("Discover lists no appliance to finalize")
    session.post(
        f"{hub.url}/migrate/discover/finalize/?project={quote(path, safe='')}",
        data={"appliance": chosen.group(1), **csrf(session)},
        timeout=30,
    )
    session.close()


# The database counts a wait reads: seldom enough not to weigh on the figures.
POLL_SECONDS = 2.0


def start_extra_workers(hub, workdir: Path, how_many: int) -> list[subprocess.Popen]:
    """Celery workers beside serve's own, with its command line (thread pool, same concurrency) and a
    name each: every worker registers its own heartbeat, so they share the queue as equals."""
    return [
        launch(
            [*WORKER_COMMAND, "--hostname", f"bench-extra-{number}@%h"],
            workdir / f"worker-{number}.log",
            cwd=ROOT,
            env=hub.env,
        )
        for number in range(1, how_many + 1)
    ]


def run(
    hub,
    *,
    workdir: Path,
    count_: int,
    used_mib: int,
    window_seconds: int,
    initial_seconds: int,
    worker_processes: int,
) -> dict:
    with contextlib.ExitStack() as started:
        extra_workers = start_extra_workers(hub, workdir, worker_processes - 1)
        for extra in extra_workers:
            started.callback(terminate_group, extra)
        appliance = prepare_appliance(
            hub, workdir, PROJECT, hub_url=hub.url, heartbeat_seconds=APPLIANCE_HEARTBEAT_SECONDS
        )
        started.callback(stop_process, appliance.process)
        finalize(hub, project_path(PROJECT))
        database = psycopg.connect(hub.env["DATABASE_URL"], autocommit=True)
        started.callback(database.close)
        wait_for(
            lambda: count(database, "SELECT count(*) FROM replication_appliance WHERE state = 'Finalized'"),
            lambda finalized: finalized == 1,
            120,
            "finalized appliances",
            step=POLL_SECONDS,
        )

        fleet_log = open(workdir / "fleet.log", "w")  # noqa: SIM115 (lives as long as the fleet)
        started.callback(fleet_log.close)
        fleet = subprocess.Popen(
            [
                str(appliance.folder / "agent" / "fleet"),
                "--appliance", appliance.listen,
                "--passphrase-file", str(passphrase_file(appliance, workdir)),
                "--count", str(count_),
                "--replicate", "--used-mib", str(used_mib),
                "--duration", str(initial_seconds + window_seconds + 600),
                "--heartbeat-seconds", str(FLEET_HEARTBEAT_SECONDS),
                "--state-dir", str(workdir / "fleet-state"),
            ],
            stdout=fleet_log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )  # fmt: skip
        started.callback(stop_process, fleet)
        appliance_id = appliance.appliance_id
        print(f"Fleet of {count_} agents started; waiting for discovery...", flush=True)
        wait_for(
            lambda: count(
                database,
                "SELECT count(*) FROM replication_discoveredserver WHERE appliance_id = %s AND discovered_at <= now()",
                appliance_id,
            ),
            lambda found: found >= count_,
            300,
            "discovered servers",
            step=POLL_SECONDS,
        )
        print("Replicating every server (set-up)...", flush=True)
        seeded = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SEED_SCRIPT.read_text()],
            cwd=ROOT,
            env={**hub.env, "BENCH_SEED_PROJECT": PROJECT},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"Replicate failed:\n{seeded.stdout[-2000:]}\n{seeded.stderr[-4000:]}")

        monitor = ProcessMonitor()
        monitor.watch("hub web (uvicorn)", hub.process.pid)
        monitor.watch("hub worker (celery)", hub_worker_pid(hub))
        for number, extra in enumerate(extra_workers, start=1):
            monitor.watch(f"hub worker {number + 1} (celery)", extra.pid)
        monitor.watch("appliance (process server)", appliance.process.pid)
        monitor.watch(f"fleet ({count_} simulated agents)", fleet.pid)
        monitor.start()
        started.callback(monitor.stopping.set)

        initial_started = time.monotonic()
        wait_for(
            lambda: count(
                database,
                "SELECT count(*) FROM replication_migrationitem "
                "WHERE appliance_id = %s AND migration_state = 'Replicating'",
                appliance_id,
            ),
            lambda replicating: replicating >= count_,
            initial_seconds,
            "servers past initial replication",
            step=5,
        )
        initial_done = time.monotonic() - initial_started
        print(f"All {count_} replicating after {initial_done:.0f} s; measuring {window_seconds} s...", flush=True)
        quiet = wait_for_quiet(max_seconds=10)
        for pid in database.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall():
            monitor.watch(f"postgres backend {pid[0]}", pid[0])

        def transferred() -> int:
            return count(
                database,
                "SELECT coalesce(sum(d.transferred_bytes), 0) FROM replication_protecteddisk d "
                "JOIN replication_migrationitem i ON i.id = d.item_id WHERE i.appliance_id = %s",
                appliance_id,
            )

        broker = redis.Redis.from_url(hub.env["REDIS_URL"])
        started.callback(broker.close)
        load_before = os.getloadavg()  # the machine is shared: its load stands beside every figure
        start_wall, start, start_bytes = time.time(), time.monotonic(), transferred()
        rpo_samples: list[float] = []
        backlog_samples: list[dict[str, int]] = []
        markers: dict[tuple[str, int], float] = {}
        while time.monotonic() - start < window_seconds:
            backlog_samples.append(
                {"at": round(time.monotonic() - start, 1), **backlog(database, broker, appliance_id)}
            )
            markers.update(markers_stored(database, appliance_id))
            rows = database.execute(
                "SELECT extract(epoch FROM now() - last_recovery_point_at) FROM replication_migrationitem "
                "WHERE appliance_id = %s AND migration_state = 'Replicating' AND last_recovery_point_at IS NOT NULL",
                (appliance_id,),
            ).fetchall()
            rpo_samples += [float(row[0]) for row in rows]
            time.sleep(SAMPLE_SECONDS)
        end, end_bytes = time.monotonic(), transferred()
        seconds = end - start
        uploaded = count(
            database,
            "SELECT coalesce(sum(bytes), 0) FROM replication_transfersample s JOIN projects_migrateproject p "
            "ON p.id = s.project_id WHERE p.name = %s AND s.minute >= to_timestamp(%s) "
            "AND s.minute + interval '1 minute' <= to_timestamp(%s)",
            PROJECT,
            start_wall,
            start_wall + seconds,
        )
        whole_minutes = max(1, int(seconds // 60) - 1)
        cpu = cpu_by_process(monitor, start, end)
        appliance_row = database.execute(
            "SELECT changed_bytes_per_day, peak_machine_bytes_per_second FROM replication_appliance WHERE id = %s",
            (appliance_id,),
        ).fetchone()
        return {
            "benchmark": "appliance_capacity",
            "machines": count_,
            "worker_processes": worker_processes,
            "used_mib_per_disk": used_mib,
            "cycle_seconds": CYCLE_SECONDS,
            "initial_replication_seconds": round(initial_done, 1),
            "window_seconds": round(seconds, 1),
            "quiet_wait": quiet,
            "transferred_mb_per_second": round((end_bytes - start_bytes) / seconds / 1e6, 2),
            "uploaded_mb_per_second_whole_minutes": round(uploaded / (whole_minutes * 60) / 1e6, 2),
            "rpo_seconds": summary(rpo_samples) if rpo_samples else None,
            "rpo_parts": rpo_parts(database, appliance_id, start_wall, start_wall + seconds, markers),
            "backlog": {
                name: spread([sample[name] for sample in backlog_samples])
                for name in backlog_samples[0]
                if name != "at"
            },
            "backlog_samples": backlog_samples,
            "appliance_reported": {
                "changed_bytes_per_day": appliance_row[0],
                "peak_machine_bytes_per_second": appliance_row[1],
            },
            "cpu": cpu,
            "load_average": {"window_start": load_before, "window_end": os.getloadavg()},
        }


def report(result: dict) -> str:
    rpo = result["rpo_seconds"]
    lines = [
        f"{result['machines']} simulated replicating machines on one appliance, "
        f"{result['worker_processes']} Celery worker process(es) ({result['used_mib_per_disk']} MiB "
        f"used per disk, hot runs rewritten at 16 KiB/s per disk, cycles of {result['cycle_seconds']} s):",
        f"  initial replication of all: {result['initial_replication_seconds']} s",
        f"  steady window {result['window_seconds']} s: {result['transferred_mb_per_second']} MB/s transferred "
        f"(disks' counters), {result['uploaded_mb_per_second_whole_minutes']} MB/s uploaded (whole minutes)",
        f"  RPO: median {rpo['median']:.0f} s, p95 {rpo['p95']:.0f} s, max {rpo['max']:.0f} s" if rpo else "  RPO: -",
        f"  backlog (min, median, max of samples every {SAMPLE_SECONDS} s): "
        + ", ".join(f"{name} {v['min']}/{v['median']}/{v['max']}" for name, v in result["backlog"].items()),
        *rpo_parts_lines(result["rpo_parts"]),
        f"  the appliance reported: {result['appliance_reported']}",
        f"  load average (1, 5, 15 min): {result['load_average']}",
    ]
    lines += format_cpu_by_process(result["cpu"], result["window_seconds"])
    return "\n".join(lines)


OPTIONS = [
    Bounded("--count", 200, 1, 1000, "simulated replicating machines (1 to 1000)", keyword="count_"),
    Bounded("--used-mib", 4, 1, 64, "MiB in use on each synthetic disk"),
    Bounded("--window-seconds", 180, 30, 3600, "the steady window measured"),
    Bounded("--initial-seconds", 1200, 60, 7200, "the most initial replication may take"),
    Bounded("--worker-processes", 1, 1, 4, "Celery worker processes (1: serve's own, as deployed)"),
]

if __name__ == "__main__":
    os.environ.setdefault("BENCH_QUIET_WAIT_SECONDS", "10")
    sys.exit(
        bench_main(
            __doc__,
            run,
            report,
            OPTIONS,
            extra_env=cycle_env(CYCLE_SECONDS),
            workdir_prefix="migratehub-bench-capacity-",
        )
    )
