"""manage.py create_service_principal: the JSON of `az ad sp create-for-rbac`, all or nothing."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from entra.models import Application
from projects.models import RoleAssignment


def run(*args) -> dict:
    out = io.StringIO()
    call_command("create_service_principal", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def test_it_prints_what_az_prints_and_the_secret_signs_in(demo):
    scope = f"/subscriptions/{demo['contoso'].pk}/resourceGroups/rg-migrate"
    result = run("automation", "--role", "Contributor", "--scopes", scope)
    assert list(result) == ["appId", "displayName", "password", "tenant"]
    assert result["tenant"] == str(demo["admin"].tenant_id) and result["displayName"] == "automation"
    application = Application.objects.get(app_id=result["appId"])
    assert application.created_by == demo["admin"]  # the directory's first Global administrator
    assignment = RoleAssignment.objects.get(principal=application.service_principal)
    assert (assignment.role_name, assignment.resource_group.name) == ("Contributor", "rg-migrate")
    from entra import services

    assert services.authenticate_client(demo["admin"].tenant_id, result["appId"], result["password"])


def test_it_acts_as_the_named_user(demo):
    result = run(
        "as-admin", "--role", "reader", "--scopes", f"/subscriptions/{demo['contoso'].pk}", "--as", "admin@contoso.com"
    )
    assert Application.objects.get(app_id=result["appId"]).created_by == demo["admin"]


@pytest.mark.parametrize(
    "args",
    [
        ["--role", "Superuser", "--scopes", "/subscriptions/{sub}"],
        ["--role", "Contributor", "--scopes", "/subscriptions/{sub}/resourceGroups/no-such-group"],
        ["--role", "Contributor", "--scopes", "/subscriptions/{sub}", "/subscriptions/not-a-sub"],
        ["--role", "Contributor", "--scopes", "/tenants/x"],
        ["--role", "Contributor", "--scopes", "/subscriptions/{sub}", "--as", "nobody@contoso.com"],
        # A Contributor may not assign roles: refused, and the application goes too.
        ["--role", "Contributor", "--scopes", "/subscriptions/{sub}", "--as", "migrator@contoso.com"],
    ],
)
def test_a_refusal_leaves_nothing_behind(demo, args):
    args = [a.replace("{sub}", str(demo["contoso"].pk)) for a in args]
    with pytest.raises(CommandError) as error:
        run("half-made", *args)
    assert "Nothing was created" in str(error.value) or "No user" in str(error.value) or "Scope" in str(error.value)
    assert not Application.objects.filter(display_name="half-made").exists()
