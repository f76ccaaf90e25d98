"""What the benchmarks share: a hub of their own, statistics and the machine's facts.

The hub is started the way tests/hubs.py starts the test suite's production hub (PostgreSQL + Redis,
daphne + a separate Celery worker), but on its own database and Redis DB, so that a test suite
running at the same time on this machine is not disturbed.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import conftest, hubs  # noqa: E402

# The test suite uses database `migratehub_live` and Redis DB 9; the benchmarks stay clear of both.
BENCH_DATABASE = "migratehub_bench"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/migratehub"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
TEST_REDIS_DB = "9"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ADMIN = "admin@contoso.com"
SUBSCRIPTION = hubs.CONTOSO
RESOURCE_GROUP = "rg-migrate"
CHROMIUM_ARGS = conftest.CHROMIUM_ARGS  # the same Chromium as the browser tests


def service_urls() -> tuple[str, str]:
    """The PostgreSQL server (its database name is only a base: the bench makes its own) and the Redis DB."""
    database_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
    for url in (database_url, redis_url):
        if urlsplit(url).hostname not in LOOPBACK:
            raise SystemExit(f"The benchmarks only talk to this machine; refusing {url!r}.")
    if urlsplit(redis_url).path.strip("/") == TEST_REDIS_DB:
        raise SystemExit(f"Redis DB {TEST_REDIS_DB} is the test suite's; use another (default {DEFAULT_REDIS_URL}).")
    return database_url, redis_url


def start_hub(*, debug: bool = False, extra_env: dict[str, str] | None = None) -> hubs.Hub:
    """A fresh hub on PostgreSQL + Redis: new database `migratehub_bench`, flushed Redis DB, demo data.

    DEBUG defaults to false, as in docker-compose.yml (the production topology); BENCH_DEBUG=true
    runs it as the test suite does. extra_env adds to (or overrides) the hub's environment, e.g.
    DISCOVERY_DELAY_SECONDS.
    """
    import redis

    database_url, redis_url = service_urls()
    redis.Redis.from_url(redis_url).flushdb()
    data_dir = Path(tempfile.mkdtemp(prefix="migratehub-bench-"))
    env = hubs.base_env(data_dir)
    env.update(
        {
            "DATABASE_URL": hubs.recreate_database(database_url, BENCH_DATABASE),
            "REDIS_URL": redis_url,
            "DEBUG": "true" if debug else "false",
            "CHANNEL_PREFIX": "migratehub-bench",
            **(extra_env or {}),
        }
    )
    hub = hubs.Hub(url=f"http://127.0.0.1:{hubs.free_port()}", env=env)
    # A SIGTERM (run_all's time limit, say) unwinds through the callers' `finally`, which stops the hub.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        hub.manage("migrate", "--noinput", "-v0")
        hub.manage("seed_demo")
        hub.start()
    except BaseException:
        stop_hub(hub, failed=True)
        raise
    return hub


def stop_hub(hub: hubs.Hub, *, failed: bool = False) -> None:
    """Stop the hub's processes and remove its data directory, showing its log first if something failed."""
    hub.stop()
    if failed and hub.log_path and hub.log_path.exists():
        print(f"--- the hub's log ({hub.log_path}), last lines:", file=sys.stderr)
        print("\n".join(hub.log_path.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)
    shutil.rmtree(hub.env["DATA_DIR"], ignore_errors=True)


def debug_requested() -> bool:
    return os.environ.get("BENCH_DEBUG", "").lower() in ("1", "true", "yes", "on")


# Statistics


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "min": min(values),
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values),
    }


def format_row(label: str, stats: dict) -> str:
    return (
        f"  {label:<34} n={stats['n']:<5} median {stats['median']:8.2f}  p95 {stats['p95']:8.2f}  "
        f"p99 {stats['p99']:8.2f}  min {stats['min']:7.2f}  max {stats['max']:8.2f}  (ms)"
    )


# How busy the machine was: other people's test suites on this 2-core machine skew the figures.

SERVER_COMMANDS = {"postgres", "redis-server"}


