import socket

from django.core.management.base import BaseCommand, CommandError

from jobs import workers


class Command(BaseCommand):
    help = "Exit 0 if a worker on this host heartbeats (for a container's healthcheck); with --any, a worker anywhere."

    def add_arguments(self, parser):
        parser.add_argument("--any", action="store_true", help="Any worker, not only this host's.")

    def handle(self, *args, **options):
        live = workers.live()
        if not options["any"]:
            live = live.filter(name__startswith=f"{socket.gethostname()}:")
        if not live.exists():
            raise CommandError("No live worker heartbeat" + ("" if options["any"] else " from this host"))
        self.stdout.write("ok")
