"""moto's standalone server as the S3-compatible store of the S3 backend's tests (hub/object_store_s3.py):
one per test worker on a free port, in memory, ending with the worker."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests import child_processes


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
        child_processes.stop(self.process)


def start(directory: Path) -> MotoServer:
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.exists() and shutil.which("moto_server") is None:
        raise RuntimeError("moto's server is not installed: make setup installs the test extra (moto[server])")
    port = child_processes.free_port()
    process = child_processes.start_and_wait(
        "moto_server",
        [str(executable if executable.exists() else "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        port,
        directory / "moto.log",
    )
    return MotoServer(port, process)
