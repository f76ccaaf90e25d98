"""The embedded Celery worker: a thread in the web process, reading the in-memory broker."""

from __future__ import annotations

import threading
from datetime import timedelta


def start_worker_thread() -> threading.Thread:
    from hub.celery import app
    from jobs.services import jobs_resume_unfinished

    worker = app.WorkController(pool_cls="solo", concurrency=1, hostname="embedded@migratehub", loglevel="WARNING")
    thread = threading.Thread(target=worker.start, name="embedded-celery-worker", daemon=True)
    thread.start()
    # The in-memory broker forgets queued jobs when the process stops: queue them again.
    jobs_resume_unfinished(older_than=timedelta(0), include_started=True)
    return thread
