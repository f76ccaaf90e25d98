"""The running appliance: the configuration server and the process server listen for agents on one
address; a heartbeat thread reports both components to the hub."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from appliance import VERSION
from appliance.hub_client import HubClient, HubError

logger = logging.getLogger("appliance")


class Appliance:
    def __init__(self, home: str, registration: dict, heartbeat_seconds: float):
        self.home = home
        self.registration = registration
        self.heartbeat_seconds = heartbeat_seconds
        self.hub = HubClient(registration["hub"], credential=registration["credential"])
        self.stopping = threading.Event()
        self.last_heartbeat_error: str | None = None

    def components(self) -> dict:
        return {"configurationServer": "Running", "processServer": "Running"}

    def heartbeat_once(self) -> None:
        body = {"version": VERSION, "components": self.components(), "listen": self.registration["listen"]}
        self.hub.post(f"/appliance-api/v1/appliances/{self.registration['applianceId']}/heartbeat", body)

    def heartbeat_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                self.heartbeat_once()
                if self.last_heartbeat_error:
                    logger.warning("Heartbeats reach the hub again.")
                self.last_heartbeat_error = None
            except HubError as error:
                if str(error) != self.last_heartbeat_error:
                    logger.warning("Heartbeat refused by the hub: %s", error)
                self.last_heartbeat_error = str(error)
            self.stopping.wait(self.heartbeat_seconds)


def handler_for(appliance: Appliance):
    class Handler(BaseHTTPRequestHandler):
        server_version = f"MigrateHubAppliance/{VERSION}"

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") == "/health":
                self._json(200, {"name": appliance.registration["name"], "version": VERSION, **appliance.components()})
            else:
                self._json(404, {"error": {"code": "NotFound", "message": f"No such path {self.path}"}})

        def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
            logger.debug("%s %s", self.address_string(), format % args)

    return Handler


def run(home: str, registration: dict, heartbeat_seconds: float) -> None:
    appliance = Appliance(home, registration, heartbeat_seconds)
    host, port = registration["listen"].rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), handler_for(appliance))
    threading.Thread(target=appliance.heartbeat_forever, name="heartbeat", daemon=True).start()
    print(
        f"Appliance {registration['name']} listening on {registration['listen']} (configuration server, process server)"
    )
    print(f"Heartbeats to {registration['hub']} every {heartbeat_seconds:g} s. Ctrl+C stops.", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        appliance.stopping.set()
        server.server_close()
        time.sleep(0)
