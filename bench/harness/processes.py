"""Single processes, from /proc: CPU and memory over time, their children, their output, stopping them."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MONITOR_INTERVAL_SECONDS = 0.5


def process_table() -> dict[int, tuple[str, int, int]]:
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


def child_pids(parent: int) -> list[int]:
    return [pid for pid, (_, parent_pid, _) in process_table().items() if parent_pid == parent]


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def hub_worker_pid(hub) -> int:
    """The hub's Celery worker, a child of its `manage.py serve` (it may take a moment to appear)."""
    for _ in range(100):
        found = next((pid for pid in child_pids(hub.process.pid) if "celery" in command_line(pid)), None)
        if found:
            return found
        time.sleep(0.1)
    raise RuntimeError("No Celery worker process under the hub")


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


class ProcessMonitor(threading.Thread):
    """CPU ticks and memory of named processes, sampled every 0.5 s; window() gives a span's CPU and peak."""

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


class LineReader(threading.Thread):
    """Keeps a process's output, each line with the time it arrived."""

    def __init__(self, process: subprocess.Popen):
        super().__init__(name="process-output", daemon=True)
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
