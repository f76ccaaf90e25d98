"""serve's worker supervision, on a real child process standing in for the Celery worker."""

import os
import signal
import sys
import time

import pytest

from jobs import worker_process
from jobs.worker_process import SupervisedWorker

# The monitor thread marks a dead child's heartbeat stale: it talks to the database.
pytestmark = pytest.mark.django_db(transaction=True)
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def wait_for(condition, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_worker_is_started_again_and_stop_ends_it(monkeypatch):
    monkeypatch.setattr(worker_process, "FIRST_BACKOFF_SECONDS", 0.2)
    worker = SupervisedWorker(SLEEPER)
    worker.start()
    try:
        first = worker.process
        os.kill(first.pid, signal.SIGKILL)
        wait_for(lambda: worker.process is not first and worker.process.poll() is None)
        assert worker.restarts == 1
    finally:
        worker.stop()
    assert worker.process.poll() is not None, "stop ends the worker"
    time.sleep(0.5)
    assert worker.restarts == 1, "a stopped worker is not started again"


def test_quick_deaths_back_off_longer_each_time(monkeypatch):
    monkeypatch.setattr(worker_process, "FIRST_BACKOFF_SECONDS", 0.2)
    worker = SupervisedWorker([sys.executable, "-c", "raise SystemExit(3)"])
    started = time.monotonic()
    worker.start()
    try:
        wait_for(lambda: worker.restarts >= 3)
    finally:
        worker.stop()
    # 0.2 + 0.4 + 0.8 s of backoff before the third restart.
    assert time.monotonic() - started >= 1.4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_the_worker_ends_when_serve_is_killed_outright():
    """An orphaned worker would go on taking jobs with stale code: it gets SIGTERM when serve dies."""
    import subprocess
    from pathlib import Path

    stand_in = (
        "import sys, time\n"
        "from jobs.worker_process import SupervisedWorker\n"
        f"worker = SupervisedWorker({SLEEPER!r})\n"
        "worker._spawn()\n"
        "print(worker.process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    serve = subprocess.Popen(
        [sys.executable, "-c", stand_in], cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(serve.stdout.readline())
        os.kill(serve.pid, signal.SIGKILL)
        serve.wait()

        def gone() -> bool:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return True
            # A zombie waiting for init to reap it has ended too.
            with open(f"/proc/{child}/stat") as stat:
                return stat.read().split(") ", 1)[1].startswith("Z")

        wait_for(gone)
    finally:
        serve.kill()
