from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs and notifications"

    def ready(self):
        from celery import signals

        from hub import health
        from jobs import periodic, probe, workers  # noqa: F401 (probe registers its scenario)

        # Every worker of the hub (a `celery worker`, serve's child, the embedded thread) runs the
        # periodic work; a web process builds no worker, so these never fire there.
        signals.worker_init.connect(periodic.on_worker_init, weak=False, dispatch_uid="jobs.periodic.start")
        signals.worker_shutdown.connect(periodic.on_worker_shutdown, weak=False, dispatch_uid="jobs.periodic.stop")
        signals.worker_process_init.connect(
            periodic.on_worker_process_init, weak=False, dispatch_uid="jobs.periodic.forked"
        )
        # Ready only if some worker heartbeats: a hub whose jobs would never run is not ready.
        health.register_check("worker", workers.require_live_worker)
        # Snapshots pause claiming and wait for running jobs; a restore queues unfinished jobs again.
        from jobs import snapshot_hooks

        snapshot_hooks.register()
