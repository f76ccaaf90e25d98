"""Discovery at scale: 500 simulated agents registering and heartbeating through one appliance.

Starts a hub (PostgreSQL + Redis, uvicorn + a separate Celery worker, DEBUG=false) with
DISCOVERY_DELAY_SECONDS=5, prepares one replication appliance the way a user does (project, Create
resources, installer and registration key downloaded through the portal, `setup --key ...`, heartbeat
every 5 s), then runs the shipped fleet simulator (`agent/fleet --count 500`, heartbeats every 15 s)
against it and measures:

- time from starting the fleet until all agents are registered (the fleet's own line, and the
  hub's database: rows in replication_discoveredserver for the appliance) and until all count as
  discovered (discovered_at set), polled every 0.25 s with psycopg on the bench database;
- the hub's own request time (`Server-Timing: app;dur=`) while this happens: a sampler GETs the
  resource group over ARM every 100 ms, and the appliance's calls to the hub's appliance API pass
  through a small recording proxy in this process (the appliance is set up with `--hub <proxy>`),
  so their Server-Timing is recorded too (`--no-proxy` lets the appliance talk to the hub directly);
- CPU time and memory (VmRSS sampled every 0.5 s, and VmHWM) of the hub's web process (uvicorn),
  the Celery worker, the appliance and the fleet, from /proc.

Targets (from the issue): all discovered within 60 s after the discovery delay; hub p95 request
latency under 50 ms while it happens. Measured, not asserted.

    .venv/bin/python bench/discovery_scale.py [--count 500] [--fleet-workers 16] [--no-proxy] [--json out.json]

Everything talks to 127.0.0.1 only. The measurement is capped (--max-seconds, default 180 s, plus
--steady-seconds of heartbeating afterwards); the fleet's --duration is set to outlive the cap by a
little only, and every process started here is stopped on exit, error or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import requests
from discovery_figures import (
    all_requests_in,
    database_figures,
    fleet_figures,
    latency_figures,
    process_figures,
    report,
    rounded,
)
from harness.appliance import passphrase_file, prepare_appliance
from harness.hub import ADMIN, project_path, resource_group_path, run_on_fresh_hub
from harness.machine import CpuWatch, wait_for_quiet
from harness.options import parse_with_json_option, within
from harness.processes import LineReader, ProcessMonitor, hub_worker_pid, stop_process
from harness.report import percentile
from harness.timing import RequestSampler, TimingProxy

from tests.test_isolation import portal_session

TARGET_DISCOVERY_AFTER_DELAY_SECONDS = 60.0
TARGET_P95_MS = 50.0
DISCOVERY_DELAY_SECONDS = 5
APPLIANCE_HEARTBEAT_SECONDS = 5
FLEET_HEARTBEAT_SECONDS = 15
FLEET_WORKERS = 16  # the fleet's default
BASELINE_SECONDS = 10.0
WARMUP_REQUESTS = 30
POLL_INTERVAL_SECONDS = 0.25
PROJECT = "bench-discovery"
RESOURCE_GROUP_API_VERSION = {"api-version": "2025-04-01"}
REGISTERED_LINE = re.compile(r"Registered (\d+) of (\d+) simulated agents in ([0-9.]+) s")


def appliance_call_kind(path: str) -> str:
    return "machines" if path.endswith("/machines") else "heartbeat" if "/heartbeat" in path else "setup"


def count_servers(connection, appliance_id: str) -> tuple[int, int, int]:
    """Servers reported, servers discovered, and the hub's connections to the database (this one not counted)."""
    row = connection.execute(
        """SELECT count(*), count(discovered_at),
                  (SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database())
           FROM replication_discoveredserver WHERE appliance_id = %s""",
        (appliance_id,),
    ).fetchone()
    return row[0], row[1], row[2]


def registered_line(reader: LineReader) -> tuple[tuple | None, float | None]:
    """The fleet's "Registered N of M ... in T s" line's figures and when it came, or (None, None)."""
    for at, line in reader.lines:
        match = REGISTERED_LINE.search(line)
        if match:
            return match.groups(), at
    return None, None


def run(hub, *, workdir: Path, args) -> dict:
    print("Preparing an appliance through the portal, then the fleet...", flush=True)
    try:
        # Whatever happens, everything started here is stopped, the last started first.
        with contextlib.ExitStack() as started:
            return measure(hub, args, workdir, started)
    except BaseException:
        if (workdir / "appliance.log").exists():
            print("--- the appliance's log, last lines:", file=sys.stderr)
            print(
                "\n".join((workdir / "appliance.log").read_text(errors="replace").splitlines()[-20:]), file=sys.stderr
            )
        raise


