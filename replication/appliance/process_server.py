"""The process server: agents' replication batches in, compressed and encrypted batches out to the hub
(docs/replication-protocol.md).

A batch is checked (the agent's credential, its own item and disk, well-formed records), compressed
with zstd level 1, encrypted with AES-256-GCM under a data key and uploaded; the agent is answered
only once the hub has stored it. Data keys are made here and wrapped by the project's Key Vault key
through the hub: the key itself stays in this process's memory, and a new one is made at start-up,
after every 4 GiB it encrypted, and after the hub could not open a batch sealed with it."""

from __future__ import annotations

import base64
import json
import logging
import os
import struct
import threading
import time

from appliance import jsonbounds
from appliance.agents import AgentError, AgentRegistry
from appliance.assignments import ReplicationAssignments
from appliance.buffers import BufferPool
from appliance.faults import FaultsInForce
from appliance.hub_client import HubClient, HubError
from appliance.jsonbounds import INT64_MAX

try:  # the process server needs both; without them the configuration server still runs
    import zstandard
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:
    zstandard = AESGCM = None

logger = logging.getLogger("appliance")

BATCHES_PATH = "/ps-api/v1/batches"
BATCH_MAGIC = b"MHB1"
UPLOAD_MAGIC = b"MHE1"
BLOCK_SIZE = 4096
# The block data a batch may carry, offered to agents in their heartbeat's replication entry
# (`batchDataBytes`); an older agent sends 4 MiB batches, still taken. 16 MiB, not 4: the hub's fixed
# costs per upload and per apply (request handling, statements, a blob's fsync) are paid a quarter as
# often. The body adds record headers (12 bytes a block) and the agent's header to the data.
MAX_BATCH_DATA = 16 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_BATCH_BODY = MAX_BATCH_DATA + 1024 * 1024
# zstd's worst case for a body (incompressible data grows by a few bytes per 128 KiB block) plus the
# AES-GCM tag, rounded up: a ciphertext buffer this size holds any batch's.
MAX_CIPHERTEXT = MAX_BATCH_BODY + 256 * 1024
RECORD = struct.Struct("<QI")
INT32_MAX = 2**31 - 1
LATEST_TIMESTAMP = 32_503_680_000  # 3000-01-01, as the hub accepts
ROTATE_AFTER_BYTES = 4 * 1024**3
MISSING_LIBRARIES = "the process server needs the zstandard and cryptography packages (pip install them)"
# The hub's refusals of a batch it could not open: its data key is not (or no longer) usable.
KEY_REFUSALS = ("BatchIntegrityCheckFailed", "KeyUnwrapFailed")
# Uploads to the hub in flight at once. Each agent's batch is received on its own thread; unbounded,
# 200 replicating agents put ~200 uploads in the hub's queue at once, and the appliance's heartbeat
# waited behind all of them until it timed out (BENCHMARKS.md, issue 14 item 5). A few in flight keep
# the hub's link busy; the other agents' batches wait a little for a slot, then are answered busy.
HUB_UPLOADS_IN_FLIGHT_SETTING = "APPLIANCE_HUB_UPLOADS_IN_FLIGHT"
DEFAULT_HUB_UPLOADS_IN_FLIGHT = 8
# A batch waits at most this long for an upload slot, then is answered 503 ProcessServerBusy with
# Retry-After: the agent keeps the batch and sends it again after that long. Waiting without a bound,
# about 700 of 200 agents' batches reached the agents' 120 s timeout in one run (BENCHMARKS.md, issue
# 14 item 5): each held an agent's thread and connection for two minutes, then was sent again anyway.
UPLOAD_SLOT_WAIT_SECONDS = 2.0
BUSY_RETRY_AFTER_SECONDS = 3


def hub_uploads_in_flight(environ) -> int:
    text = str(environ.get(HUB_UPLOADS_IN_FLIGHT_SETTING) or "").strip()
    if not text:
        return DEFAULT_HUB_UPLOADS_IN_FLIGHT
    if not text.isdecimal() or not 1 <= int(text) <= 256:
        raise SystemExit(f"{HUB_UPLOADS_IN_FLIGHT_SETTING} must be a whole number from 1 to 256, not {text!r}.")
    return int(text)


