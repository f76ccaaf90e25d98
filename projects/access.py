"""Who may see and do what: Azure RBAC over subscriptions and resource groups.

Everything the portal, the ARM API and the websocket show goes through these functions. Objects
outside what a user may see do not exist for them (404, never 403), so another tenant's ids leak
nothing. Seeing something but lacking a permission is a 403 with Azure's wording.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from hub.arm.errors import ArmError
from hub.ids import parse_uuid
from hub.scopes import forget_visible_scopes, visibility_q, visible_scopes  # noqa: F401 (re-exported)
from projects.models import (
    DirectoryRole,
    MigrateProject,
    MigrationResource,
    PrincipalType,
    ResourceGroup,
    RoleAssignment,
    Subscription,
    VirtualNetwork,
)
from projects.roles import (
    BUILTIN_ROLES,
    CONTRIBUTOR,
    OWNER,
    READER,
    USER_ACCESS_ADMINISTRATOR,
    VIRTUAL_MACHINE_CONTRIBUTOR,
    RoleDefinition,
)

# The order a refusal names roles in: those that manage resources from the narrowest to the broadest,
# then the one that manages access.
ROLES_IN_MESSAGES = (
    READER,
    VIRTUAL_MACHINE_CONTRIBUTOR,
    CONTRIBUTOR,
    OWNER,
    USER_ACCESS_ADMINISTRATOR,
)


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def roles_granting(actions: tuple[str, ...]) -> str:
    """Which built-in roles grant all the actions, in words: "Contributor or Owner"; and, when only two
    roles together do (a Key Vault needs resource writes and role assignments), "Owner, or Contributor
    and User Access Administrator,". Read from the role definitions, so no page words it by hand."""

    def grants(names) -> bool:
        return all(any(BUILTIN_ROLES[name].allows(action) for name in names) for action in actions)

    alone = [name for name in ROLES_IN_MESSAGES if grants([name])]
    others = [name for name in ROLES_IN_MESSAGES if name not in alone]
    pairs = [
        f"{first} and {second}"
        for index, first in enumerate(others)
        for second in others[index + 1 :]
        if grants([first, second])
    ]
    if not pairs:
        return _joined(alone)
    return f"{_joined(alone)}, or {_joined(pairs)}," if alone else _joined(pairs)


@dataclass(frozen=True)
class Permission:
    """A gated action: the Azure actions it needs (all of them, possibly granted by different roles)
    and how the portal explains a refusal. Which roles grant it is read from the role definitions
    (`need`), so every page that checks the same permission names the same roles."""

    actions: tuple[str, ...]
    purpose: str  # what the user was trying to do

    @property
    def need(self) -> str:
        return roles_granting(self.actions)


