"""Azurite, Microsoft's Azure Storage emulator, for the tests: its Blob service on a free port with a
data folder of its own, one per test worker (as tests/parallel.py gives each worker its own Redis).

`make test` installs it from the npm registry into .tools/ (Makefile: `azurite`); `make run` never
needs it. Azurite answers for its well-known development account, devstoreaccount1, with the key that
Microsoft publishes for it, so the connection string below is Azurite's documented one."""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AZURITE_BLOB = ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's published development key (not a secret: every Azurite answers to it).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def missing_reason() -> str | None:
    """What is missing to run Azurite here, in words a developer can act on; None when nothing is."""
    if shutil.which("node") is None:
        return "Azurite needs Node.js (Debian: apt-get install nodejs npm), then `make azurite`"
    if not AZURITE_BLOB.exists():
        return f"Azurite is not installed at {AZURITE_BLOB.relative_to(ROOT)}: run `make azurite` (make test does)"
    return None


@dataclass
class Azurite:
    port: int
    directory: Path
    process: subprocess.Popen

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _die_with_parent() -> None:
    # Azurite must not outlive a test worker killed outright.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(directory: Path | None = None) -> Azurite:
    """Azurite's Blob service on a free port, answering within 30 s; RuntimeError saying what is missing."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    directory = Path(directory or tempfile.mkdtemp(prefix="migratehub-azurite-"))
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = open(directory / "azurite.log", "a")  # noqa: SIM115 (lives as long as the process)
    process = subprocess.Popen(
        # --skipApiVersionCheck: the SDK may be newer than this Azurite; --loose: ignore headers it lacks.
        [str(AZURITE_BLOB), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(directory)]
        + ["--skipApiVersionCheck", "--loose", "--silent"],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    azurite = Azurite(port, directory, process)
    atexit.register(azurite.stop)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited at start: see {directory / 'azurite.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return azurite
        except OSError:
            time.sleep(0.1)
    azurite.stop()
    raise RuntimeError(f"Azurite did not answer on port {port} within 30 s: see {directory / 'azurite.log'}")