def libraries_missing() -> bool:
    return zstandard is None or AESGCM is None


class DataKey:
    """An AES-256-GCM key and its wrapped form; the raw key is held only inside the cipher object."""

    def __init__(self, cipher, key_id: str, wrapped_key: str):
        self.cipher, self.key_id, self.wrapped_key = cipher, key_id, wrapped_key
        self.encrypted_bytes = 0

    def __repr__(self) -> str:
        return f"DataKey({self.key_id!r})"


class DataKeys:
    def __init__(self, hub: HubClient, appliance_id: str, rotate_after_bytes: int = ROTATE_AFTER_BYTES):
        self.hub, self.appliance_id, self.rotate_after_bytes = hub, appliance_id, rotate_after_bytes
        self.lock = threading.Lock()
        self.current: DataKey | None = None

    def take(self, byte_count: int) -> DataKey:
        """The key to encrypt byte_count bytes with; a new one when the current one has done its share
        (uploads wait for the hub to wrap it, once per 4 GiB)."""
        with self.lock:
            if self.current is None or self.current.encrypted_bytes >= self.rotate_after_bytes:
                self.current = self._new_key()
            self.current.encrypted_bytes += byte_count
            return self.current

    def forget(self, key: DataKey) -> None:
        """The hub could not open a batch sealed with `key`: the next batch gets a new one."""
        with self.lock:
            if self.current is key:
                self.current = None

    def _new_key(self) -> DataKey:
        key = os.urandom(32)
        wrapped = self.hub.post(
            f"/appliance-api/v1/appliances/{self.appliance_id}/keyvault/wrapkey",
            {"value": base64.b64encode(key).decode()},
        )
        if not isinstance(wrapped.get("keyId"), str) or not isinstance(wrapped.get("wrappedKey"), str):
            raise HubError(502, "InvalidWrapKeyAnswer", "The hub's wrapkey answer lacks keyId or wrappedKey.")
        return DataKey(AESGCM(key), wrapped["keyId"], wrapped["wrappedKey"])


def parse_batch(body) -> tuple[dict, memoryview]:
    """The agent's header and its records; 400 for anything malformed."""
    view = memoryview(body)
    if len(view) < 8 or bytes(view[:4]) != BATCH_MAGIC:
        raise AgentError(400, "InvalidBatch", "The body is not a replication batch (it must start with MHB1).")
    length = int.from_bytes(view[4:8], "little")
    if length > MAX_HEADER_BYTES or 8 + length > len(view):
        raise AgentError(400, "InvalidBatch", "The batch header length is out of range.")
    try:
        header = jsonbounds.loads(bytes(view[8 : 8 + length]))
    except ValueError:
        header = None
    if not isinstance(header, dict):
        raise AgentError(400, "InvalidBatch", "The batch header must be a JSON object.")
    return header, view[8 + length :]


def _integer(header: dict, name: str, minimum: int, maximum: int = INT64_MAX) -> int:
    """A counter of the header; the protocol's counters are signed 64-bit integers (cycles 32-bit)."""
    value = header.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise AgentError(
            400, "InvalidBatch", f"The batch header's {name} must be a whole number from {minimum} to {maximum}."
        )
    return value


def check_header(header: dict) -> None:
    for name in ("itemId", "diskId"):
        if not isinstance(header.get(name), str) or not header[name]:
            raise AgentError(400, "InvalidBatch", f"The batch header needs {name}.")
    _integer(header, "sequence", 1)
    cycle = _integer(header, "cycle", 1, INT32_MAX)
    _integer(header, "scannedBytes", 0)
    for name in ("dataScannedBytes", "dataTotalBytes"):  # optional: older agents leave them out
        if name in header:
            _integer(header, name, 0)
    if not isinstance(header.get("full"), bool):
        raise AgentError(400, "InvalidBatch", "The batch header's full must be true or false.")
    epoch = header.get("hubEpoch")  # optional: older agents leave it out
    if epoch is not None and (not isinstance(epoch, str) or not 0 < len(epoch) <= 64):
        raise AgentError(400, "InvalidBatch", "The batch header's hubEpoch must be 1 to 64 characters.")
    if header.get("blockSize") != BLOCK_SIZE:
        raise AgentError(400, "InvalidBatch", f"Blocks are {BLOCK_SIZE} bytes (blockSize).")
    marker = header.get("marker")
    if marker is not None:
        if not isinstance(marker, dict) or marker.get("cycle") != cycle or not isinstance(marker.get("digest"), str):
            raise AgentError(400, "InvalidBatch", "A marker names the batch's cycle and the disk's content digest.")
        _integer(marker, "sizeBytes", 0)
        captured = marker.get("capturedAt")
        if not isinstance(captured, int | float) or isinstance(captured, bool) or not 0 <= captured <= LATEST_TIMESTAMP:
            raise AgentError(400, "InvalidBatch", "A marker's capturedAt is the moment the cycle read (unix seconds).")


