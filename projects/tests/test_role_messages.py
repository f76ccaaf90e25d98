"""Refusals name the roles the role definitions say grant a permission, and Add tools warns a
Contributor, before the project exists, that Create resources will need more."""

import pytest
from django.core.management import call_command

from projects import access

pytestmark = pytest.mark.django_db
CONTOSO = "11111111-1111-1111-1111-111111111111"


def test_the_roles_a_permission_needs_come_from_the_role_definitions():
    assert access.REPLICATE_SERVERS.need == "Contributor or Owner"
    assert access.TEST_MIGRATE.need == "Contributor or Owner"
    assert access.MANAGE_TARGET_VMS.need == "Virtual Machine Contributor, Contributor or Owner"
    assert access.WRITE_ROLE_ASSIGNMENT.need == "Owner or User Access Administrator"
    assert access.CREATE_KEY_VAULT.need == "Owner, or Contributor and User Access Administrator,"


def add_tools(client, resource_group: str, **extra):
    data = {
        "action": "next",
        "step": "0",
        "subscription": CONTOSO,
        "resource_group": resource_group,
        "project_name": "proj-dead-end",
        "location": "westeurope",
        **extra,
    }
    return client.post("/migrate/add-tools/", data).content.decode()


@pytest.fixture
def seeded():
    call_command("seed_demo", verbosity=0)


def test_add_tools_warns_a_contributor_who_can_finish_the_project(client, seeded):
    client.login(email="migrator@contoso.com", password="migrate-demo")
    page = add_tools(client, "__new__", new_resource_group="rg-dead-end")
    assert 'id="finish-warning"' in page
    assert (
        "You can create this project, but not finish setting it up: Discover &gt; Create resources needs Owner, or "
        "Contributor and User Access Administrator, on resource group rg-dead-end to create the Key Vault"
    ) in page
    assert "Who can finish it: admin@contoso.com." in page


def test_add_tools_does_not_warn_an_owner(client, seeded):
    client.login(email="admin@contoso.com", password="migrate-demo")
    page = add_tools(client, "__new__", new_resource_group="rg-owned")
    assert "Select migration tool" in page and 'id="finish-warning"' not in page


def test_who_can_finish_names_people_not_service_principals(client, seeded):
    from projects.models import PrincipalType, RoleAssignment, Subscription, User

    admin = User.objects.get(email="admin@contoso.com")
    robot = User.objects.create_user(
        email="00000000-0000-0000-0000-0000000000aa@serviceprincipals.contoso.onmicrosoft.com",
        tenant=admin.tenant,
        principal_type=PrincipalType.SERVICE_PRINCIPAL,
    )
    RoleAssignment.objects.create(principal=robot, role_name="Owner", subscription=Subscription.objects.get(pk=CONTOSO))
    client.login(email="migrator@contoso.com", password="migrate-demo")
    page = add_tools(client, "__new__", new_resource_group="rg-dead-end")
    assert "Who can finish it: admin@contoso.com." in page and "serviceprincipals" not in page
