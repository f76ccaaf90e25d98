"""Serve the hub: daphne for HTTP and websockets, plus the Celery worker.

Embedded (no REDIS_URL): the worker is a thread in this process, sharing the in-memory broker and
channel layer. With REDIS_URL: the worker is a child process, started again whenever it dies
(jobs/worker_process.py), as docker-compose.yml's restart policy does for its worker service.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the portal, the ARM API and the websockets, with a Celery worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Serve only; run workers yourself.")

    def handle(self, *args, host, port, no_worker, **options):
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from hub.asgi import application

        worker = None
        if not no_worker:
            if settings.EMBEDDED:
                from jobs.embedded import start_worker_thread

                start_worker_thread()
            else:
                from jobs.worker_process import SupervisedWorker

                worker = SupervisedWorker()  # restarted when it dies (jobs/worker_process.py)
                worker.start()
        mode = "embedded (SQLite, in-process worker)" if settings.EMBEDDED else "PostgreSQL + Redis, separate worker"
        self.stdout.write(f"Migrate Hub on http://{host}:{port}/  [{mode}]")
        if settings.DEBUG:
            self.stdout.write(f"Sign in as admin@contoso.com with password '{settings.DEMO_PASSWORD}'.")
        try:
            Server(
                application=application,
                endpoints=build_endpoint_description_strings(host=host, port=port),
                signal_handlers=True,
                verbosity=0,
            ).run()
        finally:
            if worker is not None:
                worker.stop()