CREATE_RESOURCE_GROUP = Permission(
    ("Microsoft.Resources/subscriptions/resourceGroups/write",), "create a resource group"
)
DELETE_RESOURCE_GROUP = Permission(
    ("Microsoft.Resources/subscriptions/resourceGroups/delete",), "delete a resource group"
)
WRITE_MIGRATE_PROJECT = Permission(("Microsoft.Migrate/migrateProjects/write",), "create an Azure Migrate project")
DELETE_MIGRATE_PROJECT = Permission(("Microsoft.Migrate/migrateProjects/delete",), "delete an Azure Migrate project")
REGISTER_TOOL = Permission(("Microsoft.Migrate/migrateProjects/registerTool/action",), "add tools to a project")
REFRESH_PROJECT_SUMMARY = Permission(
    ("Microsoft.Migrate/migrateProjects/refreshSummary/action",),
    "refresh a project's summary",
)
FINALIZE_APPLIANCE_REGISTRATION = Permission(
    (
        "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationRecoveryServicesProviders/"
        "finalizeRegistration/action",
    ),
    "finalize the registration of a replication appliance",
)
GET_SOLUTION_CONFIG = Permission(
    ("Microsoft.Migrate/migrateProjects/solutions/getConfig/action",),
    "get the download link of the replication appliance installer",
)
WRITE_ROLE_ASSIGNMENT = Permission(("Microsoft.Authorization/roleAssignments/write",), "add role assignments")
DELETE_ROLE_ASSIGNMENT = Permission(
    ("Microsoft.Authorization/roleAssignments/delete",),
    "remove role assignments",
)
WRITE_VIRTUAL_NETWORK = Permission(("Microsoft.Network/virtualNetworks/write",), "create or change virtual networks")
DELETE_VIRTUAL_NETWORK = Permission(("Microsoft.Network/virtualNetworks/delete",), "delete virtual networks")
# "Create resources" makes a Key Vault and grants access to it, so it needs both actions.
CREATE_KEY_VAULT = Permission(
    ("Microsoft.KeyVault/vaults/write", "Microsoft.Authorization/roleAssignments/write"),
    "create the Key Vault",
)
# The cache storage account's keys open its blobs (projects/arm/storage_accounts.py).
LIST_STORAGE_KEYS = Permission(
    ("Microsoft.Storage/storageAccounts/listkeys/action",), "list a storage account's access keys"
)
# Registering an appliance adds it to the project's vault (a fabric); the directory gate applies too.
REGISTER_APPLIANCE = Permission(
    ("Microsoft.RecoveryServices/vaults/replicationFabrics/write",),
    "register a replication appliance",
)
# Replicate, test migrate, migrate and stop create or change VMs in the target resource group...
MANAGE_TARGET_VMS = Permission(
    ("Microsoft.Compute/virtualMachines/write",),
    "replicate, test migrate or migrate servers into it",
)
# ...and join them to the target network.
JOIN_TARGET_NETWORK = Permission(
    ("Microsoft.Network/virtualNetworks/subnets/join/action",),
    "join migrated servers to its virtual networks",
)


# Site Recovery's actions on a vault's contents. The ARM API checks the verbs' own actions before
# running them; the verbs check the target side (above) themselves, for portal and API alike.
MIGRATION_ITEM_TYPE = (
    "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationMigrationItems"
)


def _migration_item_permission(action: str, purpose: str) -> Permission:
    return Permission((f"{MIGRATION_ITEM_TYPE}/{action}",), purpose)


# Replicate writes a migration item under the project's vault; the target side needs MANAGE_TARGET_VMS
# and JOIN_TARGET_NETWORK too.
REPLICATE_SERVERS = _migration_item_permission("write", "replicate servers")
TEST_MIGRATE = _migration_item_permission("testMigrate/action", "test migrate servers")
CLEAN_UP_TEST_MIGRATION = _migration_item_permission("testMigrateCleanup/action", "clean up test migrations")
MIGRATE = _migration_item_permission("migrate/action", "migrate servers")
RESYNC = _migration_item_permission("resync/action", "resynchronize replication")
PAUSE_OR_RESUME = _migration_item_permission("pauseReplication/action", "pause or resume replication")
STOP_REPLICATION = _migration_item_permission("delete", "stop replication")


def virtual_machine_action(route: dict) -> Permission:
    """A VM's POST action (start, powerOff, restart...) by the name its URL gives."""
    action = route["action"]
    return Permission(
        (f"Microsoft.Compute/virtualMachines/{action}/action",),
        f"{action} virtual machines",
    )


WRITE_REPLICATION_POLICY = Permission(
    ("Microsoft.RecoveryServices/vaults/replicationPolicies/write",),
    "create or change replication policies",
)


class AccessDenied(ArmError):
    def __init__(self, user, action: str, scope_id: str, portal_message: str):
        super().__init__(
            403,
            "AuthorizationFailed",
            f"The client '{user.client_name}' with object id '{user.object_id}' does not have authorization to perform "
            f"action '{action}' over scope '{scope_id}' or the scope is invalid. If access was recently granted, "
            "please refresh your credentials.",
        )
        self.portal_message = portal_message


def _assignments(user):
    return RoleAssignment.objects.filter(principal=user, principal__is_active=True)


