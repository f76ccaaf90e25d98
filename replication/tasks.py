from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def discover_server(server_id: str) -> None:
    from replication.services import server_discover

    server_discover(server_id)
