"""What the replication benchmarks share: a hub with a replication rig (tests/replication_rig.py: a real
appliance, a real Mobility service whose disk is an image file), the hub's replication counters read
straight from its database, CPU per process from /proc, a relay that counts the agent's bytes, and the
reference tools (zstd, rsync) timed on the same files.

Everything runs on this machine; the hub is benchhub's (database migratehub_bench, Redis DB 8).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import benchhub
import psycopg
from discovery_scale import ProcessMonitor, child_pids, command_line

from tests.replication_rig import Rig, build_rig

MIB = 1024 * 1024
GIB = 1024 * MIB
BLOCK = 4096
POLL_SECONDS = 0.1
# A pipe this large lets one splice move a whole socket buffer's worth at once.
PIPE_BYTES = 1024 * 1024
CYCLE_LINE = re.compile(r"Cycle (\d+) disk (\S+): (final )?(full|delta), (\d+) blocks, ([0-9.]+) MiB sent, ([0-9.]+) s")


def start_replication_hub(cycle_seconds: int):
    """benchhub's hub, its replication policy cycling every cycle_seconds (the agent is told the same)."""
    return benchhub.start_hub(
        debug=benchhub.debug_requested(), extra_env={"REPLICATION_CYCLE_SECONDS": str(int(cycle_seconds))}
    )


# The hub's view, read from its database (a `manage.py replica` costs a Django start-up, about 1.5 s)


@dataclass
class DiskCounters:
    at: float  # time.time() when read
    migration_state: str
    stored_sequence: int
    applied_sequence: int
    applied_cycle: int
    transferred_bytes: int
    changed_bytes: int
    replication_started_at: float | None
    last_upload_at: float | None
    recovery_points: dict[int, float] = field(default_factory=dict)  # cycle -> recorded_at (unix seconds)
    final_points: set[int] = field(default_factory=set)


class HubDatabase:
    def __init__(self, hub):
        self.connection = psycopg.connect(hub.env["DATABASE_URL"], autocommit=True)

    def counters(self, item_id: str) -> DiskCounters:
        row = self.connection.execute(
            """SELECT i.migration_state, d.stored_sequence, d.applied_sequence, d.applied_cycle,
                      d.transferred_bytes, d.changed_bytes,
                      extract(epoch FROM i.replication_started_at), extract(epoch FROM i.last_upload_at)
               FROM replication_migrationitem i JOIN replication_protecteddisk d ON d.item_id = i.id
               WHERE i.id = %s AND d.included""",
            (item_id,),
        ).fetchone()
        if row is None:
            raise RuntimeError(f"No migration item {item_id} with an included disk in the hub's database")
        points = self.connection.execute(
            "SELECT cycle, extract(epoch FROM recorded_at), is_final FROM replication_recoverypoint WHERE item_id = %s",
            (item_id,),
        ).fetchall()
        return DiskCounters(
            at=time.time(),
            migration_state=row[0],
            stored_sequence=row[1],
            applied_sequence=row[2],
            applied_cycle=row[3],
            transferred_bytes=row[4],
            changed_bytes=row[5],
            replication_started_at=None if row[6] is None else float(row[6]),
            last_upload_at=None if row[7] is None else float(row[7]),
            recovery_points={cycle: float(recorded) for cycle, recorded, _ in points},
            final_points={cycle for cycle, _, final in points if final},
        )

    def wait(self, item_id: str, done, seconds: float, what: str) -> DiskCounters:
        deadline = time.monotonic() + seconds
        while True:
            counters = self.counters(item_id)
            if done(counters):
                return counters
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not happen within {seconds:.0f} s; last seen {counters}")
            time.sleep(POLL_SECONDS)

    def wait_for_point(self, item_id: str, cycle: int, seconds: float) -> DiskCounters:
        """Until the item has a recovery point for `cycle`."""
        return self.wait(
            item_id, lambda counters: cycle in counters.recovery_points, seconds, f"recovery point {cycle}"
        )

    def backend_pids(self) -> list[int]:
        """The PostgreSQL backends serving the bench database, other than this connection."""
        rows = self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        self.connection.close()


# CPU per process


def worker_pid(hub) -> int:
    for _ in range(100):
        found = next((pid for pid in child_pids(hub.process.pid) if "celery" in command_line(pid)), None)
        if found:
            return found
        time.sleep(0.1)
    raise RuntimeError("No Celery worker process under the hub")


def watch_processes(hub, rig: Rig, database: HubDatabase) -> ProcessMonitor:
    """The hub's web process (daphne: upload handling), its Celery worker (apply + digest), the appliance
    (process server: compress + encrypt), the Mobility service (read + hash) and the bench database's
    PostgreSQL backends, sampled every 0.5 s."""
    monitor = ProcessMonitor()
    monitor.watch("hub web (daphne)", hub.process.pid)
    monitor.watch("hub worker (celery)", worker_pid(hub))
    monitor.watch("appliance (process server)", rig.appliance.process.pid)
    monitor.watch("agent (Mobility service)", rig.agent_pid())
    watch_new_backends(monitor, database)
    monitor.start()
    return monitor


