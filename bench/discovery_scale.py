"""Discovery at scale: 500 simulated agents registering and heartbeating through one appliance.

Starts a hub (PostgreSQL + Redis, daphne + a separate Celery worker, DEBUG=false) with
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
- CPU time and memory (VmRSS sampled every 0.5 s, and VmHWM) of the hub's web process (daphne),
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
import http.client
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import benchhub
import psycopg
import requests

from tests.hubs import free_port
from tests.test_isolation import create_resources, csrf, portal_session

TARGET_DISCOVERY_AFTER_DELAY_SECONDS = 60.0
TARGET_P95_MS = 50.0
DISCOVERY_DELAY_SECONDS = 5
APPLIANCE_HEARTBEAT_SECONDS = 5
FLEET_HEARTBEAT_SECONDS = 15
FLEET_WORKERS = 16  # the fleet's default
BASELINE_SECONDS = 10.0
WARMUP_REQUESTS = 30
SAMPLE_INTERVAL_SECONDS = 0.1
POLL_INTERVAL_SECONDS = 0.25
MONITOR_INTERVAL_SECONDS = 0.5
PROJECT = "bench-discovery"
API_VERSION = {"resource_group": "2025-04-01", "project": "2018-09-01-preview"}
SERVER_TIMING = re.compile(r"\bapp;dur=([0-9.]+)")
REGISTERED_LINE = re.compile(r"Registered (\d+) of (\d+) simulated agents in ([0-9.]+) s")
HEARTBEAT_LINE = re.compile(r"Heartbeats: (\d+) of (\d+) connected")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_ms(headers) -> float | None:
    match = SERVER_TIMING.search(headers.get("Server-Timing", "") or "")
    return float(match.group(1)) if match else None


# The hub's request time, seen from two sides


class ArmSampler(threading.Thread):
    """GETs the resource group over ARM every ~100 ms on one keep-alive session."""

    def __init__(self, url: str, token: str):
        super().__init__(name="arm-sampler", daemon=True)
        self.url, self.token = url, token
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, server ms, client ms)
        self.errors: list[tuple[float, str]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token}"
        next_at = time.monotonic()
        while not self.stopping.is_set():
            started = time.perf_counter()
            at = time.monotonic()
            try:
                response = session.get(self.url, params={"api-version": API_VERSION["resource_group"]}, timeout=10)
                client = (time.perf_counter() - started) * 1000
                server = server_ms(response.headers)
                if response.status_code != 200 or server is None:
                    self.errors.append((at, f"{response.status_code} {response.text[:120]}"))
                else:
                    self.samples.append((at, server, client))
            except requests.RequestException as error:
                self.errors.append((at, str(error)[:200]))
            next_at += SAMPLE_INTERVAL_SECONDS
            now = time.monotonic()
            if next_at < now:  # a slow answer: carry on from now rather than firing a burst
                next_at = now
            self.stopping.wait(next_at - now)
        session.close()


class TimingProxy:
    """Between the appliance and the hub: forwards each call unchanged and records the hub's
    Server-Timing. One new connection to the hub per call, as the appliance itself makes."""

    def __init__(self, hub_url: str):
        target = urlsplit(hub_url)
        if target.hostname not in benchhub.LOOPBACK:
            raise SystemExit(f"The proxy only forwards to this machine, not {hub_url!r}.")
        self.records: list[
            tuple[float, str, int, float | None, float]
        ] = []  # (monotonic, kind, status, server, client)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                self._forward("POST")

            def do_GET(self):  # noqa: N802
                self._forward("GET")

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept", "authorization")
                }
                at, started = time.monotonic(), time.perf_counter()
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    connection.request(method, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                    status, answer_headers = response.status, response.headers
                except OSError as error:
                    status, answer_headers = 502, {}
                    data = json.dumps({"error": {"code": "ProxyError", "message": str(error)}}).encode()
                finally:
                    connection.close()
                client = (time.perf_counter() - started) * 1000
                kind = (
                    "machines"
                    if self.path.endswith("/machines")
                    else "heartbeat"
                    if "/heartbeat" in self.path
                    else "setup"
                )
                with proxy.lock:
                    proxy.records.append((at, kind, status, server_ms(answer_headers), client))
                self.send_response(status)
                self.send_header("Content-Type", answer_headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):  # noqa: A002 (quiet)
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # not the default 5: a burst of calls must not wait for a SYN retry

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="proxy", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# CPU and memory of the processes, from /proc


def read_proc(pid: int) -> tuple[int, int, int] | None:
    """(utime + stime in ticks, VmRSS kB, VmHWM kB), or None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped: nothing more to read
        return None
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    memory = {}
    for line in status.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            memory[line.split(":")[0]] = int(line.split()[1])
    return ticks, memory.get("VmRSS", 0), memory.get("VmHWM", 0)


