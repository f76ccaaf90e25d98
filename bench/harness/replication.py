"""What the replication benchmarks share: a replicating server (tests/replication_rig.py: a real appliance,
a real Mobility service whose disk is an image file), the hub's replication counters read straight from
its database, the agent's cycle lines and CPU per process of the replication path.

Everything runs on this machine, on the hub of harness/hub.py.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import psycopg

from harness.options import Bounded
from harness.processes import ProcessMonitor, hub_worker_pid
from harness.relay import ByteCountingRelay, point_agent_at
from tests.replication_rig import Rig, build_rig

MIB = 1024 * 1024
GIB = 1024 * MIB
POLL_SECONDS = 0.1
CYCLE_LINE = re.compile(r"Cycle (\d+) disk (\S+): (final )?(full|delta), (\d+) blocks, ([0-9.]+) MiB sent, ([0-9.]+) s")


def cycle_env(cycle_seconds: int) -> dict[str, str]:
    """The hub's environment for a replication policy cycling every cycle_seconds (the agent is told the same)."""
    return {"REPLICATION_CYCLE_SECONDS": str(int(cycle_seconds))}


def cycling_hub_options(cycle_seconds: int, workdir_prefix: str) -> dict:
    """bench_main's hub options for a benchmark whose server replicates every cycle_seconds."""
    return {
        "announcement": f"Starting a hub (PostgreSQL + Redis, REPLICATION_CYCLE_SECONDS={cycle_seconds})...",
        "extra_env": cycle_env(cycle_seconds),
        "workdir_prefix": workdir_prefix,
    }


def change_round_options(
    size_mib: int, max_size_mib: int, rounds: int, max_rounds: int, *, changed: str, what: str
) -> list:
    """The options of a benchmark that changes an image's blocks round after round: the image's size, the
    percentage `changed` per round and the number of rounds of `what`."""
    return [
        Bounded("--size-mib", size_mib, 64, max_size_mib, f"image size (64 to {max_size_mib} MiB)", "size", MIB),
        Bounded("--changed-percent", 1.0, 0.01, 20.0, f"{changed} per round (0.01 to 20)"),
        Bounded("--rounds", rounds, 1, max_rounds, f"rounds of {what} (1 to {max_rounds})"),
    ]


def measured_runs(runs: int, one_run: Callable[[int], dict], describe: Callable[[dict], str]) -> list[dict]:
    """one_run(index) for each of `runs` runs (each on a new server), announced and described as it ends."""
    measured = []
    for index in range(runs):
        print(f"Run {index + 1} of {runs}:", flush=True)
        result = one_run(index)
        print(f"  {describe(result)}", flush=True)
        measured.append(result)
    return measured


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


# The replicating server


class ReplicatingServer(NamedTuple):
    rig: Rig
    relay: ByteCountingRelay | None  # None without relay=True
    database: HubDatabase


@contextmanager
def replicating_server(
    hub, workdir: Path, image: Path, *, cycle_seconds: float, relay: bool = False
) -> Iterator[ReplicatingServer]:
    """Appliance, agent (its disk `disk0` is the image, cycling every cycle_seconds), with relay a
    ByteCountingRelay the agent talks through, and a connection to the hub's database. All stopped on
    leaving; the agent's last log lines shown first if something failed."""
    workdir.mkdir(parents=True, exist_ok=True)
    rig = build_rig(hub, workdir, {"disk0": image}, cycle_seconds=cycle_seconds)
    counting = database = None
    try:
        if relay:
            counting = ByteCountingRelay(rig.appliance.port)
            point_agent_at(rig, f"http://127.0.0.1:{counting.port}")
        database = HubDatabase(hub)
        yield ReplicatingServer(rig, counting, database)
    except BaseException:
        print(f"--- the agent's log, last lines:\n{agent_log_tail(rig)}", file=sys.stderr)
        raise
    finally:
        if database is not None:
            database.close()
        if counting is not None:
            counting.close()
        rig.stop()


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


# CPU per process


def watch_processes(hub, rig: Rig, database: HubDatabase) -> ProcessMonitor:
    """The hub's web process (uvicorn: upload handling), its Celery worker (apply + digest), the appliance
    (process server: compress + encrypt), the Mobility service (read + hash) and the bench database's
    PostgreSQL backends, sampled every 0.5 s."""
    monitor = ProcessMonitor()
    monitor.watch("hub web (uvicorn)", hub.process.pid)
    monitor.watch("hub worker (celery)", hub_worker_pid(hub))
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
