"""The replication app's Celery tasks: thin shells over its services (which enqueue them by name)."""

import os
import threading

from celery import shared_task

from replication.apply_lease import LINGER_SECONDS
from replication.data_path import replica_apply
from replication.services import DISCOVER_SERVER_TASK, server_discover
from replication.uploads import APPLY_REPLICATION_TASK


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
