"""The web server: uvicorn serving the hub's ASGI application (portal, ARM API, websockets).

Each process serves plain http and, beside it, https (hub/tls.py gives the certificate): two uvicorn
servers in one event loop. One process in the embedded topology: the in-memory channel layer and the
Celery worker thread live in it, so it cannot be split. In the production topology (REDIS_URL) N
processes share the two listening sockets under uvicorn's supervisor, which starts a new process when
one dies; the Redis channel layer carries pushes between them, so a browser gets its pushes whichever
process holds its websocket.

Oversized request headers are answered with 431 and an ARM error envelope, rather than a dropped
connection (h11) or an unbounded buffer (httptools has no limit of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import threading
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.supervisors import multiprocess
from uvicorn.supervisors.multiprocess import Multiprocess, Process

if TYPE_CHECKING:
    from hub.tls import ServerCertificate

APPLICATION = "hub.asgi:application"
# The request line and headers together, as Kestrel (ASP.NET Core, behind ARM) limits them by default.
MAX_REQUEST_HEADER_BYTES = 32 * 1024
# Open websockets would otherwise hold a stop (or a restart of a process) for ever.
GRACEFUL_SHUTDOWN_SECONDS = 5
# How long the supervisor waits for a web process to answer its health ping before replacing it as
# hung: uvicorn's 5 s is short for a process whose threads share a busy 2-core machine.
HEALTHCHECK_TIMEOUT_SECONDS = 15
MAX_WEB_PROCESSES = 64
# How long a connection refused for its headers stays open to read (and drop) the rest of them.
LINGER_SECONDS = 2.0

logger = logging.getLogger(__name__)


def default_web_processes() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def web_processes(requested: int | None) -> int:
    """How many web processes to run: one embedded, else as requested or one per core."""
    from django.conf import settings

    if settings.EMBEDDED:
        if requested not in (None, 1):
            raise ValueError(
                "The embedded hub (no REDIS_URL) serves from one process: its channel layer and worker live "
                "in it. Set DATABASE_URL and REDIS_URL for several web processes."
            )
        return 1
    processes = default_web_processes() if requested is None else requested
    if not 1 <= processes <= MAX_WEB_PROCESSES:
        raise ValueError(f"--web-processes must be between 1 and {MAX_WEB_PROCESSES}, not {processes}.")
    warn_if_database_connections_short(processes)
    return processes


def warn_if_database_connections_short(processes: int) -> None:
    """Each web process has its own connection pool (DATABASE_POOL_MAX), as has the worker: say so when
    together they may ask PostgreSQL for more connections than it allows."""
    from django.conf import settings
    from django.db import connection

    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if connection.vendor != "postgresql" or not isinstance(pool, dict):
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
        )
        allowed = cursor.fetchone()[0]
    connection.close()  # the web processes open their own
    wanted = (processes + 1) * pool["max_size"]  # the web processes and the worker
    if wanted > allowed:
        logger.warning(
            "%d web processes and the worker may open %d PostgreSQL connections (DATABASE_POOL_MAX=%d each) "
            "but the server allows %d: lower DATABASE_POOL_MAX or --web-processes, or raise max_connections.",
            processes,
            wanted,
            pool["max_size"],
            allowed,
        )


def headers_too_large_body() -> bytes:
    limit_kb = MAX_REQUEST_HEADER_BYTES // 1024
    return json.dumps(
        {
            "error": {
                "code": "RequestHeaderFieldsTooLarge",
                "message": f"The request line and headers total more than {limit_kb} KB. Send smaller headers "
                f"(a shorter URL, fewer or shorter cookies and custom headers).",
            }
        }
    ).encode()


class HeadersTooLarge(Exception):
    """Raised from a parser callback: httptools stops parsing, and uvicorn calls send_400_response."""


class HeaderLimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 431 once a request's head grows past MAX_REQUEST_HEADER_BYTES.

    The head is counted twice: exactly, as httptools hands over the URL and each header (a whole head
    may arrive in one read), and in raw bytes while it is incomplete, which bounds what httptools
    buffers for a single endless header before handing it over.
    """

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.head_complete = False
        self.head_bytes_received = 0
        self.head_bytes_parsed = 0
        self.head_too_large = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_complete = False
        self.head_bytes_parsed = 0

    def on_url(self, url: bytes) -> None:
        self.count_head_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.count_head_bytes(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def count_head_bytes(self, size: int) -> None:
        self.head_bytes_parsed += size
        if self.head_bytes_parsed > MAX_REQUEST_HEADER_BYTES:
            self.head_too_large = True
            raise HeadersTooLarge

    def on_headers_complete(self) -> None:
        self.head_complete = True
        self.head_bytes_received = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # Whatever arrives next is the head of the next request on this connection.
        self.head_complete = False
        self.head_bytes_received = 0

    def data_received(self, data: bytes) -> None:
        if self.head_too_large:
            return  # the rest of a refused head, read only so that closing does not reset the connection
        if not self.head_complete:
            self.head_bytes_received += len(data)
        super().data_received(data)
        if (
            not self.head_complete
            and self.head_bytes_received > MAX_REQUEST_HEADER_BYTES
            and not self.transport.is_closing()
        ):
            self.send_headers_too_large()

    def send_400_response(self, msg: str) -> None:
        if self.head_too_large:
            self.send_headers_too_large()
        else:
            super().send_400_response(msg)

    def send_headers_too_large(self) -> None:
        body = headers_too_large_body()
        head = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.extend(
            [
                b"content-type: application/json; charset=utf-8\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
            ]
        )
        self.head_too_large = True
        self.transport.write(b"".join(head) + body)
        # Closing with the client's unread head still arriving would reset the connection, and a reset
        # can destroy the answer before the client reads it: stop writing, read what still comes for a
        # moment, then close.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


class HubConfig(uvicorn.Config):
    """The plain-http socket's settings, carrying the https socket's (or None) to every web process."""

    def __init__(self, *args, https: uvicorn.Config | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.https = https

    def per_socket(self) -> list[uvicorn.Config]:
        return [self] if self.https is None else [self, self.https]


def config(
    *,
    host: str,
    port: int,
    processes: int,
    certificate: ServerCertificate | None = None,
    https: HubConfig | None = None,
) -> HubConfig:
    """uvicorn's settings for one listening socket: plain http, or https with `certificate`; `https`
    is the settings of the process's other socket."""
    return HubConfig(
        APPLICATION,
        host=host,
        port=port,
        workers=processes,
        http="jobs.webserver:HeaderLimitedHttpToolsProtocol",
        ws="websockets-sansio",
        # Django's ASGI handler answers no lifespan events; saying so spares a warning per process.
        lifespan="off",
        # Django's LOGGING configures the loggers; uvicorn's own dictConfig would replace the handlers.
        log_config=None,
        log_level="info",
        access_log=False,
        server_header=False,
        # As daphne did: the client address and scheme are the connection's (https on the TLS socket,
        # so the URLs the hub writes keep a client on https). A proxy in front says https through
        # Django's SECURE_PROXY_SSL_HEADER, not by uvicorn rewriting the scope.
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_worker_healthcheck=HEALTHCHECK_TIMEOUT_SECONDS,
        ssl_certfile=str(certificate.cert_path) if certificate else None,
        ssl_keyfile=str(certificate.key_path) if certificate else None,
        https=https,
    )


class SocketServer(uvicorn.Server):
    """uvicorn's server for one of a process's sockets; its ServerGroup handles the signals for all."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class ServerGroup:
    """The servers of one process, plain http and https, in one event loop: SIGINT or SIGTERM stops them
    all, and the process counts as started once every one is."""

    def __init__(self, configs: list[uvicorn.Config]):
        self.servers = [SocketServer(web) for web in configs]

    @property
    def started(self) -> bool:
        return all(server.started for server in self.servers)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until a signal. `sockets`: bound by a supervisor, one per config in the same order;
        None: each server binds its own."""
        with asyncio.Runner(loop_factory=self.servers[0].config.get_loop_factory()) as runner:
            runner.run(self.serve(sockets))

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        with self.capture_signals():
            await asyncio.gather(
                *(
                    server.serve(sockets=None if sockets is None else [sockets[index]])
                    for index, server in enumerate(self.servers)
                )
            )

    @contextlib.contextmanager
    def capture_signals(self):
        """As uvicorn's Server does for itself: stop every server on SIGINT or SIGTERM, then raise the
        signal again under the handler that was there before, so the process ends as it would have."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        captured: list[int] = []

        def stop_all(sig, frame):
            captured.append(sig)
            for server in self.servers:
                server.handle_exit(sig, frame)

        previous = {sig: signal.signal(sig, stop_all) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        for sig in reversed(captured):
            signal.raise_signal(sig)


class HubProcess(Process):
    """A web process under the supervisor, serving every socket of HubConfig."""

    @property
    def server(self) -> ServerGroup:
        if self._server is None:
            self._server = ServerGroup(self.config.per_socket())
        return self._server


def serve(
    *, host: str, port: int, processes: int, https_port: int = 0, certificate: ServerCertificate | None = None
) -> None:
    """Serve until SIGINT or SIGTERM: plain http on `port` and, with https_port and certificate, https.
    processes > 1: that many processes under uvicorn's supervisor, which replaces any that dies, each
    serving both sockets; 1: this process serves, as the embedded topology must."""
    if https_port and certificate is None:
        raise ValueError("HTTPS needs a certificate (hub.tls.configured_certificate).")
    https = config(host=host, port=https_port, processes=processes, certificate=certificate) if https_port else None
    web = config(host=host, port=port, processes=processes, https=https)
    if processes == 1:
        ServerGroup(web.per_socket()).run()
        return
    # uvicorn's supervisor makes each web process (at start, in place of a dead one, on SIGHUP or
    # SIGTTIN) as its module's Process, with no hook for another class. This process only supervises,
    # so that name is HubProcess here: its web processes serve the https socket too.
    multiprocess.Process = HubProcess
    Multiprocess(web, sockets=[one.bind_socket() for one in web.per_socket()]).run()
