"""Periodic work that every worker process offers to do but one should do per interval: a round is
claimed for `seconds` by whoever asks first (Redis SET NX EX across processes; in the embedded
topology there is one process, so a clock in memory does). A claimer that dies only delays the next
round until its claim expires."""

from __future__ import annotations

import threading
import time
from functools import cache

import redis
from django.conf import settings

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