def _processes() -> dict[int, tuple[str, int, int]]:
    """pid -> (command name, parent pid, CPU ticks of the process and of its children it reaped)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        # utime, stime, cutime, cstime: reaped children count with their parent, so a process that
        # exits during the window (a PostgreSQL backend, say) is still counted once.
        table[int(entry.name)] = (name, int(fields[1]), sum(int(value) for value in fields[11:15]))
    return table


def _tree(table: dict, roots: list[int]) -> set[int]:
    tree, frontier = set(), [pid for pid in roots if pid in table]
    while frontier:
        pid = frontier.pop()
        if pid not in tree:
            tree.add(pid)
            frontier += [child for child, (_, parent, _) in table.items() if parent == pid]
    return tree


def _machine_ticks() -> tuple[int, int]:
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class CpuWatch:
    """CPU used on the whole machine during a measurement: the bench and the hub (their process trees),
    the PostgreSQL and Redis servers (shared with whoever else uses them), and everything else."""

    def __init__(self, *roots: int):
        self.roots = [os.getpid(), *roots]
        self.load_before = os.getloadavg()
        self.machine = _machine_ticks()
        self.groups = self._groups()

    def _groups(self) -> dict[str, int]:
        table = _processes()
        ours = _tree(table, self.roots)
        servers = _tree(table, [pid for pid, (name, _, _) in table.items() if name in SERVER_COMMANDS]) - ours
        return {
            "ours": sum(table[pid][2] for pid in ours),
            "servers": sum(table[pid][2] for pid in servers),
        }

    def stop(self) -> dict:
        busy_before, total_before = self.machine
        busy_after, total_after = _machine_ticks()
        groups = self._groups()
        total = max(total_after - total_before, 1)
        busy = busy_after - busy_before
        ours = groups["ours"] - self.groups["ours"]
        servers = groups["servers"] - self.groups["servers"]
        return {
            "machine_busy_percent": round(100 * busy / total, 1),
            "bench_and_hub_percent": round(100 * ours / total, 1),
            "postgres_and_redis_percent": round(100 * servers / total, 1),
            "others_percent": round(100 * max(busy - ours - servers, 0) / total, 1),
            "loadavg_1min_before_after": [round(self.load_before[0], 2), round(os.getloadavg()[0], 2)],
        }


def wait_for_quiet(*, busy_below_percent: float = 25.0, max_seconds: float = 90.0, window: float = 2.0) -> dict:
    """Wait, at most max_seconds, for a window in which the machine is mostly idle: another test suite
    on this 2-core machine doubles the figures. Returns what it saw; measures anyway after the wait."""
    started = time.monotonic()
    busy = 100.0
    while True:
        before = _machine_ticks()
        time.sleep(window)
        after = _machine_ticks()
        busy = 100 * (after[0] - before[0]) / max(after[1] - before[1], 1)
        waited = time.monotonic() - started
        if busy < busy_below_percent or waited >= max_seconds:
            print(f"  (machine {busy:.0f}% busy after waiting {waited:.0f} s for a quiet moment)", flush=True)
            return {"busy_percent": round(busy, 1), "waited_seconds": round(waited, 1)}


def format_cpu(cpu: dict) -> str:
    return (
        f"  machine CPU during the measurement (of {os.cpu_count()} cores): {cpu['machine_busy_percent']}% busy: "
        f"{cpu['bench_and_hub_percent']}% bench + hub, {cpu['postgres_and_redis_percent']}% PostgreSQL + Redis, "
        f"{cpu['others_percent']}% other processes; 1-min load average "
        f"{cpu['loadavg_1min_before_after'][0]} -> {cpu['loadavg_1min_before_after'][1]}"
    )


# Output


def write_json(path: str | None, data: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=str))


def machine_facts() -> dict:
    def run(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    database_url, redis_url = service_urls()
    base = database_url.rpartition("/")[0]
    commit = run("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD") or "unknown"
    if run("git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"):
        commit += " + uncommitted changes"
    memory = next((line for line in run("free", "-h").splitlines() if line.startswith("Mem:")), "?")
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": run("nproc"),
        "memory": " ".join(memory.split()[1:2]) + " total" if memory != "?" else "?",
        "cpu": next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
            platform.processor() or "?",
        ),
        "python": platform.python_version(),
        "postgresql": run("psql", f"{base}/postgres", "-tAc", "SHOW server_version").split(" ")[0],
        "redis": next(
            (
                line.split(":", 1)[1]
                for line in run("redis-cli", "-u", redis_url, "info", "server").splitlines()
                if line.startswith("redis_version:")
            ),
            "?",
        ),
        "chromium": run("/usr/bin/chromium", "--version"),
        "commit": commit,
    }


def measure_on_fresh_hub(run, report, json_path: str | None, **options) -> int:
    """Start a hub, run one benchmark on it, stop the hub whatever happens, print and save the figures."""
    print("Starting a hub (PostgreSQL + Redis, daphne + Celery worker)...", flush=True)
    hub = start_hub(debug=debug_requested())
    failed = True
    try:
        result = run(hub, **options)
        failed = False
    finally:
        stop_hub(hub, failed=failed)
    print(report(result))
    write_json(json_path, result)
    return 0
