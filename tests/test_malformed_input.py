"""A corpus of malformed input for the endpoints machines call: the hub's appliance API (with a real
appliance's credential, so requests reach the handlers) and the appliance's agent endpoints (the
configuration server and the process server). Huge numbers, wrong types, deep nesting, truncated or
invalid JSON, oversize bodies, bad base64, broken batches: not one answer of 500 or more, not one
dropped connection, and every refusal the {"error": {"code", "message"}} envelope."""

from __future__ import annotations

import http.client
import json
import struct

import pytest
import requests

from replication.tests.test_input_bounds import HEADER, upload
from tests.appliances import start_appliance

pytestmark = pytest.mark.live

DEEP_ARRAY = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
HUGE = 2**63
GOOD_MACHINE = {
    "hostName": "corpus-1",
    "osType": "Linux",
    "osName": "Ubuntu 22.04",
    "cores": 2,
    "memoryMB": 4096,
    "disks": [{"diskId": "d0", "sizeBytes": 10 * 1024**3, "isOsDisk": True}],
}


def machine(**changes) -> dict:
    return {"machineId": "corpus-machine", "machine": {**GOOD_MACHINE, **changes}}


def disk(**changes) -> dict:
    return machine(disks=[{**GOOD_MACHINE["disks"][0], **changes}])


# Bodies every JSON endpoint must refuse cleanly.
JSON_GARBAGE = [
    b"",
    b"{",
    b'{"key": "abc',
    b'{"machineId": ',
    b"[]",
    b'"text"',
    b"12345",
    b"null",
    b"true",
    b"\xff\xfe\x00garbage",
    b"[NaN]",
    b'{"a": Infinity}',
    b"1" * 5000,
    b'{"a": "\\u0000"}',
    b'{"a": "\\ud800"}',
    DEEP_ARRAY,
    DEEP_OBJECT,
    b'{"key": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
]

MACHINE_REPORTS = [
    machine(memoryMB=HUGE),
    machine(memoryMB=-1),
    machine(memoryMB="abc"),
    machine(memoryMB=1e308),
    machine(cores=10**30),
    machine(cores=None),
    machine(disks=[]),
    machine(disks="d0"),
    machine(disks=[{"diskId": f"d{index}", "sizeBytes": 1} for index in range(1000)]),
    machine(nics=[{"nicId": f"n{index}"} for index in range(1000)]),
    machine(nics=[{"nicId": "n0", "ipAddresses": ["not-an-ip", 5]}]),
    disk(sizeBytes=HUGE),
    disk(sizeBytes=10**30),
    disk(sizeBytes=-5),
    disk(sizeBytes="big"),
    disk(diskId={"nested": True}),
    machine(hostName="x" * 10_000),
    machine(osType=["Linux"]),
    {"machineId": ["a"], "machine": GOOD_MACHINE},
    {"machineId": "m", "machine": "everything"},
]

HEARTBEATS = [
    {"agents": "all of them"},
    {"agents": [1, 2, None]},
    {"agents": [{"machineId": {"a": 1}, "connected": "maybe"}]},
    {"agents": [{"machineId": "m" * 10_000}] * 100},
    {"components": ["processServer"]},
    {"components": {str(index): "x" * 1000 for index in range(1000)}},
    {"version": HUGE, "listen": {"a": 1}},
]

WRAP_KEYS = [{"value": "!!!not base64!!!"}, {"value": 5}, {"value": "QUJD"}, {"value": "A" * 100_000}, {}]


BATCH_UPLOADS = [
    b"",
    b"MHE1",
    b"MHE1" + struct.pack("<I", 2**32 - 1),
    upload(b"not json"),
    upload(DEEP_ARRAY[:60_000]),
    upload({**HEADER, "sequence": HUGE}),
    upload({**HEADER, "sequence": -1}),
    upload({**HEADER, "sequence": "abc"}),
    upload({**HEADER, "cycle": 2**40}),
    upload({**HEADER, "blockCount": "abc"}),
    upload({**HEADER, "dataBytes": 10**30}),
    upload({**HEADER, "scannedBytes": -7}),
    upload({**HEADER, "full": "yes"}),
    upload({**HEADER, "nonce": "!!"}),
    upload({**HEADER, "wrappedKey": "%%%"}),
    upload({**HEADER, "marker": {"cycle": 1, "digest": "x", "capturedAt": 1e300}}),
    upload({**HEADER, "marker": "final"}),
    upload({**HEADER, "itemId": ["x"]}),
    upload(HEADER, body=b"\x00" * (25 * 1024 * 1024)),
]


