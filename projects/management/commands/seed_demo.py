"""Load the demo world. Idempotent: running it again changes nothing that already exists, and resets
demo passwords to DEMO_PASSWORD."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from projects.models import ResourceGroup, RoleAssignment, Subscription, Tenant, User
from projects.roles import CONTRIBUTOR, OWNER, READER

CONTOSO_SUBSCRIPTION = uuid.UUID("11111111-1111-1111-1111-111111111111")
FABRIKAM_SUBSCRIPTION = uuid.UUID("22222222-2222-2222-2222-222222222222")

TENANTS = [
    {
        "name": "Contoso",
        "domain": "contoso.onmicrosoft.com",
        "subscription": (CONTOSO_SUBSCRIPTION, "Contoso Production"),
        "resource_groups": [("rg-migrate", "westeurope")],
        "users": [
            ("admin@contoso.com", "Contoso Admin", OWNER),
            ("migrator@contoso.com", "Contoso Migration Engineer", CONTRIBUTOR),
            ("viewer@contoso.com", "Contoso Viewer", READER),
        ],
    },
    {
        "name": "Fabrikam",
        "domain": "fabrikam.onmicrosoft.com",
        "subscription": (FABRIKAM_SUBSCRIPTION, "Fabrikam Production"),
        "resource_groups": [("rg-fabrikam", "eastus")],
        "users": [("admin@fabrikam.com", "Fabrikam Admin", OWNER)],
    },
]


class Command(BaseCommand):
    help = "Create the demo tenants, subscriptions, users and role assignments (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        for spec in TENANTS:
            tenant, _ = Tenant.objects.get_or_create(domain=spec["domain"], defaults={"display_name": spec["name"]})
            sub_id, sub_name = spec["subscription"]
            subscription, _ = Subscription.objects.get_or_create(
                pk=sub_id, defaults={"tenant": tenant, "display_name": sub_name}
            )
            for name, location in spec["resource_groups"]:
                if not ResourceGroup.objects.filter(subscription=subscription, name__iexact=name).exists():
                    ResourceGroup.objects.create(subscription=subscription, name=name, location=location)
            for email, display_name, role in spec["users"]:
                user = User.objects.filter(email=email).first() or User(email=email)
                user.display_name, user.tenant, user.is_active = display_name, tenant, True
                user.set_password(settings.DEMO_PASSWORD)
                user.save()
                RoleAssignment.objects.get_or_create(
                    principal=user, role_name=role, subscription=subscription, resource_group=None
                )
        self.stdout.write(self.style.SUCCESS("Demo data ready: tenants Contoso and Fabrikam."))
