"""Port 443 of 127.0.0.1 for a test hub that serves HTTPS on another port.

Before a user's password sign-in, MSAL (inside az and azure-identity) asks
https://<authority host>/common/userrealm/<upn> on port 443, whatever port the authority names: msal's
authority.py builds that URL from the host name alone. A hub on port 8443 never sees the question and
the sign-in fails with "connection refused". The tests give the tools an HTTPS_PROXY instead of
binding 443 (which needs root and one suite at a time): this CONNECT proxy tunnels 127.0.0.1:443 to
the hub's HTTPS port and any other tunnel where it asked. TLS runs end to end through the tunnel, so
the tools still verify the hub's certificate."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading

_proxies: dict[int, str] = {}
_lock = threading.Lock()


class _Tunnel(socketserver.BaseRequestHandler):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3 or parts[0] != b"CONNECT":
            self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = parts[1].decode("ascii", "replace").rpartition(":")
        if host not in ("127.0.0.1", "localhost"):
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")  # loopback only
            return
        target = self.server.https_port if port == "443" else int(port)
        try:
            upstream = socket.create_connection(("127.0.0.1", target), timeout=30)
        except OSError:
            self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with upstream:
            pump = threading.Thread(target=_copy, args=(upstream, self.request), daemon=True)
            pump.start()
            _copy(self.request, upstream)
            pump.join(timeout=30)


def _copy(source: socket.socket, destination: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            destination.sendall(data)
    with contextlib.suppress(OSError):
        destination.shutdown(socket.SHUT_WR)


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def https_proxy_for(https_url: str) -> str:
    """The URL of a proxy (started once per hub, for the test session) for HTTPS_PROXY."""
    https_port = int(https_url.rsplit(":", 1)[1].rstrip("/"))
    with _lock:
        if https_port not in _proxies:
            server = _Proxy(("127.0.0.1", 0), _Tunnel)
            server.https_port = https_port
            threading.Thread(target=server.serve_forever, daemon=True).start()
            _proxies[https_port] = f"http://127.0.0.1:{server.server_address[1]}"
        return _proxies[https_port]