def child_pids(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(entry.name))
    return children


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


class ProcessMonitor(threading.Thread):
    def __init__(self):
        super().__init__(name="process-monitor", daemon=True)
        self.pids: dict[str, int] = {}
        self.timeline: dict[str, list[tuple[float, int, int]]] = {}  # name -> [(monotonic, ticks, rss kB)]
        self.hwm: dict[str, int] = {}
        self.gone: dict[str, float] = {}  # name -> when it was first seen gone
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def watch(self, name: str, pid: int) -> None:
        with self.lock:
            self.pids[name] = pid
            self.timeline.setdefault(name, [])
        self.sample()

    def sample(self) -> None:
        now = time.monotonic()
        with self.lock:
            for name, pid in self.pids.items():
                found = read_proc(pid)
                if found is not None:
                    self.timeline[name].append((now, found[0], found[1]))
                    self.hwm[name] = found[2]
                else:
                    self.gone.setdefault(name, now)

    def run(self) -> None:
        while not self.stopping.wait(MONITOR_INTERVAL_SECONDS):
            self.sample()

    def window(self, name: str, start: float, end: float) -> dict:
        with self.lock:
            points = list(self.timeline.get(name, []))
        before = [p for p in points if p[0] <= start]
        inside = [p for p in points if start <= p[0] <= end]
        upto = [p for p in points if p[0] <= end]
        ticks = (upto[-1][1] if upto else 0) - (before[-1][1] if before else 0)
        seconds = ticks / CLOCK_TICKS
        return {
            "cpu_seconds": round(seconds, 2),
            "cpu_percent_of_one_core": round(100 * seconds / max(end - start, 1e-6), 1),
            "peak_rss_mb": round(max((p[2] for p in inside), default=0) / 1024, 1),
        }


# The appliance, prepared through the portal as a user does


