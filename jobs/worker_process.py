"""The Celery worker child of `manage.py serve`, kept running: restarted with backoff when it dies.

A monitor thread waits on the child; when it exits without being asked to, its heartbeat is marked
stale (so its jobs are resumed at once, not after 15 s) and it is started again after a delay that
doubles with each quick death (1 s up to 30 s) and resets once a child has lived ten seconds.
`stop` asks the child to finish its tasks (SIGTERM, Celery's warm shutdown) and kills it if
it has not within the grace period.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import signal
import subprocess
import sys
import threading
import time

logger = logging.getLogger(__name__)

WORKER_COMMAND = [
    sys.executable,
    "-m",
    "celery",
    "-A",
    "hub",
    "worker",
    "--pool=threads",
    "--concurrency=4",
    "--loglevel=WARNING",
    "--without-gossip",
    "--without-mingle",
]
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
# A child that lived this long got going (a crash loop dies within seconds of starting): the next
# death starts the backoff again from the first.
HEALTHY_AFTER_SECONDS = 10.0
STOP_GRACE_SECONDS = 20.0


def _die_with_parent_hook():
    """On Linux, a function for Popen's preexec_fn that makes the child receive SIGTERM when `serve`
    dies, even by SIGKILL: an orphaned worker would otherwise go on taking jobs from the broker with
    whatever code it started with. prctl is looked up here, before the fork, so the child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    set_parent_death_signal = 1  # PR_SET_PDEATHSIG

    def hook() -> None:
        prctl(set_parent_death_signal, int(signal.SIGTERM), 0, 0, 0)

    return hook


class SupervisedWorker:
    def __init__(self, command: list[str] | None = None):
        self.command = command or WORKER_COMMAND
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._monitor: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._monitor = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self._monitor.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("The worker did not stop within %.0f s; killing it", STOP_GRACE_SECONDS)
            process.kill()
            process.wait()

    @staticmethod
    def _report_dead(pid: int) -> None:
        from django.db import close_old_connections

        from jobs import workers

        try:
            workers.mark_dead(pid)
        except Exception:
            logger.exception("Could not mark the dead worker's heartbeat; its jobs resume in 15 s")
        finally:
            close_old_connections()

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                # The parent-death signal is tied to the thread that forks: the monitor thread, which
                # lives as long as `serve`, spawns the restarts; the first spawn is from serve's main thread.
                self.process = subprocess.Popen(self.command, preexec_fn=_die_with_parent_hook())

    def _watch(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while not self._stopping.is_set():
            started = time.monotonic()
            process = self.process
            if process is None:
                return
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= HEALTHY_AFTER_SECONDS:
                backoff = FIRST_BACKOFF_SECONDS
            logger.error("The worker exited (code %s); starting it again in %.0f s", code, backoff)
            self._report_dead(process.pid)
            if self._stopping.wait(backoff):
                return
            backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)
            self.restarts += 1
            self._spawn()
