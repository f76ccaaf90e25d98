"""/healthz and /readyz: is the process alive, and can it do its work.

/healthz answers from the process alone (no database), for a restart policy. /readyz runs every
registered check: the hub's own (database, broker, channel layer) and those apps add from their
AppConfig.ready (jobs adds a live worker heartbeat), and answers 503 if one fails. Both are public
and say only which check failed and the error's type, never a setting's value or a host's name.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0

_checks: dict[str, Callable[[], None]] = {}


class CheckFailed(Exception):
    """A check's own finding (not an error of the thing checked), with a message safe to show."""


def register_check(name: str, check: Callable[[], None]) -> None:
    """`check()` returns if all is well and raises otherwise."""
    _checks[name] = check


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    if not settings.REDIS_URL:
        return  # the embedded in-memory broker lives in this process
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def _channel_layer() -> None:
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise CheckFailed("No channel layer is configured.")
    if isinstance(layer, InMemoryChannelLayer):
        # In this process, so up if we are; and a receive here would take the embedded layer's
        # receiving loop away from daphne's (hub/channel_layers.py).
        return

    async def round_trip():
        channel = await layer.new_channel("readyz.")
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "readyz.ping", "token": token})
        message = await layer.receive(channel)
        if message.get("token") != token:
            raise CheckFailed("The channel layer returned another message.")

    async def bounded():
        await asyncio.wait_for(round_trip(), CHECK_TIMEOUT_SECONDS)

    async_to_sync(bounded)()


register_check("database", _database)
register_check("broker", _broker)
register_check("channelLayer", _channel_layer)


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    results = {}
    for name, check in _checks.items():
        try:
            check()
        except CheckFailed as finding:
            results[name] = {"status": "fail", "reason": str(finding)}
        except Exception as error:
            logger.warning("Readiness check %s failed: %s", name, error.__class__.__name__)
            results[name] = {"status": "fail", "reason": error.__class__.__name__}
        else:
            results[name] = {"status": "ok"}
    ready = all(result["status"] == "ok" for result in results.values())
    return JsonResponse({"status": "ok" if ready else "fail", "checks": results}, status=200 if ready else 503)