def read_visible_scopes(user) -> set[tuple[str, str | None]]:
    """The scopes of the user's role assignments (an inactive user has none); `hub.scopes` asks this
    and remembers the answer for the request."""
    return {
        (str(sub_id), rg_name.lower() if rg_name else None)
        for sub_id, rg_name in _assignments(user).values_list("subscription_id", "resource_group__name")
    }


def visible_subscriptions(user):
    return Subscription.objects.filter(pk__in={sub_id for sub_id, _ in visible_scopes(user)})


def visible_resource_groups(user):
    return ResourceGroup.objects.filter(
        visibility_q(user, subscription_field="subscription_id", rg_field="name")
    ).select_related("subscription")


def _in_visible_groups(user, model):
    """Rows of a model that lives in a resource group, limited to the groups the user may see."""
    return model.objects.filter(
        visibility_q(user, subscription_field="resource_group__subscription_id", rg_field="resource_group__name")
    ).select_related("resource_group__subscription")


def visible_projects(user):
    return _in_visible_groups(user, MigrateProject)


def visible_networks(user):
    return _in_visible_groups(user, VirtualNetwork)


def visible_migration_resources(user):
    return _in_visible_groups(user, MigrationResource)


def get_network(user, resource_group: ResourceGroup, name: str) -> VirtualNetwork:
    return _get_in_group(visible_networks(user), resource_group, name, VirtualNetwork.arm_type)


def subscription_tenant(subscription_id):
    """The directory a subscription belongs to, whoever asks; None when there is no such subscription."""
    subscription_id = parse_uuid(subscription_id)
    if subscription_id is None:
        return None
    return Subscription.objects.filter(pk=subscription_id).values_list("tenant_id", flat=True).first()


def get_subscription(user, subscription_id) -> Subscription:
    subscription = visible_subscriptions(user).filter(pk=parse_uuid(subscription_id)).first()
    if subscription is None:
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")
    return subscription


def get_resource_group(user, subscription: Subscription, name: str) -> ResourceGroup:
    resource_group = visible_resource_groups(user).filter(subscription=subscription, name__iexact=name).first()
    if resource_group is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return resource_group


def get_project(user, resource_group: ResourceGroup, name: str) -> MigrateProject:
    return _get_in_group(visible_projects(user), resource_group, name, MigrateProject.arm_type)


def get_migration_resource(user, resource_group: ResourceGroup, kind: str, name: str) -> MigrationResource:
    resources = visible_migration_resources(user).filter(kind=kind).select_related("project__resource_group")
    return _get_in_group(resources, resource_group, name, kind)


def get_group(user, subscription_id, resource_group_name: str) -> ResourceGroup:
    """`/subscriptions/{id}/resourceGroups/{name}` as this user sees it (404 for what they may not), with
    its subscription. One query when both exist (most ARM requests name a group); the subscription is
    looked up on its own only to tell which of the two a 404 is about."""
    resource_group = (
        visible_resource_groups(user)
        .filter(subscription_id=parse_uuid(subscription_id), name__iexact=resource_group_name)
        .first()
    )
    if resource_group is not None:
        return resource_group
    return get_resource_group(user, get_subscription(user, subscription_id), resource_group_name)


def _get_in_group(queryset, resource_group: ResourceGroup, name: str, arm_type: str):
    found = queryset.filter(resource_group=resource_group, name__iexact=name).first()
    if found is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{arm_type}/{name}' under resource group '{resource_group.name}' was not found.",
        )
    return found


def roles_at(user, subscription: Subscription, resource_group_name: str | None = None) -> list[RoleDefinition]:
    """Effective roles at a scope: assigned there or inherited from the subscription."""
    scope = Q(resource_group__isnull=True)
    if resource_group_name:
        scope |= Q(resource_group__name__iexact=resource_group_name)
    names = _assignments(user).filter(scope, subscription=subscription).values_list("role_name", flat=True)
    return [BUILTIN_ROLES[name] for name in set(names)]


def missing_action(
    user, permission: Permission, subscription: Subscription, resource_group_name: str | None = None
) -> str | None:
    """The first action of the permission that no role of the user at this scope allows."""
    roles = roles_at(user, subscription, resource_group_name)
    return next((a for a in permission.actions if not any(role.allows(a) for role in roles)), None)


