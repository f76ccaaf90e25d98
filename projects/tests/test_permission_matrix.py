"""Every gated action x every demo user, at the function every portal view and API handler calls.
tests/test_permission_matrix_http.py drives the same table through the API and the portal where the
action exists already. Later issues add their actions to MATRIX."""

import pytest
from django.core.management import call_command

from projects import access, services
from projects.models import Subscription, User

pytestmark = pytest.mark.django_db

USERS = ["admin", "migrator", "viewer", "appdev", "netadmin"]
RG = "rg-migrate"

# action -> (permission or a directory check, resource group or None for the subscription, who may)
MATRIX = {
    "create a resource group": (access.CREATE_RESOURCE_GROUP, None, {"admin", "migrator", "appdev"}),
    "create an Azure Migrate project": (access.WRITE_MIGRATE_PROJECT, RG, {"admin", "migrator", "appdev"}),
    "add tools": (access.REGISTER_TOOL, RG, {"admin", "migrator", "appdev"}),
    "add a role assignment": (access.WRITE_ROLE_ASSIGNMENT, RG, {"admin"}),
    "create a virtual network": (access.WRITE_VIRTUAL_NETWORK, RG, {"admin", "migrator", "appdev"}),
    "create the Key Vault (Create resources)": (access.CREATE_KEY_VAULT, RG, {"admin"}),
    "replicate / test migrate / migrate / stop": (
        access.MANAGE_TARGET_VMS,
        RG,
        {"admin", "migrator", "appdev", "netadmin"},
    ),
    "join the target network": (access.JOIN_TARGET_NETWORK, RG, {"admin", "migrator", "appdev", "netadmin"}),
    "register a replication appliance (app registration)": ("directory:register", None, {"admin"}),
    "register a replication appliance (vault)": (access.REGISTER_APPLIANCE, RG, {"admin", "migrator", "appdev"}),
    "change directory settings": ("directory:admin", None, {"admin"}),
}


@pytest.fixture
def world():
    call_command("seed_demo", verbosity=0)
    return {
        "subscription": Subscription.objects.get(display_name="Contoso Production"),
        "users": {name: User.objects.get(email=f"{name}@contoso.com") for name in USERS},
    }


def allowed(world, user, gate, group) -> bool:
    if gate == "directory:register":
        return access.can_register_applications(user)
    if gate == "directory:admin":
        return access.is_global_administrator(user)
    return access.can(user, gate, world["subscription"], group)


@pytest.mark.parametrize("action", MATRIX)
@pytest.mark.parametrize("name", USERS)
def test_the_matrix(world, action, name):
    gate, group, who = MATRIX[action]
    assert allowed(world, world["users"][name], gate, group) is (name in who)


def test_a_reader_is_refused_every_write(world):
    viewer = world["users"]["viewer"]
    for gate, group, _ in MATRIX.values():
        assert not allowed(world, viewer, gate, group)


def test_the_key_vault_gate_explains_both_ways_to_pass(world):
    with pytest.raises(access.AccessDenied) as denied:
        access.authorize(world["users"]["migrator"], access.CREATE_KEY_VAULT, world["subscription"], RG)
    assert denied.value.portal_message == (
        "You need Owner, or Contributor and User Access Administrator, on resource group rg-migrate to create the "
        "Key Vault. Ask the resource group owner."
    )
    assert "'Microsoft.Authorization/roleAssignments/write'" in denied.value.message, "the action Contributor lacks"


def test_contributor_plus_user_access_administrator_may_create_the_key_vault(world):
    from projects.models import ResourceGroup, RoleAssignment

    migrator = world["users"]["migrator"]
    RoleAssignment.objects.create(
        principal=migrator,
        role_name="User Access Administrator",
        subscription=world["subscription"],
        resource_group=ResourceGroup.objects.get(name=RG),
    )
    assert access.can(migrator, access.CREATE_KEY_VAULT, world["subscription"], RG)


def test_app_registration_follows_the_setting_and_the_roles(world):
    appdev = world["users"]["appdev"]
    assert not access.can_register_applications(appdev)
    services.app_registrations_set(admin=world["users"]["admin"], allowed=True)
    appdev.refresh_from_db()
    assert access.can_register_applications(appdev)
    services.app_registrations_set(admin=world["users"]["admin"], allowed=False)
    appdev.refresh_from_db()
    services.directory_role_assign(admin=world["users"]["admin"], user=appdev, role="Application Developer")
    assert access.can_register_applications(appdev)
    with pytest.raises(access.AccessDenied):
        services.app_registrations_set(admin=appdev, allowed=True)
