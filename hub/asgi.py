import io
import os
import threading
from contextvars import ContextVar

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain and the view run as one synchronous call.

    The hub's views and middleware are synchronous. In its async mode Django hands each middleware's
    process_request/process_response and the view to a thread one by one, about a dozen hops between
    the event loop and the request's thread per request, which under concurrent load cost more CPU
    than some views. Here the whole chain runs in one hop, as under a threaded WSGI server: on a thread
    of a small pool, so that one request's database wait does not hold up the process's others.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        chain = self._middleware_chain

        def chain_with_its_connection(request):
            # Django's request_started/finished signals close connections on another thread than this
            # one: the connection a request uses is checked and given back to the pool here instead.
            close_old_connections()
            try:
                return chain(request)
            finally:
                close_old_connections()

        self._middleware_chain = sync_to_async(chain_with_its_connection, thread_sensitive=False)

    # The request being handled, for read_body, whose signature Django fixes (receive only).
    scope_of_request: ContextVar[dict | None] = ContextVar("scope_of_request", default=None)

    async def handle(self, scope, receive, send):
        path = scope.get("path", "")
        kept = next((limit for prefix, limit in settings.IN_MEMORY_BODIES.items() if path.startswith(prefix)), 0)
        token = _body_kept_in_memory.set(kept)
        scope_token = self.scope_of_request.set(scope)
        try:
            return await super().handle(scope, receive, send)
        finally:
            self.scope_of_request.reset(scope_token)
            _body_kept_in_memory.reset(token)

    async def read_body(self, receive):
        """Django's spools a body past FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB) to a temporary file and the
        view reads it back: for a replication batch (up to 24 MiB, read whole by its view) that was a
        fifth of the upload's CPU. Under settings.IN_MEMORY_BODIES' paths the body is kept in memory
        instead, up to the bytes named there; the rest is read and dropped, and the view, whose own
        limit is lower, refuses the body as it would have."""
        kept = _body_kept_in_memory.get()
        if not kept:
            return await super().read_body(receive)
        pooled = await _read_into_kept_buffer(self.scope_of_request.get() or {}, receive, kept)
        if pooled is not None:
            return pooled
        parts, held = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestAborted()
            chunk = message.get("body", b"")
            if held < kept and chunk:
                parts.append(chunk[: kept - held])
                held += len(parts[-1])
            if not message.get("more_body", False):
                return io.BytesIO(b"".join(parts))


# How much of the current request's body SyncChainASGIHandler keeps in memory (0: as Django does).
_body_kept_in_memory: ContextVar[int] = ContextVar("body_kept_in_memory", default=0)

# Replication batches (application/octet-stream, megabytes each) are copied, as they arrive, into one of
# a few kept buffers instead of being joined into a new bytes at the end: the join of a 7 MiB body cost
# about as much CPU as uvicorn's own receiving of it, most of it the page faults of new memory.
POOLED_BODY_MIN_BYTES = 1024 * 1024
POOLED_BODIES_KEPT = 3
_idle_body_buffers: list[bytearray] = []
_idle_body_buffers_lock = threading.Lock()


class PooledBody:
    """A request body held in a kept buffer: read() returns memoryviews of it (the batch view takes
    them as they are). close(), which Django calls once the request is done, hands the buffer back."""

    def __init__(self, buffer: bytearray, length: int):
        self._buffer, self._view, self._position = buffer, memoryview(buffer)[:length], 0

    def read(self, size: int | None = -1) -> memoryview:
        if self._view is None:
            raise ValueError("I/O operation on a closed request body")
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._position + size)
        data, self._position = self._view[self._position : end], end
        return data

    def close(self) -> None:
        if self._view is None:
            return
        self._view.release()  # the views read() returned stay valid until they are dropped
        self._view, buffer, self._buffer = None, self._buffer, None
        with _idle_body_buffers_lock:
            if len(_idle_body_buffers) < POOLED_BODIES_KEPT:
                _idle_body_buffers.append(buffer)


def _unviewed(buffer: bytearray) -> bool:
    """Whether nothing views the buffer any more (a bytearray something views cannot change size).
    Django closes the body while its request still holds the views the view read; and a view thread
    can outlive its request (the client left, the task was cancelled) and still read them: so a kept
    buffer is written over only once this holds."""
    try:
        buffer.append(0)
        del buffer[-1]
    except BufferError:
        return False
    return True


def _take_body_buffer(length: int, kept: int) -> bytearray:
    """The smallest idle buffer that holds `length` bytes and nothing views; else a new one sized to the
    body (rounded up to a power of two, at most `kept`), not to the bound: a 1 MiB upload then holds
    1 MiB, and several at once hold what their bodies need."""
    with _idle_body_buffers_lock:
        # By position, not list.remove: that compares the buffers' bytes.
        fitting = [
            position
            for position, buffer in enumerate(_idle_body_buffers)
            if len(buffer) >= length and _unviewed(buffer)
        ]
        if fitting:
            return _idle_body_buffers.pop(min(fitting, key=lambda position: len(_idle_body_buffers[position])))
    return bytearray(min(kept, 1 << (length - 1).bit_length()))


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _read_into_kept_buffer(scope: dict, receive, kept: int) -> PooledBody | None:
    """The body as a PooledBody when it is a binary upload of at least POOLED_BODY_MIN_BYTES and at most
    `kept`; None, with nothing received, otherwise."""
    length = _content_length(scope)
    content_type = dict(scope.get("headers") or ()).get(b"content-type", b"")
    if length is None or not POOLED_BODY_MIN_BYTES <= length <= kept or content_type != b"application/octet-stream":
        return None
    buffer = _take_body_buffer(length, kept)
    held = 0
    with memoryview(buffer) as view:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestAborted()
            chunk = message.get("body", b"")
            # The server frames the body by its Content-Length: no more arrives (checked all the same).
            if held + len(chunk) > length:
                raise RequestAborted()
            view[held : held + len(chunk)] = chunk
            held += len(chunk)
            if not message.get("more_body", False):
                break
    return PooledBody(buffer, held)


# Build the Django app first: the websocket routes import models.
django.setup(set_prefix=False)
django_asgi_app = SyncChainASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from jobs.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # The hub serves its own few static files, so one process is a whole deployment.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
