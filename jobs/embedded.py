"""The embedded Celery worker: a thread in the web process, reading the in-memory broker."""

from __future__ import annotations

import threading

from django.utils import timezone


def start_worker_thread() -> threading.Thread:
    from hub.celery import app
    from jobs.models import WorkerHeartbeat
    from jobs.supervision import jobs_requeue_unclaimed
    from jobs.workers import current_name

    # Building the worker sends worker_init, which starts the periodic work (jobs.periodic) here too.
    worker = app.WorkController(pool_cls="solo", concurrency=1, hostname="embedded@migratehub", loglevel="WARNING")
    thread = threading.Thread(target=worker.start, name="embedded-celery-worker", daemon=True)
    thread.start()
    # The embedded hub is one process: any other worker row is a previous run's, gone for sure, so its
    # claims are abandoned now (the supervision resumes them on its first round). And the in-memory
    # broker forgot what it held when that process stopped: queue it again.
    WorkerHeartbeat.objects.exclude(name=current_name()).delete()
    jobs_requeue_unclaimed(queued_before=timezone.now())
    return thread
