import os

import django
from asgiref.sync import sync_to_async
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
