"""The running appliance: the configuration server and the process server listen for agents on one
address; a heartbeat thread reports both components to the hub and keeps what its answers say to
replicate. Connections are kept alive (HTTP/1.1), as agents stream batches on them."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from appliance import VERSION, jsonbounds, repository
from appliance.agents import AgentError, AgentRegistry, ScaleOutAgents
from appliance.assignments import ReplicationAssignments
from appliance.churn import ChurnMeter
from appliance.faults import FaultsInForce
from appliance.hub_client import HubClient
from appliance.process_server import BATCHES_PATH, MAX_BATCH_BODY, MAX_BATCH_DATA, ProcessServer, parse_batch

MAX_JSON_BODY = 1_000_000
# The heartbeat's answer waits its turn at the hub with the batches being stored: a busy hub answers
# in seconds, not in setup's 15. A timed-out heartbeat is still served by the hub, so retrying it
# soon after only adds another to its queue: after timeouts in a row the next heartbeat waits longer,
# doubling up to HEARTBEAT_BACKOFF_MAX_SECONDS (or the interval, if longer). Other failures (a hub
# restarting refuses connections) are retried at the usual interval.
HEARTBEAT_TIMEOUT_SECONDS = 60
HEARTBEAT_BACKOFF_MAX_SECONDS = 60

logger = logging.getLogger("appliance")


class Appliance:
    def __init__(self, home: str, registration: dict, heartbeat_seconds: float, agent_silent_seconds: float = 300):
        self.home = home
        self.registration = registration
        self.heartbeat_seconds = heartbeat_seconds
        self.agent_silent_seconds = agent_silent_seconds
        self.hub = HubClient(
            registration["hub"],
            credential=registration["credential"],
            certificate_authority=registration.get("hubCertificateAuthority"),
        )
        self.assignments = ReplicationAssignments(home)
        self.faults = FaultsInForce()
        # A scale-out process server (setup --scale-out) runs the process server only.
        self.scale_out_of = registration.get("scaleOutOf")
        if self.scale_out_of:
            self.agents = ScaleOutAgents(self.assignments)
        else:
            self.agents = AgentRegistry(home, self.hub, registration["applianceId"], self.assignments, self.faults)
        self.process_server = ProcessServer(
            self.hub, registration["applianceId"], self.agents, self.assignments, self.faults
        )
        self.churn = ChurnMeter()
        self.stopping = threading.Event()
        self.last_heartbeat_error: str | None = None
        # Of the replication list last received; None at start, so the first heartbeat gets the list.
        self.replication_digest: str | None = None
        self.cut_off = False

    def components(self) -> dict:
        if self.scale_out_of:
            return {"processServer": self.process_server.status(), "scaleOutOf": self.scale_out_of}
        return {"configurationServer": "Running", "processServer": self.process_server.status()}

    def heartbeat_once(self) -> None:
        path = f"/appliance-api/v1/appliances/{self.registration['applianceId']}/heartbeat"
        if self.faults.offline():
            # Cut off (applianceOffline): no heartbeat, only the probe that learns when the fault ends.
            if not self.cut_off:
                logger.warning("Cut off from the hub (applianceOffline fault): heartbeats and uploads stop.")
            self.cut_off = True
            self.faults.replace(self.hub.post(path, {"probe": True}, timeout=HEARTBEAT_TIMEOUT_SECONDS).get("faults"))
            return
        if self.cut_off:
            logger.warning("The hub is reachable again: heartbeats and uploads resume.")
        self.cut_off = False
        body = {
            "version": VERSION,
            "components": self.components(),
            "listen": self.registration["listen"],
            "agents": self.agents.statuses(self.agent_silent_seconds),
            "load": {**self.churn.summary(), "uploadCapBytesPerSecond": self.process_server.throttle.bytes_per_second},
            "problems": self.faults.problems(),
            # The hub sends the replication list only when it differs from the one held here.
            "replicationDigest": self.replication_digest,
        }
        answer = self.hub.post(path, body, timeout=HEARTBEAT_TIMEOUT_SECONDS)
        if isinstance(answer.get("replication"), list):
            self.assignments.replace(answer["replication"])
            digest = answer.get("replicationDigest")
            self.replication_digest = digest if isinstance(digest, str) else None
        self.faults.replace(answer.get("faults"))

    def heartbeat_forever(self) -> None:
        timeouts = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                self.heartbeat_once()
                if self.last_heartbeat_error:
                    logger.warning("Heartbeats reach the hub again.")
                self.last_heartbeat_error = None
                timeouts = 0
            except Exception as error:  # noqa: BLE001 (the heartbeat must outlive any one failure)
                if str(error) != self.last_heartbeat_error:
                    logger.warning("Heartbeat failed: %s", error)
                self.last_heartbeat_error = str(error)
                timeouts = timeouts + 1 if getattr(error, "timed_out", False) else 0
            took = time.monotonic() - started
            if took > HEARTBEAT_TIMEOUT_SECONDS / 4:
                logger.info("The hub took %.1f s to answer the heartbeat.", took)
            self.stopping.wait(self.heartbeat_wait(timeouts))

    def heartbeat_wait(self, timeouts: int) -> float:
        """Seconds until the next heartbeat: the interval, doubled for each timeout in a row (capped)."""
        if not timeouts:
            return self.heartbeat_seconds
        return min(self.heartbeat_seconds * 2**timeouts, max(HEARTBEAT_BACKOFF_MAX_SECONDS, self.heartbeat_seconds))


def _offer_batch_size(answer: dict) -> dict:
    """An agent's heartbeat answer, its replication entry saying how much block data a batch may carry
    here (docs/replication-protocol.md): an agent that knows the field plans its next cycle with it; an
    older one ignores it and sends 4 MiB batches."""
    entry = answer.get("replication")
    if isinstance(entry, dict):
        answer = {**answer, "replication": {**entry, "batchDataBytes": MAX_BATCH_DATA}}
    return answer


def handler_for(appliance: Appliance):
    class Handler(BaseHTTPRequestHandler):
        server_version = f"MigrateHubAppliance/{VERSION}"
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: with Nagle's algorithm the second waits for the
        # client's delayed ACK, 40 ms per answer.
        disable_nagle_algorithm = True
        timeout = 600  # a kept-alive connection idle this long is closed

        def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
            self._send(status, "application/json", json.dumps(body).encode(), headers)

        def _length(self, limit: int) -> int:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= limit:
                self.close_connection = True  # the body stays unread: the connection cannot be reused
                raise AgentError(413, "RequestTooLarge", f"Send a body of at most {limit} bytes, with Content-Length.")
            return length

        def _read(self, limit: int, rule: str) -> bytes:
            """The body: at most `limit` bytes, all its Content-Length says (else 400 `rule`)."""
            length = self._length(limit)
            data = self.rfile.read(length)
            if len(data) < length:
                self.close_connection = True
                raise AgentError(400, rule, "The body ended before its Content-Length.")
            return data

        def _body(self) -> dict:
            data = self._read(MAX_JSON_BODY, "InvalidRequest")
            try:
                body = jsonbounds.loads(data or b"{}")
            except ValueError as error:
                raise AgentError(400, "InvalidRequest", f"The request body is not valid JSON: {error}.") from None
            if not isinstance(body, dict):
                raise AgentError(400, "InvalidRequest", "The request body must be a JSON object.")
            return body

        def do_GET(self):  # noqa: N802 (http.server's naming)
            path = self.path.split("?")[0]
            if path.rstrip("/") == "/health":
                self._json(200, {"name": appliance.registration["name"], "version": VERSION, **appliance.components()})
            elif path.rstrip("/") == repository.LISTING_PATH:
                self._send(200, "text/html; charset=utf-8", repository.listing_html().encode())
            elif path.startswith(repository.LISTING_PATH + "/") and path.rsplit("/", 1)[1] in repository.installers():
                self._send(200, "application/gzip", repository.installers()[path.rsplit("/", 1)[1]]())
            else:
                self._json(404, {"error": {"code": "NotFound", "message": f"No such path {self.path}"}})

        def do_POST(self):  # noqa: N802
            routes = {
                "/agent-api/v1/register": lambda: appliance.agents.register(self._body()),
                "/agent-api/v1/heartbeat": lambda: _offer_batch_size(appliance.agents.heartbeat(self._body())),
                BATCHES_PATH: self._batch,
            }
            route = routes.get(self.path.split("?")[0])
            if route is None:
                self.close_connection = True
                self._json(404, {"error": {"code": "NotFound", "message": f"No such path {self.path}"}})
                return
            try:
                self._json(200, route())
            except AgentError as error:
                headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
                self._json(error.status, {"error": {"code": error.code, "message": error.message}}, headers)
            except Exception:  # noqa: BLE001 (the agent gets an answer, the log the detail)
                logger.exception("Request %s failed", self.path)
                self.close_connection = True
                self._json(500, {"error": {"code": "InternalError", "message": "The appliance failed; see its log."}})

        def _batch(self) -> dict:
            """Binary, up to 17 MiB: a batch of block records (16 MiB of block data) (the JSON routes take 1 MB).
            A large body is read into one of the process server's kept buffers, used only until the
            batch is answered."""
            length = self._length(MAX_BATCH_BODY)
            with appliance.process_server.bodies.lend(length) as buffer:
                body = self._read(MAX_BATCH_BODY, "InvalidBatch") if buffer is None else self._read_into(buffer)
                answer = appliance.process_server.receive(body)
                if not answer.get("duplicate"):
                    header, records = parse_batch(body)  # accepted, so well formed; the header is small
                    appliance.churn.record(str(header.get("agentId")), len(records))
                return answer

        def _read_into(self, buffer: memoryview) -> memoryview:
            """The body, all of its Content-Length (the buffer's length), read straight into the buffer."""
            done = 0
            while done < len(buffer):
                count = self.rfile.readinto(buffer[done:])
                if not count:
                    self.close_connection = True
                    raise AgentError(400, "InvalidBatch", "The body ended before its Content-Length.")
                done += count
            return buffer

        def _send(self, status: int, content_type: str, data: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
            logger.debug("%s %s", self.address_string(), format % args)

    return Handler


def run(home: str, registration: dict, heartbeat_seconds: float, agent_silent_seconds: float = 300) -> None:
    appliance = Appliance(home, registration, heartbeat_seconds, agent_silent_seconds)
    host, port = registration["listen"].rsplit(":", 1)
    ThreadingHTTPServer.request_queue_size = 128  # Python's default backlog of 5 resets a fleet's bursts
    server = ThreadingHTTPServer((host, int(port)), handler_for(appliance))
    appliance.process_server.start()
    threading.Thread(target=appliance.heartbeat_forever, name="heartbeat", daemon=True).start()
    role = (
        f"scale-out process server of {registration['scaleOutOf']}"
        if registration.get("scaleOutOf")
        else "configuration server, process server"
    )
    print(f"Appliance {registration['name']} listening on {registration['listen']} ({role})")
    print(f"Heartbeats to {registration['hub']} every {heartbeat_seconds:g} s. Ctrl+C stops.", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        appliance.stopping.set()
        server.server_close()
        time.sleep(0)
