"""Access control: role assignments on subscriptions and resource groups (IAM), and the directory's
users, settings and directory roles (Azure AD)."""

from __future__ import annotations

import uuid

from django.db import transaction

from hub import clock
from hub.arm.errors import ArmError
from projects import access
from projects.models import (
    DirectoryRole,
    DirectoryRoleAssignment,
    ResourceGroup,
    RoleAssignment,
    Subscription,
    Tenant,
    User,
)
from projects.roles import BUILTIN_ROLES


def role_definition_for(role_definition_id: str):
    """Accept a full roleDefinitions id or the bare GUID, as ARM does."""
    guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
    role = next((r for r in BUILTIN_ROLES.values() if r.id == guid), None)
    if role is None:
        raise ArmError(
            400,
            "RoleDefinitionDoesNotExist",
            f"The specified role definition with ID '{guid}' does not exist.",
            "properties.roleDefinitionId",
        )
    return role


def role_assignment_create(
    *,
    user,
    subscription: Subscription,
    resource_group: ResourceGroup | None,
    principal: User,
    role_name: str,
    assignment_id: uuid.UUID | None = None,
) -> tuple[RoleAssignment, bool]:
    group_name = resource_group.name if resource_group else None
    access.authorize(user, access.WRITE_ROLE_ASSIGNMENT, subscription, group_name)
    if principal.tenant_id != subscription.tenant_id:
        raise ArmError(
            400,
            "PrincipalNotFound",
            f"Principal {principal.object_id.hex} does not exist in the directory {subscription.tenant_id}.",
            "properties.principalId",
        )
    with transaction.atomic():
        # Names are unique within the tenant, across its subscriptions: serialise on the tenant.
        Tenant.objects.select_for_update().get(pk=subscription.tenant_id)
        existing = RoleAssignment.objects.filter(
            principal=principal, role_name=role_name, subscription=subscription, resource_group=resource_group
        ).first()
        if existing is not None:
            if assignment_id is None or existing.name == assignment_id:
                return existing, False
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
        # Only this tenant's assignments: another tenant's GUID is as unknown here as any other.
        same_name = RoleAssignment.objects.filter(name=assignment_id, subscription__tenant_id=subscription.tenant_id)
        if assignment_id is not None and same_name.exists():
            raise ArmError(
                400,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
        name = assignment_id or uuid.uuid4()
        assignment = RoleAssignment.objects.create(
            name=name,
            principal=principal,
            role_name=role_name,
            subscription=subscription,
            resource_group=resource_group,
            created_by=user,
            created_at=clock.now(),
        )
    access.forget_visible_scopes(principal)
    return assignment, True


def role_assignment_delete(*, user, assignment: RoleAssignment) -> None:
    group_name = assignment.resource_group.name if assignment.resource_group_id else None
    access.authorize(user, access.DELETE_ROLE_ASSIGNMENT, assignment.subscription, group_name)
    RoleAssignment.objects.filter(pk=assignment.pk).delete()
    access.forget_visible_scopes(assignment.principal)


# The directory (Azure AD)


def directory_user_create(*, admin, email: str, display_name: str, password: str) -> User:
    access.authorize_directory_admin(admin, "add users")
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ArmError(409, "Conflict", f"A user with the user name {email} already exists.", "email")
    return User.objects.create_user(email, password, display_name=display_name, tenant=admin.tenant)


def app_registrations_set(*, admin, allowed: bool) -> Tenant:
    access.authorize_directory_admin(admin, "change user settings")
    Tenant.objects.filter(pk=admin.tenant_id).update(app_registrations_allowed=allowed)
    return Tenant.objects.get(pk=admin.tenant_id)


def directory_role_assign(*, admin, user: User, role: str) -> DirectoryRoleAssignment:
    access.authorize_directory_admin(admin, "assign directory roles")
    if user.tenant_id != admin.tenant_id:
        raise ArmError(404, "ResourceNotFound", "No such user in this directory.")
    assignment, _ = DirectoryRoleAssignment.objects.get_or_create(user=user, role=role)
    return assignment


def directory_role_remove(*, admin, assignment: DirectoryRoleAssignment) -> None:
    access.authorize_directory_admin(admin, "remove directory roles")
    if assignment.user_id == admin.pk and assignment.role == DirectoryRole.GLOBAL_ADMINISTRATOR:
        raise ArmError(
            409, "Conflict", "You cannot remove your own Global administrator role. Ask another Global administrator."
        )
    DirectoryRoleAssignment.objects.filter(pk=assignment.pk).delete()
