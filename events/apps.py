from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events out: Event Grid webhook subscriptions and their delivery log"

    def ready(self):
        from celery import signals

        from events import deletion, delivery, publishing
        from jobs.event_sources import event_published

        # Sources (jobs, replication) publish without naming this app; their events become rows here.
        event_published.connect(publishing.on_event_published, dispatch_uid="events.publishing")
        # Its share of deleting a project or a resource group.
        deletion.register()
        # Every worker process of the hub delivers, beside its Celery pool, never in it.
        signals.worker_init.connect(delivery.on_worker_init, weak=False, dispatch_uid="events.delivery.start")
        signals.worker_shutdown.connect(delivery.on_worker_shutdown, weak=False, dispatch_uid="events.delivery.stop")
