"""Serve the hub: uvicorn for HTTP, HTTPS and websockets (jobs.webserver), plus the Celery worker.

HTTPS on --https-port (HTTPS_PORT, default 8443; 0 turns it off) beside plain http on --port, with the
certificate TLS_CERT_FILE/TLS_KEY_FILE name or, without them, the hub's local authority (hub/tls.py).

Embedded (no REDIS_URL): one web process, the worker a thread in it, sharing the in-memory broker and
channel layer. With REDIS_URL: --web-processes web processes (one per core by default) under a
supervisor, and the worker a child process, started again whenever it dies (jobs/worker_process.py),
as docker-compose.yml's restart policy does for its worker service.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the portal, the ARM API and the websockets, with a Celery worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--https-port",
            type=int,
            default=settings.HTTPS_PORT,
            help="HTTPS beside plain http (default: HTTPS_PORT, else 8443); 0 serves no HTTPS.",
        )
        parser.add_argument("--no-worker", action="store_true", help="Serve only; run workers yourself.")
        parser.add_argument(
            "--web-processes",
            type=int,
            default=int(os.environ["WEB_PROCESSES"]) if os.environ.get("WEB_PROCESSES", "").isdecimal() else None,
            help="Web processes with REDIS_URL (default: WEB_PROCESSES, else one per core); the embedded hub "
            "always has one.",
        )

    def handle(self, *args, host, port, https_port, no_worker, web_processes, **options):
        from hub import tls
        from jobs import webserver

        if not 0 <= https_port <= 65535 or https_port == port:
            raise CommandError(f"--https-port must be a free port other than --port ({port}), or 0 for no HTTPS.")
        try:
            processes = webserver.web_processes(web_processes)
        except ValueError as error:
            raise CommandError(str(error)) from error
        certificate = None
        if https_port:
            try:
                certificate = tls.configured_certificate(
                    tls_dir=settings.TLS_DIR,
                    names=tls.hostnames(",".join(settings.HUB_HOSTNAMES)),
                    cert_file=settings.TLS_CERT_FILE,
                    key_file=settings.TLS_KEY_FILE,
                )
            except tls.TlsSetupError as error:
                raise CommandError(str(error)) from error
        worker = None
        if not no_worker:
            if settings.EMBEDDED:
                from jobs.embedded import start_worker_thread

                start_worker_thread()
            else:
                from jobs.worker_process import SupervisedWorker

                worker = SupervisedWorker()  # restarted when it dies (jobs/worker_process.py)
                worker.start()
        mode = (
            "embedded (SQLite, in-process worker)"
            if settings.EMBEDDED
            else f"PostgreSQL + Redis, {processes} web process(es), separate worker"
        )
        self.stdout.write(f"Migrate Hub on http://{host}:{port}/  [{mode}]")
        if certificate is not None:
            self.stdout.write(f"HTTPS on https://{host}:{https_port}/")
            if certificate.ca_path is not None:  # what a client must trust (README "HTTPS")
                self.stdout.write(
                    f"Its certificate authority: {certificate.ca_path} "
                    f"(REQUESTS_CA_BUNDLE={certificate.ca_path} for Python tools and az)"
                )
        if settings.EMBEDDED:  # the demo on a laptop: say how to sign in (never on a page)
            self.stdout.write(f"Sign in as admin@contoso.com with password '{settings.DEMO_PASSWORD}'.")
        try:
            webserver.serve(host=host, port=port, processes=processes, https_port=https_port, certificate=certificate)
        finally:
            if worker is not None:
                worker.stop()
