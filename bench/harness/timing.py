"""The hub's own request time (Server-Timing) while something else loads it, seen from two sides: a
sampler that sends one request every ~100 ms, and a proxy that records the calls passing through it."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests

from harness.hub import LOOPBACK, server_ms
from harness.report import summary_or_none

SAMPLE_INTERVAL_SECONDS = 0.1


class RequestSampler(threading.Thread):
    """GETs one URL every ~100 ms on one keep-alive session, with a bearer token."""

    def __init__(self, url: str, token: str, params: dict):
        super().__init__(name="request-sampler", daemon=True)
        self.url, self.token, self.params = url, token, params
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, server ms, client ms)
        self.errors: list[tuple[float, str]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token}"
        next_at = time.monotonic()
        while not self.stopping.is_set():
            started = time.perf_counter()
            at = time.monotonic()
            try:
                response = session.get(self.url, params=self.params, timeout=10)
                client = (time.perf_counter() - started) * 1000
                server = server_ms(response.headers)
                if response.status_code != 200 or server is None:
                    self.errors.append((at, f"{response.status_code} {response.text[:120]}"))
                else:
                    self.samples.append((at, server, client))
            except requests.RequestException as error:
                self.errors.append((at, str(error)[:200]))
            next_at += SAMPLE_INTERVAL_SECONDS
            now = time.monotonic()
            if next_at < now:  # a slow answer: carry on from now rather than firing a burst
                next_at = now
            self.stopping.wait(next_at - now)
        session.close()

    def close(self) -> None:
        self.stopping.set()

    def window(self, start: float, stop: float) -> dict:
        """The hub's and the client's times of the samples sent between two monotonic times."""
        chosen = [sample for sample in self.samples if start <= sample[0] < stop]
        return {
            "server_ms": summary_or_none([sample[1] for sample in chosen]),
            "client_ms": summary_or_none([sample[2] for sample in chosen]),
        }


class TimingProxy:
    """Between a client (the appliance, say) and the hub: forwards each call unchanged and records the
    hub's Server-Timing, with the kind of call kind_of(path) names. One new connection to the hub per
    call, as the appliance itself makes."""

    def __init__(self, hub_url: str, kind_of: Callable[[str], str]):
        target = urlsplit(hub_url)
        if target.hostname not in LOOPBACK:
            raise SystemExit(f"The proxy only forwards to this machine, not {hub_url!r}.")
        # (monotonic, kind, status, server ms or None, client ms)
        self.records: list[tuple[float, str, int, float | None, float]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                self._forward("POST")

            def do_GET(self):  # noqa: N802
                self._forward("GET")

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept", "authorization")
                }
                at, started = time.monotonic(), time.perf_counter()
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    connection.request(method, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                    status, answer_headers = response.status, response.headers
                except OSError as error:
                    status, answer_headers = 502, {}
                    data = json.dumps({"error": {"code": "ProxyError", "message": str(error)}}).encode()
                finally:
                    connection.close()
                client = (time.perf_counter() - started) * 1000
                with proxy.lock:
                    proxy.records.append((at, kind_of(self.path), status, server_ms(answer_headers), client))
                self.send_response(status)
                self.send_header("Content-Type", answer_headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):  # noqa: A002 (quiet)
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # not the default 5: a burst of calls must not wait for a SYN retry

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="proxy", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def window(self, kind: str, start: float, stop: float) -> dict:
        """The hub's and the client's times of one kind of call between two monotonic times; answers not 2xx."""
        calls = [record for record in list(self.records) if record[1] == kind and start <= record[0] < stop]
        timed = [record for record in calls if record[3] is not None]
        return {
            "server_ms": summary_or_none([record[3] for record in timed]),
            "client_ms": summary_or_none([record[4] for record in timed]),
            "non_2xx": sum(1 for record in calls if not 200 <= record[2] < 300),
        }
