"""A TCP relay between the Mobility service and the appliance that counts the agent's bytes, and
re-pointing a configured agent at it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading

from tests.replication_rig import Rig

# A pipe this large lets one splice move a whole socket buffer's worth at once.
PIPE_BYTES = 1024 * 1024


class ByteCountingRelay:
    """A TCP relay between the Mobility service and the appliance that counts the bytes of batch uploads
    (connections whose first request is POST /ps-api/v1/batches) in each direction. It moves the data
    with splice(2) through a pipe, so it copies nothing in user space and costs little CPU."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.batch_bytes_up = self.batch_bytes_down = self.other_bytes_up = 0
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="relay", daemon=True)
        self.thread.start()

    def counted(self) -> tuple[int, int, int]:
        with self.lock:
            return self.batch_bytes_up, self.batch_bytes_down, self.other_bytes_up

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            upstream.settimeout(None)
            first = client.recv(64, socket.MSG_PEEK)
            batches = first.startswith(b"POST /ps-api/v1/batches")
            down = threading.Thread(target=self._pump, args=(upstream, client, batches, False), daemon=True)
            down.start()
            self._pump(client, upstream, batches, True)
            down.join()
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    def _pump(self, source: socket.socket, target: socket.socket, batches: bool, up: bool) -> None:
        read_end, write_end = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        try:
            while True:
                moved = os.splice(source.fileno(), write_end, PIPE_BYTES)
                if moved == 0:
                    break
                with self.lock:
                    if batches and up:
                        self.batch_bytes_up += moved
                    elif batches:
                        self.batch_bytes_down += moved
                    elif up:
                        self.other_bytes_up += moved
                while moved:
                    moved -= os.splice(read_end, target.fileno(), moved)
        except OSError:
            pass
        finally:
            os.close(read_end)
            os.close(write_end)
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.closing.set()
        self.listener.close()


def point_agent_at(rig: Rig, address: str) -> None:
    """Re-point the configured agent at another appliance address: the service re-reads its state file
    (Vx/etc/drscout.json) at every heartbeat, as after a re-registration."""
    path = rig.prefix / "Vx" / "etc" / "drscout.json"
    values = json.loads(path.read_text())
    values["appliance"] = address
    temporary = path.with_suffix(".bench-tmp")
    temporary.write_text(json.dumps(values, indent=2))
    os.replace(temporary, path)
