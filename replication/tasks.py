"""The replication app's Celery tasks: thin shells over its services (which enqueue them by name)."""

import logging
import os
import threading

from celery import shared_task, signals
from django.db import close_old_connections

from replication.apply_lease import LINGER_SECONDS, lease_received
from replication.data_path import replica_apply
from replication.services import DISCOVER_SERVER_TASK, server_discover
from replication.uploads import APPLY_REPLICATION_TASK

logger = logging.getLogger(__name__)


@shared_task(name=DISCOVER_SERVER_TASK, acks_late=True, reject_on_worker_lost=True)
def discover_server(server_id: str) -> None:
    server_discover(server_id)


@shared_task(name=APPLY_REPLICATION_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
def apply_replication(self, item_id: str) -> None:
    # The owner names this delivery's process and thread (docker-compose's worker runs a thread pool):
    # a second delivery of the same task (after a visibility timeout) must not share the lease with a
    # first one that is still applying.
    replica_apply(
        item_id,
        owner=f"{self.request.id or 'inline'}@{os.getpid()}.{threading.get_ident()}",
        linger_seconds=LINGER_SECONDS,
    )


@signals.task_received.connect(weak=False, dispatch_uid="replication.apply_received")
def apply_received(sender=None, request=None, **kwargs) -> None:
    """The worker's consumer took an apply task off the broker: from here the item's queued mark need
    only outlast the task's start (apply_lease.lease_received). The broker keeps a task whose worker was
    killed unacknowledged until its visibility timeout; without this, the mark kept the item waiting
    just as long."""
    if request is None or request.name != APPLY_REPLICATION_TASK or not request.args:
        return
    if getattr(request, "eta", None):
        # A task sent with a countdown waits in the worker until then, not milliseconds: the mark stays.
        return
    try:
        lease_received(request.args[0])
    except Exception as error:
        # The consumer must go on receiving; the long mark still lapses, only later.
        logger.warning("Apply of item %s received; could not shorten its queued mark (%s)", request.args[0], error)
    finally:
        # The consumer's thread is no task's and no request's, so nothing else hands its connection
        # back to the pool, or drops one the database closed meanwhile.
        close_old_connections()
