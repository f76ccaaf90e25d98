"""Azurite, Microsoft's Azure Storage emulator, for the tests: its Blob service on a free port with a
data folder of its own, one per test worker (as tests/parallel.py gives each worker its own Redis).

`make test` installs it from the npm registry into .tools/ (Makefile: `azurite`); `make run` never
needs it. Azurite answers for its well-known development account, devstoreaccount1, with the key that
Microsoft publishes for it, so the connection string below is Azurite's documented one."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError

from tests import child_processes

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
        child_processes.stop(self.process)


def start(directory: Path | None = None) -> Azurite:
    """Azurite's Blob service on a free port, answering within 30 s; RuntimeError saying what is missing."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    directory = Path(directory or tempfile.mkdtemp(prefix="migratehub-azurite-"))
    directory.mkdir(parents=True, exist_ok=True)
    port = child_processes.free_port()
    process = child_processes.start_and_wait(
        "Azurite",
        # --skipApiVersionCheck: the SDK may be newer than this Azurite; --loose: ignore headers it lacks.
        [str(AZURITE_BLOB), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(directory)]
        + ["--skipApiVersionCheck", "--loose", "--silent"],
        port,
        directory / "azurite.log",
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    return Azurite(port, directory, process)


def assert_other_container_refused(service, other_container: str, existing_blob: str) -> None:
    """A key or SAS listed for one emulated account opens nothing of another's container, nor the list
    of containers (every emulated account is a container of the one Azurite account): Azurite answers
    403 to each of list, read, write and list-containers."""
    other = service.get_container_client(other_container)
    for attempt in (
        lambda: list(other.list_blobs()),
        lambda: other.download_blob(existing_blob).readall(),
        lambda: other.upload_blob("planted.txt", b"x"),
        lambda: list(service.list_containers()),
    ):
        with pytest.raises(HttpResponseError) as refused:
            attempt()
        assert refused.value.status_code == 403