def batch(header: dict | bytes, records: bytes = b"") -> bytes:
    return upload(header, records, magic=b"MHB1")


AGENT_BATCH_HEADER = {
    "agentId": "nobody",
    "secret": "nothing",
    "itemId": "i",
    "diskId": "d0",
    "sequence": 1,
    "cycle": 1,
    "full": True,
    "scannedBytes": 0,
    "blockSize": 4096,
}

AGENT_BATCHES = [
    b"",
    b"MHB1",
    b"garbage" * 100,
    batch(b"{not json"),
    batch(DEEP_ARRAY[:60_000]),
    batch(b'{"a": "\\ud800"}'),
    batch({**AGENT_BATCH_HEADER, "sequence": HUGE}),
    batch({**AGENT_BATCH_HEADER, "agentId": {"a": 1}}),
    batch(AGENT_BATCH_HEADER, struct.pack("<QI", 0, 2**32 - 1)),
    batch(AGENT_BATCH_HEADER, b"\x01\x02\x03"),
]


# Header fields of an agent's batch, each wrong in its own way.
AGENT_HEADER_CHANGES = [
    {"sequence": HUGE},
    {"sequence": 0},
    {"sequence": "1"},
    {"cycle": 2**31},
    {"cycle": True},
    {"scannedBytes": -1},
    {"scannedBytes": 10**30},
    {"full": "true"},
    {"blockSize": 512},
    {"itemId": 5},
    {"diskId": ""},
    {"marker": {"cycle": 1, "digest": "x", "sizeBytes": HUGE, "capturedAt": 0}},
    {"marker": {"cycle": 1, "digest": "x", "sizeBytes": 1, "capturedAt": 1e300}},
    {"marker": {"cycle": 2, "digest": "x"}},
    {"marker": [1]},
]


def agent_bodies(passphrase: str) -> list[bytes]:
    bodies = [*JSON_GARBAGE, json.dumps({"passphrase": "\ud800"}, ensure_ascii=True).encode()]
    for report in MACHINE_REPORTS[:8]:
        bodies.append(json.dumps({**report, "passphrase": passphrase}).encode())
    bodies.append(json.dumps({"agentId": {"a": 1}, "secret": ["x"]}).encode())
    bodies.append(json.dumps({"machineId": "m", "passphrase": 5, "machine": {}}).encode())
    return bodies


@pytest.fixture(scope="module")
def appliance(live_hub, tmp_path_factory):
    running = start_appliance(live_hub, tmp_path_factory.mktemp("corpus-appliance"))
    yield running
    running.stop()


def assert_envelope(response: requests.Response, described: str) -> None:
    assert response.status_code < 500, described
    if response.status_code >= 400:
        assert response.headers.get("Content-Type", "").startswith("application/json"), described
        error = response.json().get("error")
        assert isinstance(error, dict), described
        assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), described


def post(url: str, body: bytes, content_type: str, headers: dict | None = None) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": content_type, **(headers or {})}, timeout=60)


