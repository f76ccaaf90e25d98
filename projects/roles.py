"""Azure's built-in roles, as data: each is a set of allowed and excluded action patterns.

An action such as `Microsoft.Migrate/migrateProjects/write` is allowed by a role when it matches one of
its `actions` patterns and none of its `not_actions` (case-insensitive wildcards, as in Azure RBAC).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class RoleDefinition:
    id: str  # Azure's well-known role definition GUID
    name: str
    description: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()

    def allows(self, action: str) -> bool:
        action = action.lower()
        allowed = any(fnmatchcase(action, pattern.lower()) for pattern in self.actions)
        return allowed and not any(fnmatchcase(action, pattern.lower()) for pattern in self.not_actions)


OWNER = "Owner"
CONTRIBUTOR = "Contributor"
READER = "Reader"
USER_ACCESS_ADMINISTRATOR = "User Access Administrator"
VIRTUAL_MACHINE_CONTRIBUTOR = "Virtual Machine Contributor"

BUILTIN_ROLES: dict[str, RoleDefinition] = {
    role.name: role
    for role in [
        RoleDefinition(
            "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            OWNER,
            "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
            ("*",),
        ),
        RoleDefinition(
            "b24988ac-6180-42a0-ab88-20f7382dd24c",
            CONTRIBUTOR,
            "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
            ("*",),
            (
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
            ),
        ),
        RoleDefinition(
            "acdd72a7-3385-48ef-bd42-f606fba81ae7",
            READER,
            "View all resources, but does not allow you to make any changes.",
            ("*/read",),
        ),
        RoleDefinition(
            "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
            USER_ACCESS_ADMINISTRATOR,
            "Lets you manage user access to Azure resources.",
            ("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"),
        ),
        RoleDefinition(
            "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
            VIRTUAL_MACHINE_CONTRIBUTOR,
            "Lets you manage virtual machines, but not access to them, and not the virtual network or "
            "storage account they're connected to.",
            (
                "Microsoft.Authorization/*/read",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Compute/virtualMachines/*",
                "Microsoft.Compute/disks/*",
                "Microsoft.Network/networkInterfaces/*",
                "Microsoft.Network/virtualNetworks/read",
                "Microsoft.Network/virtualNetworks/subnets/join/action",
            ),
        ),
    ]
}
