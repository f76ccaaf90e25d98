"""The appliance's process server: batches from an agent are authenticated, compressed, encrypted
under a data key the hub wrapped, and uploaded; the agent hears back only what the hub said. Runs the
real appliance HTTP server in-process against the stub hub of replication/tests/stubs.py, which
unwraps data keys with its own key-encryption key, decrypts, decompresses and stores like the hub."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import random
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

# The agent and the appliance are on sys.path from replication/tests/conftest.py, which pytest imports first.
from agent import blocks
from agent.replicator import Replicator
from appliance import process_server, server, state
from appliance.agents import AgentError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from replication.tests.stubs import APPLIANCE_CREDENTIAL, APPLIANCE_ID, MiB, StubHub


class RunningAppliance:
    def __init__(self, home: Path, hub: StubHub):
        home.mkdir(exist_ok=True)
        if not (home / state.REGISTRATION_FILE).exists():
            state.save_registration(
                str(home),
                {
                    "hub": hub.url,
                    "applianceId": APPLIANCE_ID,
                    "credential": APPLIANCE_CREDENTIAL,
                    "name": "cs-1",
                    "listen": "127.0.0.1:0",
                    "project": "p",
                },
            )
            state.new_passphrase(str(home))
        self.home = home
        self.appliance = server.Appliance(str(home), state.load_registration(str(home)), heartbeat_seconds=3600)
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), server.handler_for(self.appliance))
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.appliance.process_server.start()
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def post(self, path: str, body) -> tuple[int, dict]:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        request = urllib.request.Request(self.url + path, data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def register(self, machine_id: str) -> dict:
        passphrase = state.current_passphrase(str(self.home))
        status, answer = self.post(
            "/agent-api/v1/register",
            {"machineId": machine_id, "passphrase": passphrase, "agentVersion": "9.60.0", "machine": {"disks": []}},
        )
        assert status == 200, answer
        return answer

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def appliance(tmp_path, hub):
    running = RunningAppliance(tmp_path / "home", hub)
    yield running
    running.close()


def entry(machine_id="machine-1", item="item-1", disks=("disk0",)) -> dict:
    return {
        "machineId": machine_id,
        "itemId": item,
        "state": "InitialSeedingInProgress",
        "cycleSeconds": 60,
        "nextCycle": 1,
        "disks": [{"diskId": disk, "sizeBytes": 0, "nextSequence": 1, "resyncGeneration": 0} for disk in disks],
    }


def batch(agent: dict, sequence=1, item="item-1", disk="disk0", records=b"", marker=None, **overrides) -> bytes:
    header = {
        "agentId": agent["agentId"],
        "secret": agent["secret"],
        "itemId": item,
        "diskId": disk,
        "sequence": sequence,
        "cycle": 1,
        "full": True,
        "scannedBytes": 0,
        "blockSize": 4096,
        "marker": marker,
        **overrides,
    }
    return blocks.encode_batch_prefix(header) + records


def disk_replicator(tmp_path, appliance, agent: dict, log=lambda line: None) -> Replicator:
    """The agent of machine-1, replicating its disk0 (tmp_path/disk.img) through the running appliance."""
    credentials = {"appliance": appliance.url, **agent}
    disks = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    return Replicator(str(tmp_path / "agent-state"), "machine-1", disks, lambda: credentials, log=log)


def test_the_heartbeat_carries_the_machines_entry_and_survives_a_restart(tmp_path, hub, appliance):
    agent = appliance.register("machine-1")
    other = appliance.register("machine-2")
    hub.replication = [entry()]
    appliance.appliance.heartbeat_once()
    offered = {**entry(), "batchDataBytes": process_server.MAX_BATCH_DATA}  # how large a batch may be here
    assert appliance.post("/agent-api/v1/heartbeat", agent) == (
        200,
        {"status": "Connected", "replication": offered, "faults": []},
    )
    assert appliance.post("/agent-api/v1/heartbeat", other)[1]["replication"] is None
    appliance.close()

    restarted = RunningAppliance(tmp_path / "home", hub)
    try:
        hub.replication = []  # not heard yet: the restarted appliance serves what it kept
        assert restarted.post("/agent-api/v1/heartbeat", agent)[1]["replication"] == offered
        restarted.appliance.heartbeat_once()
        assert restarted.post("/agent-api/v1/heartbeat", agent)[1]["replication"] is None
    finally:
        restarted.close()


def test_an_agent_replicates_through_the_process_server_to_the_hub(tmp_path, hub, appliance):
    """The whole on-premises path: agent cycles, process server, encrypted uploads the hub can read."""
    agent = appliance.register("machine-1")
    hub.replication = [entry()]
    appliance.appliance.heartbeat_once()
    size = 12 * MiB + 512
    chooser = random.Random(4)
    image = bytearray(size)
    for start in range(0, size - 8192, 8192):
        image[start : start + 4096] = ((b"log line %d: service healthy\n" % chooser.randint(0, 99)) * 200)[:4096]
    image[-5000:] = os.urandom(5000)
    (tmp_path / "disk.img").write_bytes(image)
    replicator = disk_replicator(tmp_path, appliance, agent)
    replicator.update(appliance.post("/agent-api/v1/heartbeat", agent)[1]["replication"])
    replicator.run_cycle()

    assert hub.replica("item-1", "disk0", size) == image
    assert max(upload["dataBytes"] for upload in hub.uploads) > blocks.LEGACY_BATCH_DATA, "the offered batch size"
    uploads = sorted(hub.uploads, key=lambda upload: upload["sequence"])
    assert [upload["sequence"] for upload in uploads] == list(range(1, len(uploads) + 1))
    marker = uploads[-1]["marker"]
    assert marker["cycle"] == 1 and marker["digest"] == blocks.content_digest_of(bytes(image))
    assert sum(upload["dataBytes"] for upload in uploads) == sum(
        min(4096, size - index * 4096)
        for index in range(-(-size // 4096))
        if any(image[index * 4096 : index * 4096 + 4096])
    )
    assert sum(upload["wireBytes"] for upload in uploads) < size / 4, "text compresses before it is encrypted"
    assert {upload["keyId"] for upload in uploads} == {"kek-1"} and hub.wraps == 1, "one data key since start-up"
    for upload in uploads:
        assert len(base64.b64decode(upload["nonce"])) == 12
    assert "processServer" in appliance.appliance.components()
    assert appliance.appliance.components()["processServer"].startswith("Running (")

    # A delta cycle after a change: the hub acknowledges, the agent's next cycle is small.
    with open(tmp_path / "disk.img", "r+b") as handle:
        handle.seek(4096 * 7)
        handle.write(b"changed!" * 512)
    image[4096 * 7 : 4096 * 8] = b"changed!" * 512
    replicator.run_cycle()
    assert hub.replica("item-1", "disk0", size) == image
    assert hub.uploads[-1]["blockCount"] == 1 and hub.uploads[-1]["marker"]["cycle"] == 2


def test_batches_are_authenticated_and_checked(hub, appliance):
    agent = appliance.register("machine-1")
    other = appliance.register("machine-2")
    hub.replication = [entry(), entry("machine-2", item="item-2")]
    appliance.appliance.heartbeat_once()
    path = process_server.BATCHES_PATH

    wrong = {**agent, "secret": "nope"}
    assert appliance.post(path, batch(wrong))[1]["error"]["code"] == "AgentNotRegistered"
    status, answer = appliance.post(path, batch(other, item="item-1"))
    assert (status, answer["error"]["code"]) == (404, "MigrationItemNotFound"), "an agent sends only its own server"
    assert appliance.post(path, batch(agent, disk="disk9"))[1]["error"]["code"] == "DiskNotProtected"
    assert appliance.post(path, b"MHB0" + bytes(10))[0] == 400
    assert appliance.post(path, batch(agent, records=blocks.RECORD.pack(0, 5000) + bytes(5000)))[0] == 400
    assert appliance.post(path, batch(agent, records=blocks.RECORD.pack(0, 10) + bytes(3)))[0] == 400
    assert appliance.post(path, batch(agent, blockSize=512))[0] == 400
    blocks_allowed = process_server.MAX_BATCH_DATA // 4096
    too_many = b"".join(blocks.RECORD.pack(index, 4096) + bytes(4096) for index in range(blocks_allowed + 1))
    assert appliance.post(path, batch(agent, records=too_many))[0] == 400
    connection = http.client.HTTPConnection("127.0.0.1", appliance.http.server_address[1], timeout=10)
    connection.putrequest("POST", path)
    connection.putheader("Content-Length", str(process_server.MAX_BATCH_BODY + 1))
    connection.endheaders()  # refused on its Content-Length, before the body is sent
    assert connection.getresponse().status == 413
    connection.close()
    assert hub.uploads == []

    records = blocks.RECORD.pack(3, 4) + b"abcd" + blocks.RECORD.pack(4, 0)
    assert appliance.post(path, batch(agent, records=records)) == (
        200,
        {"stored": True, "sequence": 1, "duplicate": False},
    )
    assert appliance.post(path, batch(agent, records=records))[1]["duplicate"] is True, "the hub's duplicate"
    assert hub.uploads[0]["blockCount"] == 2 and hub.uploads[0]["dataBytes"] == 4

    state.new_passphrase(str(appliance.home))
    assert appliance.post(path, batch(agent, sequence=2))[1]["error"]["code"] == "PassphraseChanged"


def test_the_hubs_refusals_reach_the_agent(hub, appliance):
    agent = appliance.register("machine-1")
    hub.replication = [entry()]
    appliance.appliance.heartbeat_once()
    path = process_server.BATCHES_PATH
    for refusal, expected in (
        ((404, "MigrationItemNotFound"), (404, "MigrationItemNotFound")),
        ((409, "ReplicationNotActive"), (409, "ReplicationNotActive")),
        ((400, "InvalidBatch"), (400, "InvalidBatch")),
        ((400, "BatchIntegrityCheckFailed"), (400, "BatchIntegrityCheckFailed")),
        ((500, "InternalError"), (502, "InternalError")),
        ((401, "ApplianceNotRegistered"), (502, "ApplianceNotRegistered")),
    ):
        hub.refuse_uploads_with = refusal
        status, answer = appliance.post(path, batch(agent))
        assert (status, answer["error"]["code"]) == expected
    hub.close()
    status, answer = appliance.post(path, batch(agent))
    assert (status, answer["error"]["code"]) == (503, "HubUnreachable")


def test_a_batch_the_hub_could_not_open_is_sealed_with_a_new_data_key_when_resent(hub, appliance):
    agent = appliance.register("machine-1")
    hub.replication = [entry()]
    appliance.appliance.heartbeat_once()
    path = process_server.BATCHES_PATH
    assert appliance.post(path, batch(agent, sequence=1))[0] == 200
    hub.refuse_uploads_with = (400, "BatchIntegrityCheckFailed")
    status, answer = appliance.post(path, batch(agent, sequence=2))
    assert (status, answer["error"]["code"]) == (400, "BatchIntegrityCheckFailed"), "the agent retries it"
    hub.refuse_uploads_with = None
    assert appliance.post(path, batch(agent, sequence=2))[0] == 200
    first, second = (upload["wrappedKey"] for upload in hub.uploads)
    assert first != second and hub.wraps == 2


def test_data_keys_rotate_and_never_reach_the_log(hub, caplog):
    client = server.HubClient(hub.url, credential=APPLIANCE_CREDENTIAL)
    keys = process_server.DataKeys(client, APPLIANCE_ID, rotate_after_bytes=1000)
    first = keys.take(600)
    assert keys.take(500) is first and hub.wraps == 1
    second = keys.take(100)
    assert second is not first and keys.take(100) is second and hub.wraps == 2, "a new key once 1000 bytes were done"
    assert second.wrapped_key != first.wrapped_key and "kek-1" in repr(second)
    with caplog.at_level(logging.DEBUG):
        nonce = os.urandom(12)
        ciphertext = second.cipher.encrypt(nonce, b"data", b"aad")
        raw = hub.unwrap(second.wrapped_key)
        assert AESGCM(raw).decrypt(nonce, ciphertext, b"aad") == b"data"
    assert base64.b64encode(raw).decode() not in caplog.text


def test_without_its_libraries_the_process_server_says_so(appliance, monkeypatch):
    agent = appliance.register("machine-1")
    monkeypatch.setattr(process_server, "zstandard", None)
    assert appliance.appliance.components()["processServer"].startswith("Stopped")
    with pytest.raises(AgentError) as refused:
        appliance.appliance.process_server.receive(batch(agent))
    assert refused.value.status == 503
