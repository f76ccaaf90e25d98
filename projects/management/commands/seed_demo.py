"""Load the demo world. Idempotent: running it again changes nothing that already exists, and resets
demo passwords to DEMO_PASSWORD."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from projects.models import (
    AvailabilitySet,
    DirectoryRole,
    DirectoryRoleAssignment,
    ResourceGroup,
    RoleAssignment,
    Subnet,
    Subscription,
    Tenant,
    User,
    VirtualNetwork,
)
from projects.roles import CONTRIBUTOR, OWNER, READER, VIRTUAL_MACHINE_CONTRIBUTOR

CONTOSO_SUBSCRIPTION = uuid.UUID("11111111-1111-1111-1111-111111111111")
FABRIKAM_SUBSCRIPTION = uuid.UUID("22222222-2222-2222-2222-222222222222")

EMULATOR_OPERATOR = "admin@contoso.com"

TENANTS = [
    {
        "name": "Contoso",
        "domain": "contoso.onmicrosoft.com",
        "subscription": (CONTOSO_SUBSCRIPTION, "Contoso Production"),
        # Users may not register applications until a Global administrator allows it: registering a
        # replication appliance then fails for appdev, which is the tutorial's lesson.
        "app_registrations_allowed": False,
        "resource_groups": [("rg-migrate", "westeurope")],
        # (email, display name, role, resource group scope or None for the subscription, directory roles)
        "users": [
            ("admin@contoso.com", "Contoso Admin", OWNER, None, [DirectoryRole.GLOBAL_ADMINISTRATOR]),
            ("migrator@contoso.com", "Contoso Migration Engineer", CONTRIBUTOR, None, []),
            ("viewer@contoso.com", "Contoso Viewer", READER, None, []),
            ("appdev@contoso.com", "Contoso App Developer", CONTRIBUTOR, None, []),
            ("netadmin@contoso.com", "Contoso Network Admin", VIRTUAL_MACHINE_CONTRIBUTOR, "rg-migrate", []),
        ],
        "networks": [
            ("rg-migrate", "vnet-prod", "westeurope", "10.10.0.0/16", [("default", "10.10.1.0/24")], "production"),
            ("rg-migrate", "vnet-test", "westeurope", "10.20.0.0/16", [("test", "10.20.1.0/24")], "test"),
        ],
        # Replicate > Compute offers the target resource group's sets in the target region.
        "availability_sets": [("rg-migrate", "avset-app", "westeurope")],
    },
    {
        "name": "Fabrikam",
        "domain": "fabrikam.onmicrosoft.com",
        "subscription": (FABRIKAM_SUBSCRIPTION, "Fabrikam Production"),
        "app_registrations_allowed": True,
        "resource_groups": [("rg-fabrikam", "eastus")],
        "users": [("admin@fabrikam.com", "Fabrikam Admin", OWNER, None, [DirectoryRole.GLOBAL_ADMINISTRATOR])],
        "networks": [
            ("rg-fabrikam", "vnet-fabrikam", "eastus", "10.50.0.0/16", [("default", "10.50.0.0/24")], "production")
        ],
    },
]


class Command(BaseCommand):
    help = "Create the demo tenants, subscriptions, users and role assignments (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        for spec in TENANTS:
            tenant, _ = Tenant.objects.get_or_create(
                domain=spec["domain"],
                defaults={"display_name": spec["name"], "app_registrations_allowed": spec["app_registrations_allowed"]},
            )
            sub_id, sub_name = spec["subscription"]
            subscription, _ = Subscription.objects.get_or_create(
                pk=sub_id, defaults={"tenant": tenant, "display_name": sub_name}
            )
            for name, location in spec["resource_groups"]:
                if not ResourceGroup.objects.filter(subscription=subscription, name__iexact=name).exists():
                    ResourceGroup.objects.create(subscription=subscription, name=name, location=location)
            for email, display_name, role, scope, directory_roles in spec["users"]:
                user = User.objects.filter(email=email).first() or User(email=email)
                user.display_name, user.tenant, user.is_active = display_name, tenant, True
                # The demo's emulator operator: may move the shared clock (/emulator/clock).
                user.is_staff = email == EMULATOR_OPERATOR
                user.set_password(settings.DEMO_PASSWORD)
                user.save()
                group = ResourceGroup.objects.get(subscription=subscription, name=scope) if scope else None
                RoleAssignment.objects.get_or_create(
                    principal=user, role_name=role, subscription=subscription, resource_group=group
                )
                for directory_role in directory_roles:
                    DirectoryRoleAssignment.objects.get_or_create(user=user, role=directory_role)
            for group_name, name, location, space, subnets, environment in spec["networks"]:
                group = ResourceGroup.objects.get(subscription=subscription, name=group_name)
                if VirtualNetwork.objects.filter(resource_group=group, name__iexact=name).exists():
                    continue
                network = VirtualNetwork.objects.create(
                    resource_group=group,
                    name=name,
                    location=location,
                    address_prefixes=[space],
                    tags={"environment": environment},
                )
                for subnet_name, prefix in subnets:
                    Subnet.objects.create(virtual_network=network, name=subnet_name, address_prefix=prefix)
            for group_name, name, location in spec.get("availability_sets", []):
                group = ResourceGroup.objects.get(subscription=subscription, name=group_name)
                if not AvailabilitySet.objects.filter(resource_group=group, name__iexact=name).exists():
                    AvailabilitySet.objects.create(resource_group=group, name=name, location=location)
        self.stdout.write(self.style.SUCCESS("Demo data ready: tenants Contoso and Fabrikam."))