def prepare_appliance(hub, workdir: Path, hub_url_for_appliance: str) -> tuple[subprocess.Popen, Path, Path, str, str]:
    """Project, Create resources, installer and key through the portal; then `setup` (which registers
    and starts serving). Returns the process, the unpacked folder, the appliance's home, its id and address."""
    path = (
        f"/subscriptions/{benchhub.SUBSCRIPTION}/resourceGroups/{benchhub.RESOURCE_GROUP}"
        f"/providers/Microsoft.Migrate/migrateProjects/{PROJECT}"
    )
    for method, url, body in (
        ("PUT", path, {"location": "westeurope"}),
        ("POST", f"{path}/registerTool", {"tool": "ServerMigration"}),
    ):
        answer = hub.api(method, url, json=body)
        if answer.status_code not in (200, 201, 202):
            raise RuntimeError(f"{method} {url} answered {answer.status_code}: {answer.text[:300]}")
    create_resources(hub, path)
    session = portal_session(hub, benchhub.ADMIN)
    query = f"?project={quote(path, safe='')}"
    installer = session.get(f"{hub.url}/migrate/discover/appliance-installer/{query}", timeout=30)
    key = session.post(f"{hub.url}/migrate/discover/registration-key/{query}", data=csrf(session), timeout=30)
    if installer.status_code != 200 or not key.headers.get("Content-Type", "").startswith("application/json"):
        raise RuntimeError(f"installer {installer.status_code}, key {key.status_code}: {key.text[:300]}")
    session.close()
    with tarfile.open(fileobj=io.BytesIO(installer.content)) as archive:
        archive.extractall(workdir, filter="data")
    key_file = workdir / "appliance.key"
    key_file.write_bytes(key.content)
    folder, home = workdir / "MigrateHubAppliance", workdir / "appliance-home"
    listen = f"127.0.0.1:{free_port()}"
    log = open(workdir / "appliance.log", "w")  # noqa: SIM115 (lives as long as the process)
    process = subprocess.Popen(
        [
            str(folder / "setup"),
            "--key", str(key_file),
            "--listen", listen,
            "--home", str(home),
            "--name", "bench-appliance",
            "--hub", hub_url_for_appliance,
            "--heartbeat-seconds", str(APPLIANCE_HEARTBEAT_SECONDS),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "listening on" not in (workdir / "appliance.log").read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"The appliance did not start:\n{(workdir / 'appliance.log').read_text()}")
        time.sleep(0.1)
    registration = json.loads((home / "appliance.json").read_text())
    return process, folder, home, registration["applianceId"], listen


class LineReader(threading.Thread):
    """Keeps a process's output, each line with the time it arrived."""

    def __init__(self, process: subprocess.Popen):
        super().__init__(name="fleet-output", daemon=True)
        self.process = process
        self.lines: list[tuple[float, str]] = []

    def run(self) -> None:
        for line in self.process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))


