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


def count(database, sql: str, *params) -> int:
    return int(database.execute(sql, params).fetchone()[0])  # sum() answers a Decimal


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


# The broker's default queue: every task of the hub goes there (no routes are configured).
BROKER_QUEUE = "celery"


def backlog(database, broker, appliance_id) -> dict[str, int]:
    """What waits for the worker(s) right now: broker messages, items with an apply queued or leased,
    stored batches not yet applied."""
    items = database.execute(
        "SELECT count(*) FILTER (WHERE apply_lease_owner = '' AND apply_lease_until > now()), "
        "count(*) FILTER (WHERE apply_lease_owner <> '' AND apply_lease_until > now()) "
        "FROM replication_migrationitem WHERE appliance_id = %s",
        (appliance_id,),
    ).fetchone()
    return {
        "broker_messages": int(broker.llen(BROKER_QUEUE)),
        "items_apply_queued": int(items[0]),
        "items_apply_leased": int(items[1]),
        "batches_unapplied": count(
            database,
            "SELECT count(*) FROM replication_replicationbatch b JOIN replication_protecteddisk d "
            "ON d.id = b.disk_id JOIN replication_migrationitem i ON i.id = d.item_id "
            "WHERE i.appliance_id = %s AND b.applied_at IS NULL",
            appliance_id,
        ),
    }


def markers_stored(database, appliance_id) -> dict[tuple[str, int], float]:
    """(item, cycle) -> when the cycle's last marker was stored (epoch), for the markers still there: a
    cycle's batches are deleted once its point is recorded, so the loop below catches each while it can."""
    rows = database.execute(
        "SELECT d.item_id::text, b.cycle, extract(epoch FROM max(b.stored_at)) FROM replication_replicationbatch b "
        "JOIN replication_protecteddisk d ON d.id = b.disk_id JOIN replication_migrationitem i ON i.id = d.item_id "
        "WHERE i.appliance_id = %s AND b.marker IS NOT NULL GROUP BY d.item_id, b.cycle",
        (appliance_id,),
    ).fetchall()
    return {(row[0], int(row[1])): float(row[2]) for row in rows}


def rpo_parts(database, appliance_id, since: float, until: float, markers: dict[tuple[str, int], float]) -> dict:
    """Seconds, for the points recorded between since and until (epoch): each one's latency (recorded
    minus captured, the cycle's start: the agent's reading and sending, the hub's wait for an apply and
    the apply) and the gap since its item's previous capture (the cycle, or longer when one overran).
    Where the cycle's marker was seen stored (markers), the latency split there: the agent's part
    (captured to marker stored) and the hub's (marker stored to recorded). A delta cycle is applied only
    once its markers are stored, so the hub's part is its queue, apply and point; points recorded within
    a sampling interval of their marker are missed, so the hub's part seen leans long."""
    rows = database.execute(
        "SELECT item_id::text, cycle, extract(epoch FROM recorded_at), extract(epoch FROM captured_at),"
        " extract(epoch FROM captured_at - previous) FROM ("
        " SELECT p.item_id, p.cycle, p.recorded_at, p.captured_at,"
        " lag(p.captured_at) OVER (PARTITION BY p.item_id ORDER BY p.cycle) AS previous"
        " FROM replication_recoverypoint p JOIN replication_migrationitem i ON i.id = p.item_id"
        " WHERE i.appliance_id = %s) AS ordered "
        "WHERE recorded_at BETWEEN to_timestamp(%s) AND to_timestamp(%s)",
        (appliance_id, since, until),
    ).fetchall()
    latency = [float(row[2]) - float(row[3]) for row in rows]
    gaps = [float(row[4]) for row in rows if row[4] is not None]
    seen = [(row, markers[(row[0], int(row[1]))]) for row in rows if (row[0], int(row[1])) in markers]
    agent = [stored - float(row[3]) for row, stored in seen]
    hub = [float(row[2]) - stored for row, stored in seen]
    return {
        "points": len(rows),
        "latency_seconds": summary(latency) if latency else None,
        "capture_gap_seconds": summary(gaps) if gaps else None,
        "points_marker_seen": len(seen),
        "captured_to_marker_stored_seconds": summary(agent) if agent else None,
        "marker_stored_to_recorded_seconds": summary(hub) if hub else None,
    }


def spread(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {"min": ordered[0], "median": ordered[len(ordered) // 2], "max": ordered[-1]}


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


def rpo_parts_lines(parts: dict) -> list[str]:
    def figures(name: str) -> str:
        found = parts[name]
        return f"median {found['median']:.1f} s, p95 {found['p95']:.1f} s, max {found['max']:.1f} s" if found else "-"

    return [
        f"  {parts['points']} points recorded in the window: capture gap {figures('capture_gap_seconds')}; "
        f"latency (recorded - captured) {figures('latency_seconds')}",
        f"  of those, {parts['points_marker_seen']} with their marker seen stored: captured to marker stored "
        f"{figures('captured_to_marker_stored_seconds')}; marker stored to recorded "
        f"{figures('marker_stored_to_recorded_seconds')}",
    ]


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
