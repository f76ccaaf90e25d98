import pytest
from django.core.management import call_command

from hub.arm.errors import ArmError
from projects import access
from projects.models import ResourceGroup, RoleAssignment, Subscription, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", verbosity=0)
    contoso = Subscription.objects.get(display_name="Contoso Production")
    other = ResourceGroup.objects.create(subscription=contoso, name="rg-other", location="westeurope")
    scoped = User.objects.create_user("scoped@contoso.com", "x" * 12, tenant=contoso.tenant)
    RoleAssignment.objects.create(principal=scoped, role_name="Contributor", subscription=contoso, resource_group=other)
    return {"contoso": contoso, "other": other, "scoped": scoped}


def test_seed_demo_is_idempotent(demo):
    counts = (User.objects.count(), RoleAssignment.objects.count(), ResourceGroup.objects.count())
    call_command("seed_demo", verbosity=0)
    assert (User.objects.count(), RoleAssignment.objects.count(), ResourceGroup.objects.count()) == counts
    assert User.objects.get(email="admin@contoso.com").check_password("migrate-demo")


def test_a_resource_group_role_shows_only_that_group(demo):
    names = set(access.visible_resource_groups(demo["scoped"]).values_list("name", flat=True))
    assert names == {"rg-other"}
    with pytest.raises(ArmError) as missing:
        access.get_resource_group(demo["scoped"], demo["contoso"], "rg-migrate")
    assert missing.value.code == "ResourceGroupNotFound"


def test_roles_are_inherited_from_the_subscription(demo):
    admin = User.objects.get(email="admin@contoso.com")
    assert [role.name for role in access.roles_at(admin, demo["contoso"], "rg-other")] == ["Owner"]
    assert access.can(demo["scoped"], access.WRITE_MIGRATE_PROJECT, demo["contoso"], "RG-OTHER")
    assert not access.can(demo["scoped"], access.WRITE_MIGRATE_PROJECT, demo["contoso"], "rg-migrate")


def test_another_tenant_sees_nothing(demo):
    fabrikam = User.objects.get(email="admin@fabrikam.com")
    with pytest.raises(ArmError) as missing:
        access.get_subscription(fabrikam, demo["contoso"].pk)
    assert (missing.value.status, missing.value.code) == (404, "SubscriptionNotFound")
    assert not access.visible_resource_groups(fabrikam).filter(subscription=demo["contoso"]).exists()


def test_a_refusal_names_principal_action_and_scope(demo):
    viewer = User.objects.get(email="viewer@contoso.com")
    with pytest.raises(access.AccessDenied) as denied:
        access.authorize(viewer, access.WRITE_MIGRATE_PROJECT, demo["contoso"], "rg-migrate")
    assert denied.value.status == 403
    assert "viewer@contoso.com" in denied.value.message
    assert "'Microsoft.Migrate/migrateProjects/write'" in denied.value.message
    assert "/resourcegroups/rg-migrate'" in denied.value.message
    assert denied.value.portal_message == (
        "You need Contributor or Owner on resource group rg-migrate to create an Azure Migrate project. "
        "Ask the resource group owner."
    )


def test_an_inactive_user_loses_access(demo):
    User.objects.filter(email="admin@contoso.com").update(is_active=False)
    admin = User.objects.get(email="admin@contoso.com")
    assert not access.visible_subscriptions(admin).exists()
