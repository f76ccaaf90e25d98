"""A webhook receiver in its own process, for the event delivery tests: a tiny http.server that
appends every request it gets (headers and body) to a JSON-lines file and answers as told.

    python -m tests.webhook_receiver PORT LOG [--status 200] [--delay SECONDS]

`--delay` holds each answer that long (a receiver that times out); `--status` is the answer's code.
Event Grid's validation handshake (aeg-event-type: SubscriptionValidation) is always answered at
once, echoing the validationCode, as a receiver that wants the events does.
The Receiver class starts, stops and restarts it on the same port (a receiver down for a while) and
reads what arrived."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def serve(port: int, log: Path, status: int, delay: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with log.open("a") as out:
                out.write(json.dumps({"headers": dict(self.headers.items()), "body": body.decode()}) + "\n")
            if self.headers.get("aeg-event-type") == "SubscriptionValidation":
                # Event Grid's handshake: echo the code, at once, whatever the receiver does with events.
                code = json.loads(body)[0]["data"]["validationCode"]
                answer = json.dumps({"validationResponse": code}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                return
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


class Receiver:
    def __init__(self, port: int, log: Path):
        self.port, self.log = port, log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def start(self, *, status: int = 200, delay: float = 0) -> Receiver:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.webhook_receiver",
                str(self.port),
                str(self.log),
                "--status",
                str(status),
                "--delay",
                str(delay),
            ],
            cwd=ROOT,
        )
        import socket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("The webhook receiver did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def all_requests(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def requests(self) -> list[dict]:
        """The notifications (events), without the validation handshakes."""
        return [r for r in self.all_requests() if r["headers"].get("aeg-event-type") == "Notification"]

    def validations(self) -> list[dict]:
        return [r for r in self.all_requests() if r["headers"].get("aeg-event-type") == "SubscriptionValidation"]

    def events(self) -> list[dict]:
        return [event for request in self.requests() for event in json.loads(request["body"])]

    def wait_for(self, condition, timeout: float = 30, what: str = "the expected requests") -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.requests()
            if condition(received):
                return received
            time.sleep(0.1)
        raise AssertionError(f"The receiver did not get {what} within {timeout} s: {self.requests()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("log", type=Path)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0)
    arguments = parser.parse_args()
    serve(arguments.port, arguments.log, arguments.status, arguments.delay)
