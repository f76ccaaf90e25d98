import io
import os
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

    async def handle(self, scope, receive, send):
        path = scope.get("path", "")
        kept = next((limit for prefix, limit in settings.IN_MEMORY_BODIES.items() if path.startswith(prefix)), 0)
        token = _body_kept_in_memory.set(kept)
        try:
            return await super().handle(scope, receive, send)
        finally:
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