def can(user, permission: Permission, subscription: Subscription, resource_group_name: str | None = None) -> bool:
    return missing_action(user, permission, subscription, resource_group_name) is None


def principals_who_can(permission: Permission, subscription: Subscription, resource_group_name: str) -> list:
    """The active users whose roles on the resource group (assigned there or on the subscription) grant
    the permission: who to ask when the user can't. People only: an application's service principal
    can hold the role, but nobody can ask it."""
    in_scope = Q(resource_group__isnull=True) | Q(resource_group__name__iexact=resource_group_name)
    roles_by_user: dict = {}
    assignments = RoleAssignment.objects.filter(
        in_scope,
        subscription=subscription,
        principal__is_active=True,
        principal__principal_type=PrincipalType.USER,
    )
    for assignment in assignments.select_related("principal"):
        roles_by_user.setdefault(assignment.principal, set()).add(assignment.role_name)
    return sorted(
        (
            person
            for person, names in roles_by_user.items()
            if all(any(BUILTIN_ROLES[name].allows(action) for name in names) for action in permission.actions)
        ),
        key=lambda person: person.email,
    )


def authorize(user, permission: Permission, subscription: Subscription, resource_group_name: str | None = None):
    action = missing_action(user, permission, subscription, resource_group_name)
    if action is None:
        return
    if resource_group_name:
        scope_id = f"{subscription.arm_id}/resourcegroups/{resource_group_name}"
        label, owner = f"resource group {resource_group_name}", "resource group"
    else:
        scope_id, label, owner = subscription.arm_id, f"subscription {subscription.display_name}", "subscription"
    message = f"You need {permission.need} on {label} to {permission.purpose}. Ask the {owner} owner."
    raise AccessDenied(user, action, scope_id, message)


def denial(user, permission: Permission, subscription: Subscription, resource_group_name: str | None = None) -> str:
    """Why the portal disables a button: the refusal's words, or "" when the user may."""
    try:
        authorize(user, permission, subscription, resource_group_name)
    except AccessDenied as denied:
        return denied.portal_message
    return ""


# The directory (Azure AD) side: not RBAC, but the tenant's settings and directory roles.

REGISTER_APPLICATIONS_ACTION = "microsoft.directory/applications/createAsOwner"


def has_directory_role(user, *roles: str) -> bool:
    return user.directory_roles.filter(role__in=roles).exists()


def is_global_administrator(user) -> bool:
    return has_directory_role(user, DirectoryRole.GLOBAL_ADMINISTRATOR)


def can_register_applications(user) -> bool:
    """Registering a replication appliance creates an Azure AD app: the tenant must let users register
    applications, or the user must hold a directory role that may."""
    if user.tenant is None:
        return False
    return user.tenant.app_registrations_allowed or has_directory_role(
        user, DirectoryRole.GLOBAL_ADMINISTRATOR, DirectoryRole.APPLICATION_DEVELOPER
    )


def authorize_app_registration(user) -> None:
    if can_register_applications(user):
        return
    tenant = user.tenant.display_name if user.tenant else "your"
    raise AccessDenied(
        user,
        REGISTER_APPLICATIONS_ACTION,
        f"/tenants/{user.tenant_id}",
        f"You can't register applications in the {tenant} directory, and registering a replication appliance "
        "creates an Azure AD app. Ask a Global administrator to set App registrations to Yes (Azure Active "
        "Directory > User settings), or to assign you the Application Developer role.",
    )


def app_registration_denial(user) -> str:
    try:
        authorize_app_registration(user)
    except AccessDenied as denied:
        return denied.portal_message
    return ""


def authorize_directory_admin(user, purpose: str) -> None:
    if is_global_administrator(user):
        return
    raise AccessDenied(
        user,
        "microsoft.directory/allProperties/allTasks",
        f"/tenants/{user.tenant_id}",
        f"You need the Global administrator directory role to {purpose}. Ask a Global administrator.",
    )