def count_records(records: memoryview) -> tuple[int, int]:
    """(records, bytes of block data), checking that the records exactly fill the rest of the body."""
    position, count, data_bytes, end = 0, 0, 0, len(records)
    unpack = RECORD.unpack_from
    while position < end:
        if position + RECORD.size > end:
            raise AgentError(400, "InvalidBatch", "The last record is cut short.")
        _, length = unpack(records, position)
        position += RECORD.size + length
        if length > BLOCK_SIZE or position > end:
            raise AgentError(400, "InvalidBatch", f"Record {count} has a bad length ({length}).")
        count += 1
        data_bytes += length
    if data_bytes > MAX_BATCH_DATA:
        raise AgentError(400, "InvalidBatch", f"A batch carries at most {MAX_BATCH_DATA} bytes of block data.")
    return count, data_bytes


def _encrypt(key: DataKey, nonce: bytes, plaintext, aad: bytes, buffer: memoryview | None):
    """AES-GCM ciphertext and tag, written into `buffer` (exactly their length) when there is one and
    the cryptography package can (encrypt_into, from its version 44)."""
    encrypt_into = getattr(key.cipher, "encrypt_into", None)
    if buffer is None or encrypt_into is None:
        return key.cipher.encrypt(nonce, plaintext, aad)
    encrypt_into(nonce, plaintext, aad, buffer)
    return buffer


def _agent_error(error: HubError) -> AgentError:
    """The hub's refusal, as the agent should see it: what it can act on keeps its status (404: stop
    replicating the disk; 409 and 400: retry later); the rest means the hub is not usable now."""
    if error.status == 0:
        return AgentError(503, "HubUnreachable", error.message)
    if error.status in (400, 404, 409):
        return AgentError(error.status, error.code, error.message)
    if error.code == "RetryableError":  # the hub rolled the upload back (a deadlock): send it again soon
        return AgentError(503, error.code, error.message, retry_after=1)
    return AgentError(502, error.code, f"The hub refused the upload: {error.message}")


UPLOAD_CAP_SETTING = "APPLIANCE_MAX_UPLOAD_MBPS"


def upload_cap_bytes_per_second(environ) -> float:
    """APPLIANCE_MAX_UPLOAD_MBPS: megabits per second (Mbps, as Site Recovery's bandwidth throttling
    counts), 0 or unset for no limit. Earlier versions read it as megabytes per second; the start-up log
    says the cap in both units so a value carried over is noticed."""
    text = str(environ.get(UPLOAD_CAP_SETTING) or "").strip()
    if not text:
        return 0.0
    try:
        megabits = float(text)
    except ValueError:
        raise SystemExit(f"{UPLOAD_CAP_SETTING} must be a number of megabits per second, not {text!r}.") from None
    if not megabits > 0 or megabits == float("inf"):
        return 0.0
    return megabits * 1_000_000 / 8


SLICE_SECONDS = 0.25


