"""Servers the tests start as child processes (Azurite, moto's S3 server, a worker's own Redis): each on a
free port, ended when its test worker ends or is killed outright, and waited for until it answers."""

from __future__ import annotations

import atexit
import ctypes
import signal
import socket
import subprocess
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    # A server must not outlive a test worker killed outright (its port would linger unused).
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def start_and_wait(name: str, command: list[str], port: int, log_path: Path, **popen) -> subprocess.Popen:
    """`command` started with its output in `log_path`, once its port takes connections (within 30 s);
    stopped at exit. RuntimeError naming `name` and the log when it exits or does not answer."""
    log = open(log_path, "a")  # noqa: SIM115 (lives as long as the process)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent, **popen)
    atexit.register(stop, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start: see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"{name} did not answer on port {port} within 30 s: see {log_path}")
