from django.core.management.base import BaseCommand, CommandError

from hub import clock


class Command(BaseCommand):
    help = "Show, advance or reset the emulator's clock (key expiry, heartbeat health, RPO read it)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("show", help="Print the emulated time and how far it runs ahead.")
        advance = sub.add_parser("advance", help="Move the clock forward, e.g. 'clock advance 5d'.")
        advance.add_argument("duration", help="e.g. 5d, 12h, 90m, 30s, 1d12h")
        sub.add_parser("reset", help="Back to the wall clock.")

    def handle(self, *args, action, **options):
        if action == "advance":
            try:
                delta = clock.parse_duration(options["duration"])
            except ValueError as error:
                raise CommandError(str(error)) from error
            clock.advance(delta)
        elif action == "reset":
            clock.reset()
        self.stdout.write(f"Emulated time {clock.now().isoformat()} (ahead of real time by {clock.offset()})")