class UploadThrottle:
    """The appliance's bandwidth throttling: uploads to the hub average at most `bytes_per_second`
    (0: no limit), so replication leaves room for the site's other traffic."""

    def __init__(self, bytes_per_second: float):
        self.bytes_per_second = bytes_per_second
        if bytes_per_second > 0:
            logger.info(
                "Uploads capped at %g Mbps (%g MB/s) by %s.",
                bytes_per_second * 8 / 1e6,
                bytes_per_second / 1e6,
                UPLOAD_CAP_SETTING,
            )
        self.lock = threading.Lock()
        self.next_free = 0.0  # monotonic time at which the link is free again

    def wait_for(self, byte_count: int, cap=None) -> None:
        """Wait until the link may carry byte_count more bytes. `cap` (a callable: an injected cap in
        bytes per second, 0 for none) lowers the rate further; it is asked again every quarter of a
        second's worth of bytes, so lifting it frees an upload already waiting."""
        remaining = byte_count
        while remaining > 0:
            rates = [rate for rate in (self.bytes_per_second, cap() if cap else 0) if rate > 0]
            if not rates:
                return
            rate = min(rates)
            share = min(remaining, max(1, int(rate * SLICE_SECONDS)))
            with self.lock:
                now = time.monotonic()
                start = max(now, self.next_free)
                self.next_free = start + share / rate
            if start > now:
                time.sleep(start - now)
            remaining -= share


