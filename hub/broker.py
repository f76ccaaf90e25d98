"""The Redis broker transport, mended so a worker survives Redis going away with tasks in flight.

When a worker loses its broker connection, Celery closes the connection's transport (its `client`
becomes None) and then closes the old channel. Closing a channel that still holds unacknowledged
messages (acks_late tasks running, or prefetched) first tries to hand them back to Redis, which
builds a new Redis client from the transport's `client`, and kombu 5.7 fails there with
AttributeError("'NoneType' object has no attribute 'hostname'"). Celery ignores connection errors
at that point but not an AttributeError, so the worker stopped with "Unrecoverable error".

Here the channel says what really happened, a connection error: the close carries on, the worker
reconnects, and the unacknowledged messages come back by the visibility timeout (or, for jobs,
sooner: jobs.supervision). The same holds for a task thread acknowledging on the dead channel.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from redis import exceptions as redis_exceptions


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise redis_exceptions.ConnectionError("The broker connection was closed; reconnecting.")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
