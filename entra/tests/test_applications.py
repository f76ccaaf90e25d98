from datetime import timedelta

import pytest

from entra import services
from entra.models import Application
from hub import clock
from hub.arm.errors import ArmError
from projects import access
from projects.models import DirectoryRole, DirectoryRoleAssignment, RoleAssignment, User

pytestmark = pytest.mark.django_db


def test_an_application_comes_with_a_service_principal_that_holds_roles(demo):
    app = services.create_application(demo["admin"], "migrate-automation")
    principal = app.service_principal
    assert principal.is_service_principal and not principal.has_usable_password()
    assert principal.tenant_id == demo["admin"].tenant_id
    assert not User.objects.people().filter(pk=principal.pk).exists()
    RoleAssignment.objects.create(principal=principal, role_name="Contributor", subscription=demo["contoso"])
    assert access.can(principal, access.WRITE_MIGRATE_PROJECT, demo["contoso"], "rg-migrate")


def test_deleting_the_application_removes_its_principal_and_roles(demo):
    app = services.create_application(demo["admin"], "short-lived")
    RoleAssignment.objects.create(principal=app.service_principal, role_name="Owner", subscription=demo["contoso"])
    services.delete_application(demo["admin"], app)
    assert not Application.objects.filter(pk=app.pk).exists()
    assert not User.objects.filter(pk=app.service_principal_id).exists()
    assert not RoleAssignment.objects.filter(principal_id=app.service_principal_id).exists()


def test_the_app_registrations_setting_gates_who_may_register(demo):
    tenant = demo["admin"].tenant
    tenant.app_registrations_allowed = False
    tenant.save()
    migrator = demo["migrator"]
    DirectoryRoleAssignment.objects.filter(user=migrator).delete()
    with pytest.raises(ArmError):
        services.create_application(migrator, "not-allowed")
    DirectoryRoleAssignment.objects.create(user=migrator, role=DirectoryRole.APPLICATION_DEVELOPER)
    assert services.create_application(migrator, "developer-app").created_by == migrator


def test_a_client_signs_in_only_with_a_live_secret_of_its_own_directory(demo):
    app = services.create_application(demo["admin"], "signs-in")
    secret_row, secret = services.add_client_secret(demo["admin"], app, display_name="ci", days=90)
    assert secret_row.hint == secret[:3] and secret not in secret_row.secret_hash
    tenant_id = demo["admin"].tenant_id
    assert services.authenticate_client(tenant_id, str(app.app_id), secret) == app.service_principal
    with pytest.raises(services.SignInFailed) as wrong:
        services.authenticate_client(tenant_id, str(app.app_id), secret + "x")
    assert (wrong.value.error, wrong.value.aadsts) == ("invalid_client", 7000215)
    with pytest.raises(services.SignInFailed) as elsewhere:
        services.authenticate_client(demo["fabrikam"].tenant_id, str(app.app_id), secret)
    assert elsewhere.value.aadsts == 700016
    with pytest.raises(services.SignInFailed):
        services.authenticate_client(tenant_id, "not-a-guid", secret)
    secret_row.expires_at = clock.now() - timedelta(seconds=1)
    secret_row.save()
    with pytest.raises(services.SignInFailed) as expired:
        services.authenticate_client(tenant_id, str(app.app_id), secret)
    assert expired.value.aadsts == 7000222


def test_only_the_owner_or_a_global_administrator_changes_an_application(demo):
    app = services.create_application(demo["admin"], "owned")
    with pytest.raises(ArmError) as not_owner:
        services.add_client_secret(demo["migrator"], app)
    assert not_owner.value.status == 403
    with pytest.raises(ArmError) as other_tenant:
        services.delete_application(demo["fabrikam"], app)
    assert other_tenant.value.status == 404
    with pytest.raises(ArmError) as lifetime:
        services.add_client_secret(demo["admin"], app, days=3)
    assert lifetime.value.status == 400


def test_arm_refusals_name_a_service_principal_by_its_application_id(demo):
    app = services.create_application(demo["admin"], "reader-app")
    RoleAssignment.objects.create(principal=app.service_principal, role_name="Reader", subscription=demo["contoso"])
    with pytest.raises(access.AccessDenied) as denied:
        access.authorize(app.service_principal, access.WRITE_MIGRATE_PROJECT, demo["contoso"], "rg-migrate")
    assert f"The client '{app.app_id}' with object id '{app.service_principal.object_id}'" in denied.value.message


def test_a_client_secret_never_starts_like_a_command_line_option():
    from entra.models import ClientSecret

    values = [ClientSecret.new_secret() for _ in range(500)]
    assert all(len(value) == 40 and value[0].isalnum() and value[3:6] == "8Q~" for value in values)