class ProcessServer:
    def __init__(
        self,
        hub: HubClient,
        appliance_id: str,
        agents: AgentRegistry,
        assignments: ReplicationAssignments,
        faults: FaultsInForce | None = None,
    ):
        self.hub, self.appliance_id, self.agents, self.assignments = hub, appliance_id, agents, assignments
        self.faults = faults or FaultsInForce()
        self.keys = DataKeys(hub, appliance_id)
        self.compressors = threading.local()
        self.stats_lock = threading.Lock()
        self.batches = self.received_bytes = self.uploaded_bytes = 0
        self.busy_seconds = 0.0
        self.throttle = UploadThrottle(upload_cap_bytes_per_second(os.environ))
        self.uploads_in_flight = hub_uploads_in_flight(os.environ)
        self.uploads = threading.BoundedSemaphore(self.uploads_in_flight)
        self.busy_answers = 0  # batches answered ProcessServerBusy (sent again by their agents)
        self.bodies = BufferPool(MAX_BATCH_BODY)
        self.ciphertexts = BufferPool(MAX_CIPHERTEXT)

    def start(self) -> None:
        """Make the first data key now, so the first batch does not wait for it (nor fail without it)."""
        if libraries_missing():
            logger.warning("Process server stopped: %s.", MISSING_LIBRARIES)
            return

        def first_key():
            try:
                self.keys.take(0)
            except HubError as error:
                logger.warning("No data key yet (made at the first batch instead): %s", error.message)

        threading.Thread(target=first_key, name="first-data-key", daemon=True).start()

    def status(self) -> str:
        if libraries_missing():
            return "Stopped: needs zstandard and cryptography"
        with self.stats_lock:
            if not self.batches:
                return "Running"
            return f"Running ({self.batches} batches, {self.received_bytes / 1e9:.2f} GB received)"

    def receive(self, body: bytes) -> dict:
        """An agent's batch, stored by the hub: the agent's answer; AgentError otherwise."""
        if libraries_missing():
            raise AgentError(
                503, "ProcessServerUnavailable", f"The appliance cannot take batches: {MISSING_LIBRARIES}."
            )
        started = time.monotonic()
        header, records = parse_batch(body)
        machine_id = self.agents.authenticate(header.get("agentId"), header.get("secret"))
        check_header(header)
        self._check_assigned(machine_id, header)
        refusal = self.agents.refusal_of(machine_id)
        if refusal:
            code, details = next(iter(refusal.items()))
            raise AgentError(409, "AgentRefused", f"{details['message']} (error {code}): replication is paused.")
        if self.faults.offline():
            raise AgentError(503, "HubUnreachable", "The appliance cannot reach the hub: keep the batch and retry.")
        block_count, data_bytes = count_records(records)
        # The slot first: a batch answered busy costs no compression, encryption or data key.
        if not self.uploads.acquire(timeout=UPLOAD_SLOT_WAIT_SECONDS):
            with self.stats_lock:
                self.busy_answers += 1
            raise AgentError(
                503,
                "ProcessServerBusy",
                f"The process server is uploading as many batches as it may ({self.uploads_in_flight}): keep "
                f"the batch and send it again in {BUSY_RETRY_AFTER_SECONDS} s.",
                retry_after=BUSY_RETRY_AFTER_SECONDS,
            )
        try:
            return self._upload(header, records, block_count, data_bytes, started, len(body))
        finally:
            self.uploads.release()

    def _upload(self, header: dict, records, block_count: int, data_bytes: int, started: float, received: int):
        """The batch compressed, encrypted and stored by the hub, holding one of the upload slots."""
        compressed = self._compressor().compress(records)
        try:
            key = self.keys.take(len(compressed))
        except HubError as error:
            raise _agent_error(error) from None
        item_id, disk_id, sequence = header["itemId"], header["diskId"], header["sequence"]
        nonce = os.urandom(12)
        with self.ciphertexts.lend(len(compressed) + 16) as buffer:
            ciphertext = _encrypt(key, nonce, compressed, f"{item_id}/{disk_id}/{sequence}".encode(), buffer)
            del compressed  # not held while the upload waits for its turn (batches are up to 16 MiB)
            return self._send(header, key, nonce, ciphertext, block_count, data_bytes, started, received)

    def _send(self, header: dict, key, nonce: bytes, ciphertext, block_count, data_bytes, started, received):
        item_id, disk_id, sequence = header["itemId"], header["diskId"], header["sequence"]
        upload_header = {
            "itemId": item_id,
            "diskId": disk_id,
            "sequence": sequence,
            "cycle": header["cycle"],
            "full": header["full"],
            "scannedBytes": header["scannedBytes"],
            "dataScannedBytes": header.get("dataScannedBytes", 0),
            "dataTotalBytes": header.get("dataTotalBytes", 0),
            "blockCount": block_count,
            "dataBytes": data_bytes,
            "marker": header.get("marker"),
            # The hub epoch the agent's state belongs to: the hub refuses another epoch's batch.
            **({"hubEpoch": header["hubEpoch"]} if header.get("hubEpoch") is not None else {}),
            "keyId": key.key_id,
            "wrappedKey": key.wrapped_key,
            "nonce": base64.b64encode(nonce).decode(),
            "compression": "zstd",
            "encryption": "AES-256-GCM",
        }
        encoded = json.dumps(upload_header, separators=(",", ":")).encode()
        prefix = UPLOAD_MAGIC + len(encoded).to_bytes(4, "little") + encoded
        try:
            self.throttle.wait_for(len(prefix) + len(ciphertext), self.faults.upload_cap_for_upload())
            if self.faults.link_down():
                self.faults.upload_failed()
                raise AgentError(
                    503, "HubUnreachable", "The link to the hub dropped during the upload: retry the batch."
                )
            answer = self.hub.post_bytes(
                f"/appliance-api/v1/appliances/{self.appliance_id}/replication/batches", [prefix, ciphertext]
            )
        except HubError as error:
            if error.code in KEY_REFUSALS:
                self.keys.forget(key)
            if error.status not in (404, 409):
                logger.warning(
                    "Upload of batch %s of disk %s failed: %s (%s)", sequence, disk_id, error.message, error.code
                )
            raise _agent_error(error) from None
        with self.stats_lock:
            self.batches += 1
            self.received_bytes += received
            self.uploaded_bytes += len(prefix) + len(ciphertext)
            self.busy_seconds += time.monotonic() - started
        return {"stored": True, "sequence": sequence, "duplicate": bool(answer.get("duplicate"))}

    def _check_assigned(self, machine_id: str, header: dict) -> None:
        """An agent sends only its own server's disks: the hub trusts the appliance, not the agent."""
        entry = self.assignments.entry_for(machine_id)
        if entry is None or entry.get("itemId") != header["itemId"]:
            raise AgentError(
                404,
                "MigrationItemNotFound",
                "The hub does not replicate this server through this appliance (replication was stopped?).",
            )
        if header["diskId"] not in {str(disk.get("diskId")) for disk in entry.get("disks") or []}:
            raise AgentError(404, "DiskNotProtected", f"Disk {header['diskId']} is not selected for replication.")

    def _compressor(self):
        compressor = getattr(self.compressors, "compressor", None)
        if compressor is None:
            compressor = self.compressors.compressor = zstandard.ZstdCompressor(level=1)
        return compressor