def test_the_hubs_appliance_api_refuses_malformed_input_cleanly(live_hub, appliance):
    registration = json.loads((appliance.home / "appliance.json").read_text())
    base = f"{live_hub.url}/appliance-api/v1"
    own = f"{base}/appliances/{registration['applianceId']}"
    credential = {"Authorization": f"Appliance {registration['credential']}"}
    cases: list[tuple[str, bytes, str, dict]] = []
    oversize = b'{"key": "' + b"k" * (3 * 1024 * 1024) + b'"}'
    for path in ("registration-keys/verify", "appliances/register"):
        for body in [*JSON_GARBAGE, oversize, b'{"key": 5}', b'{"key": "{\\"keyId\\": [1]}"}']:
            cases.append((f"{base}/{path}", body, "application/json", {}))
    for body in [*JSON_GARBAGE, *(json.dumps(report).encode() for report in MACHINE_REPORTS)]:
        cases.append((f"{own}/machines", body, "application/json", credential))
    for body in [*JSON_GARBAGE, *(json.dumps(beat).encode() for beat in HEARTBEATS)]:
        cases.append((f"{own}/heartbeat", body, "application/json", credential))
    for body in [*JSON_GARBAGE, *(json.dumps(wrap).encode() for wrap in WRAP_KEYS)]:
        cases.append((f"{own}/keyvault/wrapkey", body, "application/json", credential))
    for body in BATCH_UPLOADS:
        cases.append((f"{own}/replication/batches", body, "application/octet-stream", credential))
    cases.append((f"{own}/replication/batches", b'{"a": 1}', "application/json", credential))
    for header in ("Appliance " + "x" * 10_000, "Appliance", "Bearer abc", "Appliance \u00e9\u00e9"):
        cases.append((f"{own}/heartbeat", b"{}", "application/json", {"Authorization": header.encode("utf-8")}))
    cases.append((f"{base}/appliances/{'9' * 5000}/heartbeat", b"{}", "application/json", credential))
    cases.append((f"{base}/no/such/route", b"{}", "application/json", {}))

    for url, body, content_type, headers in cases:
        response = post(url, body, content_type, headers)
        assert_envelope(response, f"POST {url} {body[:80]!r} -> {response.status_code}: {response.text[:300]}")


def test_the_appliance_refuses_malformed_agent_input_cleanly(appliance, tmp_path):
    passphrase = appliance.passphrase_file(tmp_path / "passphrase").read_text().strip()
    base = f"http://127.0.0.1:{appliance.port}"
    cases = [(f"{base}/agent-api/v1/register", body, "application/json") for body in agent_bodies(passphrase)]
    cases += [(f"{base}/agent-api/v1/heartbeat", body, "application/json") for body in JSON_GARBAGE]
    cases += [(f"{base}/ps-api/v1/batches", body, "application/octet-stream") for body in AGENT_BATCHES]
    # The same batches from a registered agent, so they get past its credential to the header checks.
    registered = requests.post(
        f"{base}/agent-api/v1/register",
        json={**machine(), "machineId": "corpus-agent", "passphrase": passphrase},
        timeout=60,
    )
    assert registered.status_code == 200, registered.text
    agent = {"agentId": registered.json()["agentId"], "secret": registered.json()["secret"]}
    for header in [{**AGENT_BATCH_HEADER, **agent, **bad} for bad in AGENT_HEADER_CHANGES]:
        cases.append((f"{base}/ps-api/v1/batches", batch(header), "application/octet-stream"))
    cases.append(
        (f"{base}/ps-api/v1/batches", batch({**AGENT_BATCH_HEADER, **agent}, b"\x01\x02"), "application/octet-stream")
    )
    cases.append((f"{base}/agent-api/v1/register", b"x" * 1_100_000, "application/json"))
    cases.append((f"{base}/ps-api/v1/batches", b"\x00" * (17 * 1024 * 1024), "application/octet-stream"))
    cases.append((f"{base}/no/such/route", b"{}", "application/json"))
    for url, body, content_type in cases:
        response = post(url, body, content_type)
        assert_envelope(response, f"POST {url} {body[:80]!r} -> {response.status_code}: {response.text[:300]}")

    # A Content-Length that is not a length: refused, not waited for.
    for length in ("abc", "-5"):
        connection = http.client.HTTPConnection("127.0.0.1", appliance.port, timeout=30)
        connection.putrequest("POST", "/agent-api/v1/heartbeat")
        connection.putheader("Content-Length", length)
        connection.endheaders()
        answer = connection.getresponse()
        assert answer.status == 413 and json.loads(answer.read())["error"]["code"] == "RequestTooLarge"
        connection.close()
