"""The bounds on what appliances report and upload: each refusal names the field and its limit."""

from __future__ import annotations

import json
import struct

import pytest

from hub.arm.errors import ArmError
from hub.arm.views import validated
from replication import uploads
from replication.appliance_api import MachineReport

HEADER = {
    "itemId": "00000000-0000-0000-0000-000000000000",
    "diskId": "d0",
    "sequence": 1,
    "cycle": 1,
    "wrappedKey": "QUJD",
    "nonce": "AAAAAAAAAAAAAAAA",
}


def upload(header: dict | bytes, body: bytes = b"ciphertext", magic: bytes = b"MHE1") -> bytes:
    """A batch upload's bytes around `header` (JSON, or raw bytes for malformed ones)."""
    encoded = header if isinstance(header, bytes) else json.dumps(header).encode()
    return magic + struct.pack("<I", len(encoded)) + encoded + body


def test_a_well_formed_header_passes():
    header, start = uploads.parse_upload(upload({**HEADER, "blockCount": 3, "dataBytes": 12288, "full": True}))
    assert header["sequence"] == 1 and start == 8 + len(
        json.dumps({**HEADER, "blockCount": 3, "dataBytes": 12288, "full": True})
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"sequence": 2**63}, f"sequence must be a whole number from 1 to {2**63 - 1}"),
        ({"sequence": 0}, "sequence must be a whole number from 1"),
        ({"cycle": 2**31}, f"cycle must be a whole number from 1 to {2**31 - 1}"),
        ({"blockCount": "abc"}, "blockCount must be a whole number from 0"),
        ({"dataBytes": 10**30}, f"dataBytes must be a whole number from 0 to {64 * 1024 * 1024}"),
        ({"dataBytes": -1}, "dataBytes must be a whole number from 0"),
        ({"scannedBytes": 1.5}, "scannedBytes must be a whole number"),
        ({"full": "yes"}, "full must be true or false"),
        ({"nonce": "!!"}, "nonce must be 12 bytes in base64"),
        ({"wrappedKey": "%%"}, "wrappedKey must be base64"),
        ({"marker": {"cycle": 1, "digest": "x", "capturedAt": 1e300}}, "capturedAt must be unix seconds"),
        ({"marker": {"cycle": 1, "digest": "x", "sizeBytes": 2**64}}, "sizeBytes must be a whole number"),
        ({"marker": {"cycle": 1, "digest": "x", "final": "yes"}}, "final must be true or false"),
    ],
)
def test_a_header_out_of_bounds_is_refused_naming_field_and_limit(change, named):
    with pytest.raises(ArmError) as refused:
        uploads.parse_upload(upload({**HEADER, **change}))
    assert refused.value.status == 400 and refused.value.code == "InvalidBatch"
    assert named in refused.value.message


def test_a_deeply_nested_header_is_refused_before_decoding():
    with pytest.raises(ArmError) as refused:
        uploads.parse_upload(upload(b"[" * 30_000 + b"]" * 30_000))
    assert refused.value.status == 400


MACHINE = {
    "hostName": "web-1",
    "osType": "Linux",
    "osName": "Ubuntu 22.04",
    "cores": 2,
    "memoryMB": 4096,
    "disks": [{"diskId": "d0", "sizeBytes": 10 * 1024**3}],
}


@pytest.mark.parametrize(
    ("change", "target", "limit"),
    [
        ({"memoryMB": 2**63}, "machine.memoryMB", "67108864"),
        ({"memoryMB": -1}, "machine.memoryMB", "1"),
        ({"cores": 10**30}, "machine.cores", "1024"),
        ({"disks": [{"diskId": "d0", "sizeBytes": 10**30}]}, "machine.disks.0.sizeBytes", str(256 * 1024**4)),
        ({"disks": [{"diskId": f"d{n}", "sizeBytes": 1} for n in range(257)]}, "machine.disks", "256"),
    ],
)
def test_a_machine_report_out_of_bounds_names_field_and_limit(change, target, limit):
    with pytest.raises(ArmError) as refused:
        validated(MachineReport, {"machineId": "m", "machine": {**MACHINE, **change}})
    assert refused.value.status == 400
    assert refused.value.target == target and limit in refused.value.message


def test_the_hub_keeps_more_of_a_batch_in_memory_than_the_batch_view_takes():
    """hub/asgi.py keeps an appliance API body in memory up to settings.IN_MEMORY_BODIES and drops the
    rest: the batch view must still see one byte past its limit to answer 413."""
    from django.conf import settings

    assert settings.IN_MEMORY_BODIES["/appliance-api/"] > uploads.MAX_UPLOAD_BYTES
