"""moto's standalone server as the S3-compatible store of the S3 backend's tests (hub/object_store_s3.py):
one per test worker on a free port, in memory, ending with the worker."""

from __future__ import annotations

import atexit
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class MotoServer:
    port: int
    process: subprocess.Popen

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def store(self):
        from hub.object_store_s3 import S3Store

        return S3Store(self.endpoint_url, "testing", "testing")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start(directory: Path) -> MotoServer:
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.exists() and shutil.which("moto_server") is None:
        raise RuntimeError("moto's server is not installed: make setup installs the test extra (moto[server])")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(directory / "moto.log", "a")  # noqa: SIM115 (lives as long as the process)
    process = subprocess.Popen(
        [str(executable if executable.exists() else "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    server = MotoServer(port, process)
    atexit.register(server.stop)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited at start: see {directory / 'moto.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"moto_server did not answer on port {port} within 30 s")
