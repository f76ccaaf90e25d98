"""Worker probes (jobs/probe.py) on a live hub: start a batch, kill its worker, count what happened.

Shared by tests/test_reliability.py (a few trials) and bench/worker_kill.py (the full count)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from tests.hubs import Hub

TERMINAL = ("Succeeded", "Failed", "Cancelled")


def start_probes(hub: Hub, count: int, seconds: float) -> list[str]:
    return hub.manage("probe_jobs", "--count", str(count), "--seconds", str(seconds)).split()


def probe_report(hub: Hub, job_ids: list[str]) -> dict:
    return json.loads(hub.manage("probe_jobs", "--report", *job_ids).strip().splitlines()[-1])


def job_rows(hub: Hub, job_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Each job's state and claimer, read from the hub's database."""
    with psycopg.connect(hub.env["DATABASE_URL"], autocommit=True) as connection:
        rows = connection.execute(
            "SELECT id::text, state, claimed_by FROM jobs_job WHERE id::text = ANY(%s)", (job_ids,)
        ).fetchall()
    return {job_id: (state, claimer) for job_id, state, claimer in rows}


@dataclass
class KillTrial:
    """A batch of probes whose worker is killed (SIGKILL) `kill_after` seconds after they were started."""

    count: int = 40
    seconds: float = 0.5
    kill_after: float = 1.0
    deadline_seconds: float = 90.0
    job_ids: list[str] = field(default_factory=list)
    # Jobs a killed worker held (claimed) when it died, and how long each took to be claimed again
    # (or to end) after the kill.
    held_at_kill: set[str] = field(default_factory=set)
    resume_seconds: dict[str, float] = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    finished_seconds: float = 0.0

    @property
    def lost(self) -> int:
        return len(self.report.get("unfinished", []))

    @property
    def doubled(self) -> int:
        return sum(1 for wrong in self.report.get("effects_wrong", []) if max(wrong["effects"]) > 1)

    @property
    def failed(self) -> int:
        return sum(n for state, n in self.report.get("states", {}).items() if state != "Succeeded")

    @property
    def max_resume_seconds(self) -> float:
        return max(self.resume_seconds.values(), default=0.0)

    def run(self, hub: Hub, kill: Callable[[], None]) -> KillTrial:
        """`kill` kills the worker (and, if the topology does not, starts another)."""
        self.job_ids = start_probes(hub, self.count, self.seconds)
        time.sleep(self.kill_after)
        kill()
        killed_at = time.monotonic()
        at_kill = job_rows(hub, self.job_ids)
        self.held_at_kill = {
            job_id for job_id, (state, claimer) in at_kill.items() if state not in TERMINAL and claimer
        }
        deadline = killed_at + self.deadline_seconds
        while time.monotonic() < deadline:
            rows = job_rows(hub, self.job_ids)
            now = time.monotonic() - killed_at
            for job_id in self.held_at_kill - set(self.resume_seconds):
                state, claimer = rows[job_id]
                if state in TERMINAL or (claimer and claimer != at_kill[job_id][1]):
                    self.resume_seconds[job_id] = now
            if all(state in TERMINAL for state, _ in rows.values()):
                self.finished_seconds = now
                break
            time.sleep(0.2)
        self.report = probe_report(hub, self.job_ids)
        return self

    def summary(self) -> str:
        return (
            f"{self.count} probes, killed after {self.kill_after:.2f} s: {len(self.held_at_kill)} held by the "
            f"killed worker, resumed within {self.max_resume_seconds:.1f} s; all ended after "
            f"{self.finished_seconds:.1f} s; lost {self.lost}, doubled {self.doubled}, failed {self.failed}"
        )


def wait_until_serve_worker_settled(hub: Hub, seconds: float, timeout: float = 120) -> None:
    """Until serve's worker has run `seconds`: a worker killed sooner looks like a crash loop to serve,
    which then waits longer before starting the next (jobs/worker_process.py)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = hub.worker_children()
        if pids and all(time.time() - os.stat(f"/proc/{pid}").st_ctime >= seconds for pid in pids):
            return
        time.sleep(0.2)
    raise RuntimeError(f"serve's worker did not run {seconds} s in a row within {timeout} s")


def kill_serve_worker(hub: Hub) -> None:
    """SIGKILL the worker `serve` runs; serve starts another."""
    for pid in hub.worker_children():
        os.kill(pid, signal.SIGKILL)


def kill_and_restart_separate_worker(hub: Hub) -> None:
    """SIGKILL the separate worker and start another at once: nobody tells the hub the first one died,
    so its jobs wait for its heartbeat to go stale."""
    hub.kill_worker()
    hub.start_worker()