def watch_new_backends(monitor: ProcessMonitor, database: HubDatabase) -> None:
    """The hub's connection pool may open backends at any time: call this now and then."""
    for pid in database.backend_pids():
        if f"postgres backend {pid}" not in monitor.pids:
            monitor.watch(f"postgres backend {pid}", pid)


def profiled_pids(monitor: ProcessMonitor) -> dict[str, int]:
    """The hub's, the appliance's and the agent's processes of a watch_processes() monitor."""
    return {name: pid for name, pid in monitor.pids.items() if not name.startswith(("postgres", "bench"))}


def cpu_by_process(monitor: ProcessMonitor, start: float, end: float) -> dict[str, dict]:
    """CPU seconds per watched process between two monotonic times; the PostgreSQL backends summed."""
    result, postgres = {}, 0.0
    for name in list(monitor.pids):
        window = monitor.window(name, start, end)
        if name.startswith("postgres backend"):
            postgres += window["cpu_seconds"]
        else:
            result[name] = window
    seconds = max(end - start, 1e-6)
    result["postgres (bench database backends)"] = {
        "cpu_seconds": round(postgres, 2),
        "cpu_percent_of_one_core": round(100 * postgres / seconds, 1),
        "peak_rss_mb": None,
    }
    return result


def format_cpu_by_process(cpu: dict[str, dict], seconds: float) -> list[str]:
    lines = [f"  CPU seconds per process over {seconds:.1f} s (percent of one core):"]
    for name, window in sorted(cpu.items(), key=lambda pair: -pair[1]["cpu_seconds"]):
        lines.append(f"    {name:<38} {window['cpu_seconds']:6.2f} s ({window['cpu_percent_of_one_core']:.0f}%)")
    return lines


# The agent's bytes


class ByteCountingRelay:
    """A TCP relay between the Mobility service and the appliance that counts the bytes of batch uploads
    (connections whose first request is POST /ps-api/v1/batches) in each direction. It moves the data
    with splice(2) through a pipe, so it copies nothing in user space and costs little CPU."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.batch_bytes_up = self.batch_bytes_down = self.other_bytes_up = 0
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="relay", daemon=True)
        self.thread.start()

    def counted(self) -> tuple[int, int, int]:
        with self.lock:
            return self.batch_bytes_up, self.batch_bytes_down, self.other_bytes_up

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            upstream.settimeout(None)
            first = client.recv(64, socket.MSG_PEEK)
            batches = first.startswith(b"POST /ps-api/v1/batches")
            down = threading.Thread(target=self._pump, args=(upstream, client, batches, False), daemon=True)
            down.start()
            self._pump(client, upstream, batches, True)
            down.join()
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    def _pump(self, source: socket.socket, target: socket.socket, batches: bool, up: bool) -> None:
        read_end, write_end = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        try:
            while True:
                moved = os.splice(source.fileno(), write_end, PIPE_BYTES)
                if moved == 0:
                    break
                with self.lock:
                    if batches and up:
                        self.batch_bytes_up += moved
                    elif batches:
                        self.batch_bytes_down += moved
                    elif up:
                        self.other_bytes_up += moved
                while moved:
                    moved -= os.splice(read_end, target.fileno(), moved)
        except OSError:
            pass
        finally:
            os.close(read_end)
            os.close(write_end)
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.closing.set()
        self.listener.close()


def point_agent_at(rig: Rig, address: str) -> None:
    """Re-point the configured agent at another appliance address: the service re-reads its state file
    (Vx/etc/drscout.json) at every heartbeat, as after a re-registration."""
    path = rig.prefix / "Vx" / "etc" / "drscout.json"
    values = json.loads(path.read_text())
    values["appliance"] = address
    temporary = path.with_suffix(".bench-tmp")
    temporary.write_text(json.dumps(values, indent=2))
    os.replace(temporary, path)


# The rig


def rig_for_image(hub, workdir: Path, image: Path, *, cycle_seconds: float, relay: bool = False):
    """Appliance, agent (its disk `disk0` is the image, cycling every cycle_seconds) and, with relay, a
    ByteCountingRelay the agent talks through. Returns (rig, relay or None)."""
    workdir.mkdir(parents=True, exist_ok=True)
    rig = build_rig(hub, workdir, {"disk0": image}, cycle_seconds=cycle_seconds)
    counting = None
    if relay:
        counting = ByteCountingRelay(rig.appliance.port)
        point_agent_at(rig, f"http://127.0.0.1:{counting.port}")
    return rig, counting


def cycle_lines(rig: Rig) -> list[dict]:
    """The agent's "Cycle N disk D: full|delta, B blocks, M MiB sent, T s" lines."""
    text = rig.agent_log.read_text(errors="replace") if rig.agent_log and rig.agent_log.exists() else ""
    return [
        {
            "cycle": int(match.group(1)),
            "disk": match.group(2),
            "final": bool(match.group(3)),
            "kind": match.group(4),
            "blocks": int(match.group(5)),
            "mib_sent": float(match.group(6)),
            "seconds": float(match.group(7)),
        }
        for match in CYCLE_LINE.finditer(text)
    ]


