"""An in-test process server and the helpers around it, for the hub's half of the data path: it encodes
batches exactly as docs/replication-protocol.md says (zstd, AES-256-GCM under a key wrapped by the
project's Key Vault), sends full cycles, applies them and reads the replica back. Shared by the data
path's tests (test_data_path.py and the others) and by live tests' shell scripts."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import struct

import zstandard
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from replication import data_path, keyvault, replica_files, uploads

BLOCK = 4096
MIB = 1024 * 1024


def block_hash(block: bytes) -> bytes:
    return hashlib.sha256(block).digest()[:16]


def content_digest(image: bytes) -> str:
    digest = hashlib.sha256()
    for index in range(0, -(-len(image) // BLOCK)):
        block = image[index * BLOCK : (index + 1) * BLOCK]
        if any(block):
            digest.update(index.to_bytes(8, "little") + block_hash(block))
    digest.update(len(image).to_bytes(8, "little"))
    return digest.hexdigest()


def records(image: bytes, indexes) -> bytes:
    out = bytearray()
    for index in indexes:
        block = image[index * BLOCK : (index + 1) * BLOCK]
        if any(block):
            out += struct.pack("<QI", index, len(block)) + block
        else:
            out += struct.pack("<QI", index, 0)
    return bytes(out)


class ProcessServer:
    """What the appliance's process server does to a batch: zstd, AES-256-GCM under a wrapped key."""

    def __init__(self, project):
        self.data_key = os.urandom(32)
        self.key_id, self.wrapped = keyvault.wrap_key(project, self.data_key)

    def body(self, item, disk_id, sequence, cycle, payload: bytes, *, full, marker=None, scanned=0, **more) -> bytes:
        """A batch's bytes; `more` adds header fields (the agent's data progress, say)."""
        nonce = os.urandom(12)
        aad = f"{item.pk}/{disk_id}/{sequence}".encode()
        sealed = AESGCM(self.data_key).encrypt(nonce, zstandard.ZstdCompressor(level=1).compress(payload), aad)
        header = {
            "itemId": str(item.pk),
            "diskId": disk_id,
            "sequence": sequence,
            "cycle": cycle,
            "full": full,
            "scannedBytes": scanned,
            "blockCount": 0,
            "dataBytes": len(payload),
            "marker": marker,
            "keyId": self.key_id,
            "wrappedKey": self.wrapped,
            "nonce": base64.b64encode(nonce).decode(),
            "compression": "zstd",
            "encryption": "AES-256-GCM",
            **more,
        }
        encoded = json.dumps(header).encode()
        return b"MHE1" + len(encoded).to_bytes(4, "little") + encoded + sealed


def marker(cycle: int, image: bytes) -> dict:
    return {"cycle": cycle, "digest": content_digest(image), "sizeBytes": len(image), "capturedAt": 1_700_000_000}


def image(seed: int, size: int) -> bytearray:
    rng = random.Random(seed)
    data = bytearray(size)
    for index in range(size // BLOCK):
        if rng.random() < 0.6:  # the rest stays zero, as unused space does
            data[index * BLOCK : (index + 1) * BLOCK] = rng.randbytes(BLOCK // 2) * 2
    return data


def send_full(ps, item, disk_id, data, cycle, first_sequence, batch_blocks=64):
    """A full cycle: every non-zero block, in batches, the last one carrying the marker."""
    indexes = [index for index in range(len(data) // BLOCK) if any(data[index * BLOCK : (index + 1) * BLOCK])]
    chunks = [indexes[start : start + batch_blocks] for start in range(0, len(indexes), batch_blocks)] or [[]]
    sequence = first_sequence
    for position, chunk in enumerate(chunks):
        last = position == len(chunks) - 1
        body = ps.body(
            item,
            disk_id,
            sequence,
            cycle,
            records(bytes(data), chunk),
            full=True,
            marker=marker(cycle, bytes(data)) if last else None,
            scanned=(chunk[-1] + 1) * BLOCK if chunk else len(data),
        )
        uploads.batch_store(item.appliance, body)
        sequence += 1
    return sequence


def replica_bytes(item, disk_id) -> bytes:
    disk = item.disks.get(disk_id=disk_id)
    return replica_files.replica_path(disk).read_bytes()


def apply(item):
    data_path.replica_apply(item.pk, owner="test")


def applied_by_two_workers(item, source: bytes, second_worker_starts=lambda: None):
    """Disk0's full cycle of `source` in two batches, the second applied as by another worker process (one
    that never saw the first batch's running digest). `second_worker_starts` runs between the two, and
    what it returns is returned, so a test can start counting there."""
    source = bytes(source)
    ps = ProcessServer(item.project)
    indexes = [index for index in range(len(source) // BLOCK) if any(source[index * BLOCK : (index + 1) * BLOCK])]
    half = len(indexes) // 2
    uploads.batch_store(item.appliance, ps.body(item, "disk0", 1, 1, records(source, indexes[:half]), full=True))
    apply(item)
    data_path._cycle_digests.clear()
    started = second_worker_starts()
    last = ps.body(item, "disk0", 2, 1, records(source, indexes[half:]), full=True, marker=marker(1, source))
    uploads.batch_store(item.appliance, last)
    apply(item)
    return started


def first_cycle_applied(item, seed: int) -> tuple[ProcessServer, bytearray, int]:
    """Disk0 replicated once: a full cycle of image(seed, MIB) sent through a new process server and
    applied. Returns the process server, the source image and the next sequence to send."""
    ps = ProcessServer(item.project)
    source = image(seed, MIB)
    next_sequence = send_full(ps, item, "disk0", source, cycle=1, first_sequence=1)
    apply(item)
    return ps, source, next_sequence
