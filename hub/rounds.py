"""Periodic work of a hub process's background threads (the worker's heartbeat and periodic rounds,
event delivery's lookout and watcher): `repeat_until_stopped` runs one such loop; `claim_round` lets
work that every worker process offers to do, but one should do per interval, be done once: a round is
claimed for `seconds` by whoever asks first (Redis SET NX EX across processes; in the embedded
topology there is one process, so a clock in memory does). A claimer that dies only delays the next
round until its claim expires."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cache

import redis
from django.conf import settings
from django.db import close_old_connections

_local_due: dict[str, float] = {}
_local_lock = threading.Lock()


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


def claim_round(name: str, seconds: float) -> bool:
    """True for exactly one caller per `seconds` window of the round `name`."""
    if not settings.REDIS_URL:
        with _local_lock:
            now = time.monotonic()
            if _local_due.get(name, 0.0) > now:
                return False
            _local_due[name] = now + seconds
            return True
    # Hubs that share a Redis but not a database (test rigs, side-by-side installs) have rounds of their own.
    key = f"migratehub:round:{settings.DATABASES['default']['NAME']}:{name}"
    return bool(_client().set(key, "1", nx=True, px=max(1, int(seconds * 1000))))


def repeat_until_stopped(
    stop: threading.Event, seconds: Callable[[], float], work: Callable[[], object], failed: str, logger: logging.Logger
) -> None:
    """Run `work()` every `seconds()` until `stop` is set. A failure (the database or the broker away) is
    logged as `failed` and the work tried again next round; the thread's database connection is handed
    back after each round, so a broken one is replaced rather than failing every round after."""
    while not stop.is_set():
        try:
            work()
        except Exception:
            logger.exception(failed)
        finally:
            close_old_connections()
        stop.wait(seconds())