def agent_log_tail(rig: Rig, lines: int = 15) -> str:
    if rig.agent_log is None or not rig.agent_log.exists():
        return "(no agent log)"
    return "\n".join(rig.agent_log.read_text(errors="replace").splitlines()[-lines:])


def stop_rig(rig: Rig | None, relay: ByteCountingRelay | None = None) -> None:
    if relay is not None:
        relay.close()
    if rig is not None:
        rig.stop()


# Reference tools


def zstd_seconds(path: Path, repeats: int = 3) -> list[float]:
    """`zstd -1 -T1 -q -c FILE > /dev/null`, timed, `repeats` times (the page cache holds the file)."""
    timings = []
    for _ in range(repeats):
        with open(os.devnull, "wb") as sink:
            started = time.perf_counter()
            subprocess.run(["zstd", "-1", "-T1", "-q", "-c", str(path)], stdout=sink, check=True, timeout=600)
            timings.append(time.perf_counter() - started)
    return timings


def zstd_compressed_bytes(path: Path) -> int:
    """The size of `zstd -1 -T1`'s output for the file, counted as it streams out."""
    total = 0
    with subprocess.Popen(["zstd", "-1", "-T1", "-q", "-c", str(path)], stdout=subprocess.PIPE) as process:
        while chunk := process.stdout.read(MIB):
            total += len(chunk)
    return total


def megabytes_per_second(byte_count: int, seconds: float) -> float:
    return byte_count / 1e6 / seconds if seconds > 0 else float("inf")


# Where the time goes: py-spy, when it is installed (it is not a project dependency)


def py_spy_path() -> str | None:
    candidate = Path(sys.executable).with_name("py-spy")
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


class Profiler:
    """py-spy sampling the named processes (100 Hz, without pausing them) until stop(); then each
    one's busiest functions: self time (the innermost frame) and inclusive time (anywhere on the stack)."""

    def __init__(self, workdir: Path, pids: dict[str, int]):
        self.tool = py_spy_path()
        self.outputs: dict[str, Path] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        if self.tool is None:
            print("  py-spy is not installed (pip install py-spy into the venv): no profile", flush=True)
            return
        workdir.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            output = workdir / f"{re.sub(r'[^a-z]+', '-', name.lower()).strip('-')}.txt"
            self.outputs[name] = output
            self.processes[name] = subprocess.Popen(
                [self.tool, "record", "--pid", str(pid), "--rate", "100", "--nonblocking", "--format", "raw"]
                + ["--output", str(output)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> dict[str, dict]:
        for process in self.processes.values():
            process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return {name: top_functions(path) for name, path in self.outputs.items() if path.exists()}


FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame_name(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    parts = Path(match.group("file")).parts
    return f"{match.group('function')} ({'/'.join(parts[-2:])})"


def top_functions(path: Path, count: int = 12) -> dict:
    """Samples per function from py-spy's raw (collapsed stacks) output, idle threads left out."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        frames = [_frame_name(frame) for frame in stack.split(";") if frame.strip()]
        if not frames:
            continue
        samples_count = int(samples)
        total += samples_count
        own[frames[-1]] = own.get(frames[-1], 0) + samples_count
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + samples_count

    def top(table: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(table.items(), key=lambda pair: -pair[1])[:count]
        return [(name, round(samples / 100, 2)) for name, samples in ranked]  # 100 samples per second

    return {"busy_seconds": round(total / 100, 2), "self": top(own), "inclusive": top(inclusive)}


def format_profile(profile: dict[str, dict], shown: int = 8) -> list[str]:
    lines = ["  py-spy, seconds of samples on a busy thread (100 Hz; idle threads not sampled):"]
    for name, data in profile.items():
        lines.append(f"   {name}: {data['busy_seconds']} s")
        lines.append("     self: " + "; ".join(f"{function} {seconds}" for function, seconds in data["self"][:shown]))
        lines.append(
            "     inclusive: " + "; ".join(f"{function} {seconds}" for function, seconds in data["inclusive"][:shown])
        )
    return lines