def measure(hub, args, workdir: Path, started: contextlib.ExitStack) -> dict:
    proxy = None if args.no_proxy else TimingProxy(hub.url, appliance_call_kind)
    if proxy:
        started.callback(proxy.close)
    appliance = prepare_appliance(
        hub,
        workdir,
        PROJECT,
        hub_url=proxy.url if proxy else hub.url,
        heartbeat_seconds=APPLIANCE_HEARTBEAT_SECONDS,
    )
    started.callback(stop_process, appliance.process)
    passphrase = passphrase_file(appliance, workdir)

    monitor = ProcessMonitor()
    monitor.watch("hub web (uvicorn)", hub.process.pid)
    monitor.watch("celery worker", hub_worker_pid(hub))
    monitor.watch("appliance", appliance.process.pid)
    monitor.watch("bench (sampler, proxy, poller)", os.getpid())
    monitor.start()
    started.callback(monitor.stopping.set)

    database = psycopg.connect(hub.env["DATABASE_URL"], autocommit=True)
    started.callback(database.close)
    sampler = RequestSampler(hub.url + resource_group_path(), hub.token(ADMIN), RESOURCE_GROUP_API_VERSION)
    warmup = requests.Session()
    warmup.headers["Authorization"] = f"Bearer {hub.token(ADMIN)}"
    for _ in range(WARMUP_REQUESTS):
        warmup.get(sampler.url, params=RESOURCE_GROUP_API_VERSION, timeout=10)
    warmup.close()
    quiet = wait_for_quiet()
    sampler.start()
    started.callback(sampler.close)
    time.sleep(BASELINE_SECONDS)

    fleet_duration = args.max_seconds + args.steady_seconds + 30  # outlives the measurement, not much more
    command = [
        str(appliance.folder / "agent" / "fleet"),
        "--appliance", appliance.listen,
        "--passphrase-file", str(passphrase),
        "--count", str(args.count),
        "--duration", str(fleet_duration),
        "--heartbeat-seconds", str(FLEET_HEARTBEAT_SECONDS),
        "--workers", str(args.fleet_workers),
    ]  # fmt: skip
    watch = CpuWatch(hub.process.pid)
    t0, wall0 = time.monotonic(), time.time()
    fleet = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workdir)
    started.callback(stop_process, fleet)
    monitor.watch(f"fleet ({args.count} agents)", fleet.pid)
    reader = LineReader(fleet)
    reader.start()

    progress: list[tuple[float, int, int]] = []
    connections_seen = []
    all_reported_at = all_discovered_at = None
    registered, registered_line_at = None, None
    next_print = t0 + 5
    deadline = t0 + args.max_seconds
    while time.monotonic() < deadline:
        reported, discovered, connections = count_servers(database, appliance.appliance_id)
        connections_seen.append(connections)
        now = time.monotonic()
        progress.append((now - t0, reported, discovered))
        if all_reported_at is None and reported >= args.count:
            all_reported_at = now
        if registered is None:
            registered, registered_line_at = registered_line(reader)
        if discovered >= args.count:
            all_discovered_at = now
            break
        # Some agents failed to register: stop once what the hub has is discovered and stays so.
        failed_some = registered is not None and int(registered[0]) < args.count
        if failed_some and discovered == reported and now - registered_line_at > DISCOVERY_DELAY_SECONDS + 10:
            break
        if fleet.poll() is not None and registered is None:
            raise RuntimeError("The fleet exited early:\n" + "\n".join(line for _, line in reader.lines[-20:]))
        if now >= next_print:
            recent = [s[1] for s in sampler.samples if s[0] >= now - 5]
            p95 = f"{percentile(recent, 0.95):.1f} ms" if recent else "-"
            print(
                f"  t={now - t0:5.1f} s  in the hub {reported:4d} reported, {discovered:4d} discovered; "
                f"ARM GET p95 (last 5 s) {p95}",
                flush=True,
            )
            next_print += 5
        time.sleep(POLL_INTERVAL_SECONDS)
    load_end = time.monotonic()
    cpu_load = watch.stop()
    print(
        f"  t={load_end - t0:5.1f} s  discovery phase over; {args.steady_seconds:.0f} s of heartbeating follow",
        flush=True,
    )
    time.sleep(args.steady_seconds)
    end = time.monotonic()
    sampler.close()
    sampler.join(timeout=15)
    monitor.sample()
    if registered is None:  # the line may have come after the last poll
        registered, registered_line_at = registered_line(reader)

    servers_in_database = database_figures(database, appliance.appliance_id, wall0)
    # The page a user would look at, once, as a check of what "discovered" means in the database.
    session = portal_session(hub, ADMIN)
    page_started = time.perf_counter()
    page = session.get(f"{hub.url}/migrate/discovered-servers/", params={"project": project_path(PROJECT)}, timeout=60)
    page_ms = (time.perf_counter() - page_started) * 1000
    session.close()

    windows = {"idle_before_fleet": (t0 - BASELINE_SECONDS, t0), "fleet_start_to_all_discovered": (t0, load_end)}
    if all_reported_at is not None:  # the load window in two: the web process's work, then the worker's
        windows["of_which_registering"] = (t0, all_reported_at)
        windows["of_which_after_all_reported"] = (all_reported_at, load_end)
    windows["heartbeating_after"] = (load_end, end)
    latency = latency_figures(sampler, proxy, windows)
    combined = all_requests_in(sampler, proxy, t0, load_end)
    t_discovered = None if all_discovered_at is None else all_discovered_at - t0
    arm_p95 = (latency["fleet_start_to_all_discovered"]["arm_get_resource_group"]["server_ms"] or {}).get("p95")
    return {
        "benchmark": "discovery_scale",
        "agents": args.count,
        "debug": hub.env["DEBUG"],
        "discovery_delay_seconds": DISCOVERY_DELAY_SECONDS,
        "appliance_heartbeat_seconds": APPLIANCE_HEARTBEAT_SECONDS,
        "fleet": fleet_figures(
            fleet, reader, command, FLEET_HEARTBEAT_SECONDS, args.fleet_workers, (registered, registered_line_at), t0
        ),
        "proxy": not args.no_proxy,
        "seconds_to_all_reported_in_hub": None if all_reported_at is None else round(all_reported_at - t0, 2),
        "seconds_to_all_discovered": rounded(t_discovered),
        "seconds_to_all_discovered_after_delay": None
        if t_discovered is None
        else round(t_discovered - DISCOVERY_DELAY_SECONDS, 2),
        "database": servers_in_database,
        "hub_database_connections_max": max(connections_seen, default=None),
        "progress": [(round(t, 2), r, d) for t, r, d in progress[:: max(1, len(progress) // 60)]],
        "discovered_servers_page": {
            "status": page.status_code,
            "rows": page.text.count('<tr id="server-'),
            "client_ms": round(page_ms, 1),
        },
        "latency": latency,
        "all_hub_requests_in_load_window_server_ms": combined,
        "arm_sampler_errors": sampler.errors[:5],
        "processes": process_figures(monitor, t0, load_end, end, all_reported_at),
        "cpu": cpu_load,
        "quiet_wait": quiet,
        "target_discovery_after_delay_seconds": TARGET_DISCOVERY_AFTER_DELAY_SECONDS,
        "target_p95_ms": TARGET_P95_MS,
        "discovery_target_met": t_discovered is not None
        and t_discovered - DISCOVERY_DELAY_SECONDS <= TARGET_DISCOVERY_AFTER_DELAY_SECONDS,
        "latency_target_met": combined is not None and combined["p95"] < TARGET_P95_MS,
        "arm_p95_target_met": arm_p95 is not None and arm_p95 < TARGET_P95_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="simulated agents (1 to 2000)")
    parser.add_argument("--max-seconds", type=float, default=180, help="cap from fleet start to all discovered")
    parser.add_argument("--steady-seconds", type=float, default=30, help="heartbeating measured afterwards")
    parser.add_argument(
        "--fleet-workers", type=int, default=FLEET_WORKERS, help="the fleet's concurrent requests (its default 16)"
    )
    parser.add_argument("--no-proxy", action="store_true", help="the appliance talks to the hub directly")
    args = parse_with_json_option(parser, argv)
    args.count = within(args.count, 1, 2000)
    args.max_seconds = within(args.max_seconds, 10, 300)
    args.steady_seconds = within(args.steady_seconds, 0, 120)
    args.fleet_workers = within(args.fleet_workers, 1, 64)
    return run_on_fresh_hub(
        run,
        report,
        args.json,
        announcement="Starting a hub (PostgreSQL + Redis, uvicorn + Celery worker, DISCOVERY_DELAY_SECONDS="
        f"{DISCOVERY_DELAY_SECONDS})...",
        extra_env={"DISCOVERY_DELAY_SECONDS": str(DISCOVERY_DELAY_SECONDS)},
        workdir_prefix="migratehub-bench-discovery-",
        args=args,
    )


if __name__ == "__main__":
    sys.exit(main())
