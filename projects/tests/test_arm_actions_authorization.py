"""Authorization of ARM actions and tenant-scoped identifiers, through the URL conf and DRF's client.

Every POST route of the API is found by walking the URL patterns, so a new action cannot slip past:
its view must declare the permission it needs, and a Reader (`*/read` only) is refused it with 403
`AuthorizationFailed`. A role assignment GUID another tenant uses is as unknown as any other."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from hub.arm.views import ArmView
from hub.models import ApiToken
from projects.models import RoleAssignment, User
from projects.roles import BUILTIN_ROLES, READER

CONTOSO = "11111111-1111-1111-1111-111111111111"
FABRIKAM = "22222222-2222-2222-2222-222222222222"
OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER_ROLE = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
# What each URL keyword stands for in a Reader's request: real scopes, made-up resource names (the
# permission is checked at the resource group, before any resource below it is looked up).
ROUTE_VALUES = {"subscription_id": CONTOSO, "resource_group_name": "rg-migrate", "action": "start"}


def arm_routes():
    """(route, view class, default keywords) of every ARM view in the URL conf."""

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view_class = getattr(pattern.callback, "view_class", None)
                if view_class is not None and issubclass(view_class, ArmView):
                    yield prefix + str(pattern.pattern), view_class, pattern.default_args

    return list(walk(get_resolver().url_patterns, "/"))


def post_permission(view, defaults):
    permission = view.permissions.get("post")
    return permission({**ROUTE_VALUES, **defaults}) if callable(permission) else permission


def post_routes():
    """The API's POST routes that Azure RBAC guards as actions. Left out: the emulator's own controls
    (/emulator/...), which take an emulator administrator instead (faults/tests/test_inject_and_clear.py),
    and POSTs that only compute from what the caller may read (the capacity planner), whose declared
    permission is a `/read` action a Reader holds on purpose."""

    def reads_only(view, defaults) -> bool:
        permission = post_permission(view, defaults)
        return bool(permission and permission.actions) and all(a.endswith("/read") for a in permission.actions)

    return [
        (route, view, defaults)
        for route, view, defaults in arm_routes()
        if callable(getattr(view, "post", None))
        and not route.startswith("/emulator/")
        and not reads_only(view, defaults)
    ]


def test_every_post_route_declares_a_permission_a_reader_lacks():
    routes = post_routes()
    assert len(routes) >= 10, "the walk finds the API's actions"
    reader = BUILTIN_ROLES[READER]
    for route, view, defaults in routes:
        if "post" in view.unchecked_methods:
            continue
        permission = post_permission(view, defaults)
        assert permission is not None, f"{route} ({view.__name__}) declares no permission for POST"
        assert permission.actions, route
        assert not any(reader.allows(action) for action in permission.actions), f"a Reader may POST {route}"


def test_a_view_serving_post_without_a_permission_cannot_be_defined():
    with pytest.raises(TypeError, match="declares no permission"):

        class OpenAction(ArmView):  # noqa: F841 (defining it is the test)
            def post(self, request):
                raise AssertionError("never served")


def concrete(route: str, defaults: dict) -> str:
    def value(match):
        name = match.group(1)
        return str(defaults.get(name) or ROUTE_VALUES.get(name) or f"x-{name.replace('_', '-')}")

    return re.sub(r"<(?:\w+:)?(\w+)>", value, route)


@pytest.fixture
def seeded(db):
    call_command("seed_demo", verbosity=0)


def client_of(email: str) -> APIClient:
    _, secret = ApiToken.issue(User.objects.get(email=email), "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_a_reader_gets_403_on_every_action(seeded):
    viewer = client_of("viewer@contoso.com")
    checked = 0
    for route, view, defaults in post_routes():
        if "post" in view.unchecked_methods:
            continue
        path = concrete(route, defaults)
        response = viewer.post(path + "?api-version=2025-01-01", {}, format="json")
        assert response.status_code == 403, (path, response.status_code, response.content[:300])
        error = response.json()["error"]
        assert error["code"] == "AuthorizationFailed", path
        assert "viewer@contoso.com" in error["message"] and "/action'" in error["message"], path
        checked += 1
    assert checked >= 9


def test_a_reader_cannot_refresh_a_project_summary_and_a_contributor_can(seeded):
    project = (
        f"/subscriptions/{CONTOSO}/resourceGroups/rg-migrate/providers/Microsoft.Migrate/migrateProjects/p-refresh"
    )
    admin = client_of("admin@contoso.com")
    assert (
        admin.put(f"{project}?api-version=2018-09-01-preview", {"location": "westeurope"}, format="json").status_code
        == 201
    )
    refused = client_of("viewer@contoso.com").post(f"{project}/refreshSummary?api-version=2018-09-01-preview")
    assert refused.status_code == 403
    assert "'Microsoft.Migrate/migrateProjects/refreshSummary/action'" in refused.json()["error"]["message"]
    allowed = client_of("migrator@contoso.com").post(f"{project}/refreshSummary?api-version=2018-09-01-preview")
    assert allowed.status_code == 200 and allowed.json() == {"isRefreshed": True}


def test_a_reader_still_reads(seeded):
    groups = client_of("viewer@contoso.com").get(f"/subscriptions/{CONTOSO}/resourcegroups?api-version=2025-01-01")
    assert groups.status_code == 200 and groups.json()["value"]


def assignment_body(subscription: str, role: str, principal_email: str) -> dict:
    principal = User.objects.get(email=principal_email).object_id
    definition = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    return {"properties": {"roleDefinitionId": definition, "principalId": str(principal)}}


def assignment_url(subscription: str, name: str, group: str | None = None) -> str:
    scope = f"/subscriptions/{subscription}" + (f"/resourceGroups/{group}" if group else "")
    return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"


def test_another_tenants_assignment_guid_is_unknown(seeded):
    guid = str(uuid.uuid4())
    fabrikam = client_of("admin@fabrikam.com")
    theirs = fabrikam.put(
        assignment_url(FABRIKAM, guid), assignment_body(FABRIKAM, READER_ROLE, "admin@fabrikam.com"), format="json"
    )
    # Fabrikam's admin already owns the subscription; a second role makes a new assignment.
    assert theirs.status_code == 201, theirs.content

    contoso = client_of("admin@contoso.com")
    ours = contoso.put(
        assignment_url(CONTOSO, guid, "rg-migrate"),
        assignment_body(CONTOSO, OWNER_ROLE, "viewer@contoso.com"),
        format="json",
    )
    assert ours.status_code == 201, ours.content
    assert ours.json()["name"] == guid
    assert contoso.get(assignment_url(CONTOSO, guid, "rg-migrate")).json()["properties"]["principalId"] == str(
        User.objects.get(email="viewer@contoso.com").object_id
    )
    # Both stand, each in its own tenant, and neither sees the other.
    assert RoleAssignment.objects.filter(name=guid).count() == 2
    assert fabrikam.get(assignment_url(FABRIKAM, guid)).json()["properties"]["principalId"] == str(
        User.objects.get(email="admin@fabrikam.com").object_id
    )
    assert contoso.get(assignment_url(FABRIKAM, guid)).status_code == 404


def test_a_guid_reused_within_the_tenant_is_still_refused(seeded):
    guid = str(uuid.uuid4())
    contoso = client_of("admin@contoso.com")
    body = assignment_body(CONTOSO, READER_ROLE, "appdev@contoso.com")
    assert contoso.put(assignment_url(CONTOSO, guid, "rg-migrate"), body, format="json").status_code == 201
    other_scope = contoso.put(
        assignment_url(CONTOSO, guid), assignment_body(CONTOSO, OWNER_ROLE, "appdev@contoso.com"), format="json"
    )
    assert other_scope.status_code == 400
    assert other_scope.json()["error"]["code"] == "RoleAssignmentUpdateNotPermitted"


def test_another_tenants_user_is_as_unknown_as_no_user(seeded):
    contoso = client_of("admin@contoso.com")
    stranger = contoso.put(
        assignment_url(CONTOSO, str(uuid.uuid4()), "rg-migrate"),
        assignment_body(CONTOSO, READER_ROLE, "admin@fabrikam.com"),
        format="json",
    )
    nobody_id = uuid.uuid4()
    nobody = contoso.put(
        assignment_url(CONTOSO, str(uuid.uuid4()), "rg-migrate"),
        {"properties": {"roleDefinitionId": READER_ROLE, "principalId": str(nobody_id)}},
        format="json",
    )
    assert stranger.status_code == nobody.status_code == 400
    fabrikam_id = User.objects.get(email="admin@fabrikam.com").object_id
    assert stranger.json()["error"]["message"].replace(fabrikam_id.hex, "<id>") == nobody.json()["error"][
        "message"
    ].replace(nobody_id.hex, "<id>")


def test_a_view_declaring_permissions_without_a_scope_cannot_be_defined():
    with pytest.raises(TypeError, match="no scope to check them at"):

        class Unscoped(ArmView):  # noqa: F841 (defining it is the test)
            permissions = {"put": object()}