def stop_process(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# The measurement


def count_servers(connection, appliance_id: str) -> tuple[int, int, int]:
    """Servers reported, servers discovered, and the hub's connections to the database (this one not counted)."""
    row = connection.execute(
        """SELECT count(*), count(discovered_at),
                  (SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database())
           FROM replication_discoveredserver WHERE appliance_id = %s""",
        (appliance_id,),
    ).fetchone()
    return row[0], row[1], row[2]


def latency_stats(values: list[float]) -> dict | None:
    return benchhub.summary(values) if values else None


def run(hub, args, workdir: Path, started: list) -> dict:
    proxy = None if args.no_proxy else TimingProxy(hub.url)
    if proxy:
        started.append(proxy)
    appliance, folder, home, appliance_id, listen = prepare_appliance(hub, workdir, proxy.url if proxy else hub.url)
    started.append(appliance)
    passphrase_file = workdir / "passphrase.txt"
    shown = subprocess.run(
        [str(folder / "genpassphrase"), "-v", "--home", str(home)], capture_output=True, text=True, timeout=30
    )
    if shown.returncode != 0 or not shown.stdout.strip():
        raise RuntimeError(f"genpassphrase -v failed: {shown.stderr}")
    passphrase_file.write_text(shown.stdout)

    monitor = ProcessMonitor()
    monitor.watch("hub web (daphne)", hub.process.pid)
    worker_pid = None
    for _ in range(100):
        worker_pid = next((pid for pid in child_pids(hub.process.pid) if "celery" in command_line(pid)), None)
        if worker_pid:
            break
        time.sleep(0.1)
    if worker_pid is None:
        raise RuntimeError("No Celery worker process under the hub")
    monitor.watch("celery worker", worker_pid)
    monitor.watch("appliance", appliance.pid)
    monitor.watch("bench (sampler, proxy, poller)", os.getpid())
    monitor.start()
    started.append(monitor)

    database = psycopg.connect(hub.env["DATABASE_URL"], autocommit=True)
    started.append(database)
    sampler = ArmSampler(
        f"{hub.url}/subscriptions/{benchhub.SUBSCRIPTION}/resourcegroups/{benchhub.RESOURCE_GROUP}",
        hub.token(benchhub.ADMIN),
    )

    warmup = requests.Session()
    warmup.headers["Authorization"] = f"Bearer {hub.token(benchhub.ADMIN)}"
    for _ in range(WARMUP_REQUESTS):
        warmup.get(sampler.url, params={"api-version": API_VERSION["resource_group"]}, timeout=10)
    warmup.close()
    quiet = benchhub.wait_for_quiet()
    sampler.start()
    started.append(sampler)
    time.sleep(BASELINE_SECONDS)

    fleet_duration = args.max_seconds + args.steady_seconds + 30  # outlives the measurement, not much more
    command = [
        str(folder / "agent" / "fleet"),
        "--appliance", listen,
        "--passphrase-file", str(passphrase_file),
        "--count", str(args.count),
        "--duration", str(fleet_duration),
        "--heartbeat-seconds", str(FLEET_HEARTBEAT_SECONDS),
        "--workers", str(args.fleet_workers),
    ]  # fmt: skip
    watch = benchhub.CpuWatch(hub.process.pid)
    t0, wall0 = time.monotonic(), time.time()
    fleet = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workdir)
    started.append(fleet)
    monitor.watch(f"fleet ({args.count} agents)", fleet.pid)
    reader = LineReader(fleet)
    reader.start()

    progress: list[tuple[float, int, int]] = []
    connections_seen = []
    all_reported_at = all_discovered_at = registered_line_at = None
    registered = None
    next_print = t0 + 5
    deadline = t0 + args.max_seconds
    while time.monotonic() < deadline:
        reported, discovered, connections = count_servers(database, appliance_id)
        connections_seen.append(connections)
        now = time.monotonic()
        progress.append((now - t0, reported, discovered))
        if all_reported_at is None and reported >= args.count:
            all_reported_at = now
        if registered is None:
            for at, line in reader.lines:
                match = REGISTERED_LINE.search(line)
                if match:
                    registered, registered_line_at = match.groups(), at
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
            p95 = f"{benchhub.percentile(recent, 0.95):.1f} ms" if recent else "-"
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
    sampler.stopping.set()
    sampler.join(timeout=15)
    monitor.sample()
    if registered is None:  # the line may have come after the last poll
        for at, line in reader.lines:
            match = REGISTERED_LINE.search(line)
            if match:
                registered, registered_line_at = match.groups(), at

    final = database.execute(
        """SELECT count(*), count(discovered_at),
                  extract(epoch FROM max(reported_at) - min(reported_at)),
                  extract(epoch FROM max(discovered_at) - min(reported_at)),
                  extract(epoch FROM max(discovered_at) - max(reported_at)),
                  extract(epoch FROM min(reported_at)) - %s
           FROM replication_discoveredserver WHERE appliance_id = %s""",
        (wall0, appliance_id),
    ).fetchone()
    lags = [
        float(row[0])
        for row in database.execute(
            "SELECT extract(epoch FROM discovered_at - reported_at) FROM replication_discoveredserver "
            "WHERE appliance_id = %s AND discovered_at IS NOT NULL",
            (appliance_id,),
        )
    ]

    # The page a user would look at, once, as a check of what "discovered" means in the database.
    session = portal_session(hub, benchhub.ADMIN)
    page_started = time.perf_counter()
    page = session.get(
        f"{hub.url}/migrate/discovered-servers/",
        params={
            "project": f"/subscriptions/{benchhub.SUBSCRIPTION}/resourceGroups/{benchhub.RESOURCE_GROUP}"
            f"/providers/Microsoft.Migrate/migrateProjects/{PROJECT}"
        },
        timeout=60,
    )
    page_ms = (time.perf_counter() - page_started) * 1000
    session.close()

    def arm_window(start, stop):
        return {
            "server_ms": latency_stats([s[1] for s in sampler.samples if start <= s[0] < stop]),
            "client_ms": latency_stats([s[2] for s in sampler.samples if start <= s[0] < stop]),
        }

    def appliance_window(start, stop):
        records = list(proxy.records) if proxy else []
        kinds = {}
        for kind in ("machines", "heartbeat"):
            chosen = [r for r in records if r[1] == kind and start <= r[0] < stop and r[3] is not None]
            kinds[kind] = {
                "server_ms": latency_stats([r[3] for r in chosen]),
                "client_ms": latency_stats([r[4] for r in chosen]),
                "non_2xx": sum(1 for r in records if r[1] == kind and start <= r[0] < stop and not 200 <= r[2] < 300),
            }
        return kinds

    windows = {"idle_before_fleet": (t0 - BASELINE_SECONDS, t0), "fleet_start_to_all_discovered": (t0, load_end)}
    if all_reported_at is not None:  # the load window in two: the web process's work, then the worker's
        windows["of_which_registering"] = (t0, all_reported_at)
        windows["of_which_after_all_reported"] = (all_reported_at, load_end)
    windows["heartbeating_after"] = (load_end, end)
    latency = {name: {"arm_get_resource_group": arm_window(*span)} for name, span in windows.items()}
    if proxy:
        for name, span in windows.items():
            latency[name]["appliance_api"] = appliance_window(*span)

    # Every hub request in the load window, whoever sent it: ARM samples and the appliance's calls.
    load_server = [s[1] for s in sampler.samples if t0 <= s[0] < load_end]
    if proxy:
        load_server += [r[3] for r in proxy.records if t0 <= r[0] < load_end and r[3] is not None]
    combined = latency_stats(load_server)

    processes = {}
    for name in monitor.pids:
        processes[name] = {
            "pid": monitor.pids[name],
            "command": command_line(monitor.pids[name])[:160],
            "load_window": monitor.window(name, t0, load_end),
            "whole_run": monitor.window(name, t0, end),
            "registering": None if all_reported_at is None else monitor.window(name, t0, all_reported_at),
            "after_all_reported": None if all_reported_at is None else monitor.window(name, all_reported_at, load_end),
            "vmhwm_mb": round(monitor.hwm.get(name, 0) / 1024, 1),
            "exited_after_seconds": round(monitor.gone[name] - t0, 1) if name in monitor.gone else None,
        }

    t_discovered = None if all_discovered_at is None else all_discovered_at - t0
    arm_p95 = (latency["fleet_start_to_all_discovered"]["arm_get_resource_group"]["server_ms"] or {}).get("p95")
    heartbeat_lines = [line for _, line in reader.lines if HEARTBEAT_LINE.search(line)]
    return {
        "benchmark": "discovery_scale",
        "agents": args.count,
        "debug": hub.env["DEBUG"],
        "discovery_delay_seconds": DISCOVERY_DELAY_SECONDS,
        "appliance_heartbeat_seconds": APPLIANCE_HEARTBEAT_SECONDS,
        "fleet": {
            "command": " ".join(command[1:]),
            "heartbeat_seconds": FLEET_HEARTBEAT_SECONDS,
            "workers": args.fleet_workers,
            "registered_line": None
            if registered is None
            else f"{registered[0]} of {registered[1]} in {registered[2]} s",
            "registered_line_after_seconds": None if registered_line_at is None else round(registered_line_at - t0, 2),
            "failures": [line for _, line in reader.lines if line.strip().startswith("failed:")][:5],
            "heartbeat_lines": heartbeat_lines[:5],
            "exit_code": fleet.poll(),
            "output_tail": [f"{at - t0:7.2f} s  {line}" for at, line in reader.lines[-25:]],
        },
        "proxy": not args.no_proxy,
        "seconds_to_all_reported_in_hub": None if all_reported_at is None else round(all_reported_at - t0, 2),
        "seconds_to_all_discovered": None if t_discovered is None else round(t_discovered, 2),
        "seconds_to_all_discovered_after_delay": None
        if t_discovered is None
        else round(t_discovered - DISCOVERY_DELAY_SECONDS, 2),
        "database": {
            "servers": final[0],
            "discovered": final[1],
            "first_reported_after_fleet_start_seconds": None if final[5] is None else round(float(final[5]), 2),
            "reported_span_seconds": None if final[2] is None else round(float(final[2]), 2),
            "first_reported_to_last_discovered_seconds": None if final[3] is None else round(float(final[3]), 2),
            "last_reported_to_last_discovered_seconds": None if final[4] is None else round(float(final[4]), 2),
            "discovered_minus_reported_seconds": latency_stats(lags),
        },
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
        "processes": processes,
        "cpu": cpu_load,
        "quiet_wait": quiet,
        "target_discovery_after_delay_seconds": TARGET_DISCOVERY_AFTER_DELAY_SECONDS,
        "target_p95_ms": TARGET_P95_MS,
        "discovery_target_met": t_discovered is not None
        and t_discovered - DISCOVERY_DELAY_SECONDS <= TARGET_DISCOVERY_AFTER_DELAY_SECONDS,
        "latency_target_met": combined is not None and combined["p95"] < TARGET_P95_MS,
        "arm_p95_target_met": arm_p95 is not None and arm_p95 < TARGET_P95_MS,
    }


