"""Who may see and do what: Azure RBAC over subscriptions and resource groups.

Everything the portal, the ARM API and the websocket show goes through these functions. Objects
outside what a user may see do not exist for them (404, never 403), so another tenant's ids leak
nothing. Seeing something but lacking a permission is a 403 with Azure's wording.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from hub.arm.errors import ArmError
from projects.models import MigrateProject, ResourceGroup, RoleAssignment, Subscription
from projects.roles import BUILTIN_ROLES, RoleDefinition


@dataclass(frozen=True)
class Permission:
    """A gated action: the Azure action string, and how the portal explains a refusal."""

    action: str
    need: str  # which roles grant it, in words
    purpose: str  # what the user was trying to do


CREATE_RESOURCE_GROUP = Permission(
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Contributor or Owner",
    "create or update a resource group",
)
DELETE_RESOURCE_GROUP = Permission(
    "Microsoft.Resources/subscriptions/resourceGroups/delete",
    "Contributor or Owner",
    "delete a resource group",
)
WRITE_MIGRATE_PROJECT = Permission(
    "Microsoft.Migrate/migrateProjects/write", "Contributor or Owner", "create an Azure Migrate project"
)
DELETE_MIGRATE_PROJECT = Permission(
    "Microsoft.Migrate/migrateProjects/delete", "Contributor or Owner", "delete an Azure Migrate project"
)
REGISTER_TOOL = Permission(
    "Microsoft.Migrate/migrateProjects/registerTool/action", "Contributor or Owner", "add tools to a project"
)


class AccessDenied(ArmError):
    def __init__(self, user, permission: Permission, scope_id: str, scope_label: str):
        super().__init__(
            403,
            "AuthorizationFailed",
            f"The client '{user.email}' with object id '{user.pk}' does not have authorization to perform "
            f"action '{permission.action}' over scope '{scope_id}' or the scope is invalid. If access was "
            "recently granted, please refresh your credentials.",
        )
        self.portal_message = (
            f"You need {permission.need} on {scope_label} to {permission.purpose}. "
            "Ask the subscription owner to assign you a role (Access control (IAM) > Add role assignment)."
        )


def _assignments(user):
    return RoleAssignment.objects.filter(principal=user, principal__is_active=True)


def visible_scopes(user) -> set[tuple[str, str | None]]:
    """(subscription id, None) for subscription-wide roles; (subscription id, lower rg name) else."""
    scopes = set()
    for sub_id, rg_name in _assignments(user).values_list("subscription_id", "resource_group__name"):
        scopes.add((str(sub_id), rg_name.lower() if rg_name else None))
    return scopes


def visibility_q(user, *, subscription_field: str, rg_field: str) -> Q:
    """A filter for rows that belong to a subscription and a resource group (by name)."""
    condition = Q(pk__in=[])
    for sub_id, rg_name in visible_scopes(user):
        if rg_name is None:
            condition |= Q(**{subscription_field: sub_id})
        else:
            condition |= Q(**{subscription_field: sub_id, f"{rg_field}__iexact": rg_name})
    return condition


def visible_subscriptions(user):
    return Subscription.objects.filter(
        role_assignments__principal=user, role_assignments__principal__is_active=True
    ).distinct()


def visible_resource_groups(user):
    return ResourceGroup.objects.filter(
        visibility_q(user, subscription_field="subscription_id", rg_field="name")
    ).select_related("subscription")


def visible_projects(user):
    return MigrateProject.objects.filter(
        visibility_q(user, subscription_field="resource_group__subscription_id", rg_field="resource_group__name")
    ).select_related("resource_group__subscription")


def get_subscription(user, subscription_id) -> Subscription:
    subscription = visible_subscriptions(user).filter(pk=_as_uuid(subscription_id)).first()
    if subscription is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")
    return subscription


def get_resource_group(user, subscription: Subscription, name: str) -> ResourceGroup:
    resource_group = visible_resource_groups(user).filter(subscription=subscription, name__iexact=name).first()
    if resource_group is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return resource_group


def get_project(user, resource_group: ResourceGroup, name: str) -> MigrateProject:
    project = visible_projects(user).filter(resource_group=resource_group, name__iexact=name).first()
    if project is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Migrate/migrateProjects/{name}' under resource group "
            f"'{resource_group.name}' was not found.",
        )
    return project


def roles_at(user, subscription: Subscription, resource_group_name: str | None = None) -> list[RoleDefinition]:
    """Effective roles at a scope: assigned there or inherited from the subscription."""
    scope = Q(resource_group__isnull=True)
    if resource_group_name:
        scope |= Q(resource_group__name__iexact=resource_group_name)
    names = _assignments(user).filter(scope, subscription=subscription).values_list("role_name", flat=True)
    return [BUILTIN_ROLES[name] for name in set(names)]


def can(user, permission: Permission, subscription: Subscription, resource_group_name: str | None = None) -> bool:
    return any(role.allows(permission.action) for role in roles_at(user, subscription, resource_group_name))


def authorize(user, permission: Permission, subscription: Subscription, resource_group_name: str | None = None):
    if can(user, permission, subscription, resource_group_name):
        return
    if resource_group_name:
        scope_id = f"{subscription.arm_id}/resourcegroups/{resource_group_name}"
        label = f"resource group {resource_group_name} (or its subscription)"
    else:
        scope_id, label = subscription.arm_id, f"subscription {subscription.display_name}"
    raise AccessDenied(user, permission, scope_id, label)


def _as_uuid(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
