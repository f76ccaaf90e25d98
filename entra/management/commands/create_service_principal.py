"""`az ad sp create-for-rbac` without az: register an application, give it a secret and a role, and
print the same JSON the Azure CLI prints, so scripts written for one read the other."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from entra import services
from hub.arm.errors import ArmError
from hub.ids import parse_uuid
from projects.models import DirectoryRole, DirectoryRoleAssignment, Subscription, User


class Command(BaseCommand):
    help = (
        "Create an application with a service principal, a client secret valid one year and a role at each "
        "scope; print {appId, displayName, password, tenant} as 'az ad sp create-for-rbac' does."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The application's display name.")
        parser.add_argument("--role", required=True, help="A built-in role, e.g. Contributor.")
        parser.add_argument(
            "--scopes",
            nargs="+",
            required=True,
            help="Where the role applies: /subscriptions/ID or /subscriptions/ID/resourceGroups/NAME (one or more).",
        )
        parser.add_argument(
            "--as",
            dest="actor_email",
            help="Act as this user (default: the first Global administrator of the scope's directory).",
        )

    def handle(self, *args, name, role, scopes, actor_email, **options):
        actor = self._actor(actor_email, scopes[0])
        try:
            application, secret = services.create_service_principal_for_rbac(actor, name, role_name=role, scopes=scopes)
        except ArmError as error:
            raise CommandError(f"{error.portal_message} Nothing was created.") from error
        for scope in scopes:
            self.stderr.write(f"Created '{role}' role assignment under scope '{scope}'")
        self.stderr.write(
            "The output includes credentials that you must protect. Keep them out of source control; the "
            "password is not shown again."
        )
        result = {
            "appId": str(application.app_id),
            "displayName": application.display_name,
            "password": secret,
            "tenant": str(application.tenant_id),
        }
        # As the Azure CLI formats JSON output: two-space indent, keys sorted.
        self.stdout.write(json.dumps(result, indent=2, sort_keys=True))

    def _actor(self, email: str | None, scope: str) -> User:
        if email:
            actor = User.objects.people().filter(email__iexact=email, is_active=True).first()
            if actor is None:
                raise CommandError(f"No user {email}. Check the address, or leave out --as.")
            return actor
        parts = scope.strip("/").split("/")
        subscription_id = parse_uuid(parts[1]) if len(parts) >= 2 and parts[0].lower() == "subscriptions" else None
        subscription = Subscription.objects.filter(pk=subscription_id).first() if subscription_id else None
        if subscription is None:
            raise CommandError(
                f"Scope '{scope}' names no subscription of the hub: use /subscriptions/ID or "
                "/subscriptions/ID/resourceGroups/NAME with the id of an existing subscription."
            )
        admin = (
            DirectoryRoleAssignment.objects.filter(
                role=DirectoryRole.GLOBAL_ADMINISTRATOR, user__tenant_id=subscription.tenant_id, user__is_active=True
            )
            .select_related("user")
            .order_by("pk")
            .first()
        )
        if admin is None:
            raise CommandError(
                f"The directory of subscription {subscription.pk} has no Global administrator to act as. "
                "Name a user with --as EMAIL."
            )
        return admin.user
