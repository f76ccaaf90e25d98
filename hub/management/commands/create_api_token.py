from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from hub.models import ApiToken


class Command(BaseCommand):
    help = "Create a personal API token for a user; the token is the last line of output."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="cli", help="A label to tell tokens apart (default: cli).")

    def handle(self, *args, email, name, **options):
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user {email}. Run 'python manage.py seed_demo' or check the address.")
        _, secret = ApiToken.issue(user, name)
        self.stdout.write(f"Token '{name}' for {user.email}. Send it as 'Authorization: Bearer <token>':")
        self.stdout.write(secret)