# Output


def _fmt(stats: dict | None, label: str) -> str:
    if not stats:
        return f"  {label:<34} (no samples)"
    return benchhub.format_row(label, stats)


def report(result: dict) -> str:
    n = result["agents"]
    seconds = result["seconds_to_all_discovered"]
    lines = [
        f"Discovery at scale: {n} simulated agents through one appliance (DEBUG={result['debug']}, "
        f"DISCOVERY_DELAY_SECONDS={result['discovery_delay_seconds']}, appliance heartbeat "
        f"{result['appliance_heartbeat_seconds']} s, fleet heartbeat {result['fleet']['heartbeat_seconds']} s, "
        f"{result['fleet']['workers']} fleet workers, appliance API via recording proxy: {result['proxy']}):",
        f" fleet: Registered {result['fleet']['registered_line']} (line seen at "
        f"{result['fleet']['registered_line_after_seconds']} s)",
        f" all {n} in the hub's database (reported): {result['seconds_to_all_reported_in_hub']} s after fleet start",
        f" all {n} discovered: {seconds} s after fleet start = "
        f"{result['seconds_to_all_discovered_after_delay']} s after the {result['discovery_delay_seconds']} s delay",
    ]
    db = result["database"]
    lines.append(
        f" database: {db['servers']} servers, {db['discovered']} discovered; "
        f"reported over {db['reported_span_seconds']} s; "
        f"last reported -> last discovered {db['last_reported_to_last_discovered_seconds']} s"
    )
    lines.append(f" hub connections to PostgreSQL, most seen while polling: {result['hub_database_connections_max']}")
    lines.append(
        _fmt(db["discovered_minus_reported_seconds"], "discovered_at - reported_at (s)").replace("(ms)", "(s)")
    )
    for failure in result["fleet"]["failures"]:
        lines.append(f"  fleet {failure.strip()}")
    if result["fleet"]["exit_code"] is not None:
        lines.append(f" The fleet exited early (exit {result['fleet']['exit_code']}); its last output:")
        lines += [f"   {line}" for line in result["fleet"]["output_tail"][-12:]]
    page = result["discovered_servers_page"]
    lines.append(f" Discovered servers page afterwards: {page['rows']} rows ({page['status']}, {page['client_ms']} ms)")
    for window, data in result["latency"].items():
        lines.append(f" {window.replace('_', ' ')}:")
        lines.append(_fmt(data["arm_get_resource_group"]["server_ms"], "ARM GET RG, server"))
        lines.append(_fmt(data["arm_get_resource_group"]["client_ms"], "ARM GET RG, client"))
        for kind, label in (("machines", "appliance machines POST"), ("heartbeat", "appliance heartbeat POST")):
            if "appliance_api" in data:
                stats = data["appliance_api"][kind]
                lines.append(_fmt(stats["server_ms"], f"{label}, server"))
                if stats["non_2xx"]:
                    lines.append(f"    {stats['non_2xx']} answers were not 2xx")
    lines.append(" fleet start to all discovered, every hub request sampled (ARM and appliance API):")
    lines.append(_fmt(result["all_hub_requests_in_load_window_server_ms"], "all sampled hub requests, server"))
    lines.append(
        " processes, CPU seconds (% of one core): fleet start -> all discovered [registering | after all reported]"
        " | whole run incl. heartbeating after; memory:"
    )

    def cpu(window: dict | None) -> str:
        return "-" if window is None else f"{window['cpu_seconds']:.1f} s ({window['cpu_percent_of_one_core']:.0f}%)"

    for name, data in result["processes"].items():
        lines.append(
            f"  {name:<32} {cpu(data['load_window'])} [{cpu(data.get('registering'))} | "
            f"{cpu(data.get('after_all_reported'))}] | {cpu(data['whole_run'])}; "
            f"peak RSS {data['whole_run']['peak_rss_mb']} MB, VmHWM {data['vmhwm_mb']} MB"
            + (f"; exited at {data['exited_after_seconds']} s" if data["exited_after_seconds"] is not None else "")
        )
    lines.append(benchhub.format_cpu(result["cpu"]))
    verdict = {True: "met", False: "MISSED"}
    lines.append(
        f" Target all discovered <= {result['target_discovery_after_delay_seconds']:.0f} s after the delay: "
        f"{verdict[result['discovery_target_met']]}; hub p95 < {result['target_p95_ms']:.0f} ms while it happens: "
        f"{verdict[result['latency_target_met']]} (all sampled requests; ARM samples alone: "
        f"{verdict[result['arm_p95_target_met']]})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="simulated agents (1 to 2000)")
    parser.add_argument("--max-seconds", type=float, default=180, help="cap from fleet start to all discovered")
    parser.add_argument("--steady-seconds", type=float, default=30, help="heartbeating measured afterwards")
    parser.add_argument(
        "--fleet-workers", type=int, default=FLEET_WORKERS, help="the fleet's concurrent requests (its default 16)"
    )
    parser.add_argument("--no-proxy", action="store_true", help="the appliance talks to the hub directly")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    args.count = min(max(args.count, 1), 2000)
    args.max_seconds = min(max(args.max_seconds, 10), 300)
    args.steady_seconds = min(max(args.steady_seconds, 0), 120)
    args.fleet_workers = min(max(args.fleet_workers, 1), 64)

    # SIGTERM (run_all's time limit, say) unwinds through `finally`, which stops everything started here.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="migratehub-bench-discovery-"))
    started: list = []
    hub = None
    failed = True
    try:
        print(
            f"Starting a hub (PostgreSQL + Redis, daphne + Celery worker, DISCOVERY_DELAY_SECONDS="
            f"{DISCOVERY_DELAY_SECONDS})...",
            flush=True,
        )
        hub = benchhub.start_hub(
            debug=benchhub.debug_requested(), extra_env={"DISCOVERY_DELAY_SECONDS": str(DISCOVERY_DELAY_SECONDS)}
        )
        print("Preparing an appliance through the portal, then the fleet...", flush=True)
        result = run(hub, args, workdir, started)
        failed = False
    finally:
        for thing in reversed(started):
            try:
                if isinstance(thing, subprocess.Popen):
                    stop_process(thing)
                elif isinstance(thing, threading.Thread):
                    thing.stopping.set()
                else:
                    thing.close()
            except Exception as error:  # noqa: BLE001 (clean up the rest whatever happens)
                print(f"  cleanup of {thing!r} failed: {error}", file=sys.stderr)
        if failed and (workdir / "appliance.log").exists():
            print("--- the appliance's log, last lines:", file=sys.stderr)
            print(
                "\n".join((workdir / "appliance.log").read_text(errors="replace").splitlines()[-20:]), file=sys.stderr
            )
        if hub is not None:
            benchhub.stop_hub(hub, failed=failed)
        shutil.rmtree(workdir, ignore_errors=True)
    print(report(result))
    benchhub.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
