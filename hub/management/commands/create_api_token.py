from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from hub.models import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, MIN_TOKEN_DAYS, ApiToken, token_lifetime_problem


class Command(BaseCommand):
    help = "Create a personal API token for a user; the token is the last line of output."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="cli", help="A label to tell tokens apart (default: cli).")
        parser.add_argument(
            "--days",
            type=int,
            default=DEFAULT_TOKEN_DAYS,
            help=f"How long the token is valid, {MIN_TOKEN_DAYS} to {MAX_TOKEN_DAYS} days "
            f"(default {DEFAULT_TOKEN_DAYS}).",
        )

    def handle(self, *args, email, name, days, **options):
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user {email}. Run 'python manage.py seed_demo' or check the address.")
        problem = token_lifetime_problem(days)
        if problem:
            raise CommandError(f"{problem} Pass --days with a number in that range.")
        token, secret = ApiToken.issue(user, name, days=days)
        self.stdout.write(
            f"Token '{name}' for {user.email}, valid until {token.expires_at:%Y-%m-%d %H:%M} UTC. "
            "Send it as 'Authorization: Bearer <token>':"
        )
        self.stdout.write(secret)
