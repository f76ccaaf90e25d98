from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def discover_server(server_id: str) -> None:
    from replication.services import server_discover

    server_discover(server_id)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def apply_replication(self, item_id: str) -> None:
    from replication.data_path import replica_apply

    # The task id is the lease owner: a redelivered task takes back its own lease at once.
    replica_apply(item_id, owner=self.request.id or "inline")
