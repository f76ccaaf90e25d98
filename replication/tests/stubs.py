"""Stand-ins for the programs on either side of the two on-premises ones, for the tests of the mobility
agent and of the appliance. Each is an http.server thread on a free local port:

- StubProcessServer, the stub appliance: the process server's batch endpoint as the agent sees it,
  storing batches as the hub would (test_agent_replication, test_agent_shutdown);
- StubHub, the stub hub: the hub's appliance API as the appliance's process server uses it, unwrapping
  data keys with its own key-encryption key, decrypting (refusing a batch whose tag does not verify)
  and storing like the hub (test_process_server).

Both are JsonPostServers, as is the proxy tests/test_replication_e2e.py puts between a real appliance
and a live hub. With the stub appliance come `make_replicator` (an agent's replicator sending to it),
`entry_for` (the hub's replication entry the agent follows) and `write_image` (a disk image to replicate).
replication/tests/conftest.py offers both stubs as the fixtures `stub` and `hub`.

Importing this module puts the agent on sys.path: it is a standalone program that imports itself as
the top-level package "agent", as its installer ships it.
"""

from __future__ import annotations

import base64
import json
import os
import random
import ssl
import sys
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AGENT_DIR = Path(__file__).resolve().parents[1] / "agent"
if str(AGENT_DIR) not in sys.path:
    sys.path.insert(0, str(AGENT_DIR))

from agent import blocks  # noqa: E402 (found on the path just set)
from agent.blocks import BLOCK_SIZE  # noqa: E402
from agent.replicator import Replicator  # noqa: E402

MiB = 1024 * 1024

# What the stub appliance accepts from an agent, and the stub hub from an appliance.
AGENT_ID, AGENT_SECRET = "agent-1", "s3cret"
APPLIANCE_ID, APPLIANCE_CREDENTIAL = "appliance-1", "appliance-credential"


