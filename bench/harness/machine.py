"""The machine as a whole: how busy it was while measuring, waiting for a quiet moment, and its facts.

Other people's test suites on this 2-core machine skew the figures, so every measurement says how
much of the machine went to the bench and the hub, to PostgreSQL and Redis, and to everything else.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import ROOT
from harness.hub import service_urls
from harness.processes import process_table

SERVER_COMMANDS = {"postgres", "redis-server"}
DEFAULT_QUIET_WAIT_SECONDS = 90.0


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
        table = process_table()
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


def quiet_wait_seconds() -> float:
    """How long wait_for_quiet waits at most: BENCH_QUIET_WAIT_SECONDS, for trial runs, or 90 s."""
    return float(os.environ.get("BENCH_QUIET_WAIT_SECONDS") or DEFAULT_QUIET_WAIT_SECONDS)


def wait_for_quiet(*, busy_below_percent: float = 25.0, max_seconds: float | None = None, window: float = 2.0) -> dict:
    """Wait, at most max_seconds, for a window in which the machine is mostly idle: another test suite
    on this 2-core machine doubles the figures. Returns what it saw; measures anyway after the wait."""
    if max_seconds is None:
        max_seconds = quiet_wait_seconds()
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