class JsonPostServer:
    """An http.server thread on a free local port: each POST's path, headers and body go to `answer`,
    whose (status, body) goes back as JSON. With `tls` (a server-side SSLContext) it speaks https."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle's algorithm the second waits for the
            # client's delayed ACK, 40 ms per answer.
            disable_nagle_algorithm = True

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, answer = stub.answer(self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, headers: Message, body: bytes) -> tuple[int, dict]:
        raise NotImplementedError

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class StubProcessServer(JsonPostServer):
    """The stub appliance. Stores batches by (disk, sequence) like the hub: a sequence seen before is a
    duplicate, kept as first stored. `replica(disk)` applies the stored batches in order, as the hub
    builds its replica. A test steers it with `refuse_with`, `after_store` and `down_after_sequence`,
    or by replacing `handle`."""

    def __init__(self):
        self.batches: dict[tuple[str, int], tuple[dict, bytes]] = {}
        self.received: list[dict] = []
        self.wire_bytes = 0
        self.lock = threading.Lock()
        self.refuse_with: tuple[int, str] | None = None
        self.after_store = None
        self.down_after_sequence: int | None = None
        super().__init__()

    def answer(self, path: str, headers: Message, body: bytes) -> tuple[int, dict]:
        return self.handle(path, body)

    def handle(self, path: str, body: bytes) -> tuple[int, dict]:
        assert path == "/ps-api/v1/batches"
        if self.refuse_with:
            status, code = self.refuse_with
            return status, {"error": {"code": code, "message": "refused by the test"}}
        header, records = blocks.decode_batch(body)
        assert header["agentId"] == AGENT_ID and header["secret"] == AGENT_SECRET
        assert header["blockSize"] == BLOCK_SIZE
        data_bytes = sum(len(data) for _, data in blocks.iter_records(records) if data is not None)
        assert data_bytes <= blocks.MAX_BATCH_DATA
        key = (header["diskId"], header["sequence"])
        with self.lock:
            self.wire_bytes += len(body)
            self.received.append(header)
            duplicate = key in self.batches
            if not duplicate:
                self.batches[key] = (header, bytes(records))
        if self.after_store:
            self.after_store(header)
        if header["sequence"] == self.down_after_sequence:
            self.refuse_with = (503, "HubUnreachable")  # stored, but the answer never reaches the agent
            return 503, {"error": {"code": "HubUnreachable", "message": "down"}}
        return 200, {"stored": True, "sequence": header["sequence"], "duplicate": duplicate}

    def sequences(self, disk_id: str) -> list[int]:
        return sorted(sequence for disk, sequence in self.batches if disk == disk_id)

    def replica(self, disk_id: str) -> tuple[bytearray, dict]:
        """The disk as the stored batches build it, and the last marker."""
        first_of_full_cycle = {}
        for sequence in self.sequences(disk_id):
            header = self.batches[(disk_id, sequence)][0]
            if header["full"]:
                first_of_full_cycle.setdefault(header["cycle"], sequence)
        image, marker = bytearray(), None
        for sequence in self.sequences(disk_id):
            header, records = self.batches[(disk_id, sequence)]
            if first_of_full_cycle.get(header["cycle"]) == sequence:
                image = bytearray()  # a full cycle starts from an empty disk
            for index, data in blocks.iter_records(records):
                start = index * BLOCK_SIZE
                block = bytes(data) if data is not None else bytes(BLOCK_SIZE)
                if len(image) < start + len(block):
                    image.extend(bytes(start + len(block) - len(image)))
                image[start : start + len(block)] = block
            if header["marker"]:
                marker = header["marker"]
                size = marker["sizeBytes"]
                image = image[:size] + bytes(max(0, size - len(image)))
        return image, marker


class StubHub(JsonPostServer):
    """The stub hub: its appliance API, as far as the process server uses it. `replication` is what its
    heartbeat answers; `refuse_uploads_with` makes it refuse batches."""

    def __init__(self):
        self.kek = AESGCM(os.urandom(32))
        self.wraps = 0
        self.uploads: list[dict] = []
        self.stored: dict[tuple[str, str, int], tuple[dict, bytes]] = {}
        self.replication: list[dict] = []
        self.refuse_uploads_with: tuple[int, str] | None = None
        self.lock = threading.Lock()
        super().__init__()

    def answer(self, path: str, headers: Message, body: bytes) -> tuple[int, dict]:
        assert headers["Authorization"] == f"Appliance {APPLIANCE_CREDENTIAL}"
        return self.handle(path, headers["Content-Type"], body)

    def handle(self, path: str, content_type: str, body: bytes) -> tuple[int, dict]:
        prefix = f"/appliance-api/v1/appliances/{APPLIANCE_ID}/"
        assert path.startswith(prefix)
        route = path[len(prefix) :]
        if route == "machines":
            return 200, {"serverId": "server-" + json.loads(body)["machineId"]}
        if route == "heartbeat":
            return 200, {"state": "Finalized", "replication": self.replication}
        if route == "keyvault/wrapkey":
            key = base64.b64decode(json.loads(body)["value"])
            assert len(key) == 32
            nonce = os.urandom(12)
            with self.lock:
                self.wraps += 1
            return 200, {
                "keyId": "kek-1",
                "wrappedKey": base64.b64encode(nonce + self.kek.encrypt(nonce, key, None)).decode(),
            }
        if route == "replication/batches":
            assert content_type == "application/octet-stream"
            return self.store(body)
        return 404, {"error": {"code": "NotFound", "message": path}}

    def unwrap(self, wrapped: str) -> bytes:
        raw = base64.b64decode(wrapped)
        return self.kek.decrypt(raw[:12], raw[12:], None)

    def store(self, body: bytes) -> tuple[int, dict]:
        if self.refuse_uploads_with:
            status, code = self.refuse_uploads_with
            return status, {"error": {"code": code, "message": f"refused ({code})"}}
        assert body[:4] == b"MHE1"
        length = int.from_bytes(body[4:8], "little")
        header = json.loads(body[8 : 8 + length])
        assert header["compression"] == "zstd" and header["encryption"] == "AES-256-GCM"
        aad = f"{header['itemId']}/{header['diskId']}/{header['sequence']}".encode()
        try:
            compressed = AESGCM(self.unwrap(header["wrappedKey"])).decrypt(
                base64.b64decode(header["nonce"]), body[8 + length :], aad
            )
        except InvalidTag:  # as the hub: refused before it is stored
            return 400, {"error": {"code": "BatchIntegrityCheckFailed", "message": "the tag does not verify"}}
        records = zstandard.ZstdDecompressor().decompress(compressed, max_output_size=64 * MiB)
        key = (header["itemId"], header["diskId"], header["sequence"])
        with self.lock:
            self.uploads.append({**header, "wireBytes": len(body), "recordBytes": len(records)})
            if key in self.stored:
                return 200, {"stored": True, "sequence": header["sequence"], "duplicate": True}
            self.stored[key] = (header, records)
        return 201, {"stored": True, "sequence": header["sequence"], "duplicate": False}

    def replica(self, item_id: str, disk_id: str, size: int) -> bytearray:
        image = bytearray(size)
        for (item, disk, _), (_, records) in sorted(self.stored.items()):
            if (item, disk) == (item_id, disk_id):
                for index, data in blocks.iter_records(records):
                    start = index * BLOCK_SIZE
                    block = bytes(data) if data is not None else bytes(min(BLOCK_SIZE, size - start))
                    image[start : start + len(block)] = block
        return image


def make_replicator(stub: StubProcessServer, state_dir, specs, **options) -> Replicator:
    """An agent's replicator for machine-1, registered with the stub appliance, sending it `specs`' disks."""
    credentials = {"appliance": stub.url, "agentId": AGENT_ID, "secret": AGENT_SECRET}
    return Replicator(str(state_dir), "machine-1", specs, lambda: credentials, log=lambda line: None, **options)


def entry_for(specs, item="item-1", cycle_seconds=300, generations=None) -> dict:
    """The hub's replication entry for machine-1's `specs` disks, before its first cycle."""
    return {
        "machineId": "machine-1",
        "itemId": item,
        "state": "InitialSeedingInProgress",
        "cycleSeconds": cycle_seconds,
        "nextCycle": 1,
        "disks": [
            {
                "diskId": spec["diskId"],
                "sizeBytes": spec.get("sizeBytes", 0),
                "nextSequence": 1,
                "resyncGeneration": (generations or {}).get(spec["diskId"], 0),
            }
            for spec in specs
        ],
    }


def write_image(path: Path, size: int, seed: int = 1) -> bytearray:
    """Text, random data and zero runs, as a used disk holds."""
    chooser = random.Random(seed)
    image = bytearray(size)
    position = 0
    while position < size:
        run = chooser.randint(1, 64) * BLOCK_SIZE
        kind = chooser.random()
        if kind < 0.4:
            text = b"".join(b"line %d of the log: all is well\n" % chooser.randint(0, 10**6) for _ in range(run // 30))
            image[position : position + run] = text[:run].ljust(run, b".")[: size - position]
        elif kind < 0.65:
            image[position : position + run] = chooser.randbytes(run)[: size - position]
        position += run
    del image[size:]
    path.write_bytes(image)
    return image
