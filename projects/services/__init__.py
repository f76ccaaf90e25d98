"""Workflows on the Azure side that span models or start jobs. Portal and ARM API both call these,
so the same permission checks and rules apply to both.

What lives where:
  rules.py             Azure's name and region rules; no change in a group being deleted
  resource_groups.py   resource groups; starting a job on something in a group
  migrate_projects.py  Azure Migrate projects and tools, Add tools
  migration_resources.py  Discover's Create resources: the portal's job, or ARM's PUTs and solution update
  networks.py          virtual networks and subnets
  access_control.py    role assignments (IAM) and the directory (users, settings, directory roles)
Callers use the names below as `services.<name>`.
"""

from __future__ import annotations

from projects.services.access_control import (
    app_registrations_set,
    directory_role_assign,
    directory_role_remove,
    directory_user_create,
    role_assignment_create,
    role_assignment_delete,
    role_definition_for,
)
from projects.services.migrate_projects import (
    AddToolsRequest,
    add_tools_start,
    migrate_project_create_or_update,
    migrate_project_delete,
    migrate_project_update_tags,
    tool_register,
)
from projects.services.migration_resources import (
    LINK_KEYS,
    create_resources_start,
    migration_resource_ensure,
    migration_resource_put,
    migration_resources_link,
    project_vault,
)
from projects.services.networks import (
    subnet_create_or_update,
    subnet_delete,
    virtual_network_create_or_update,
    virtual_network_delete,
    virtual_network_update_tags,
)
from projects.services.resource_groups import (
    job_start_in_group,
    resource_group_create_or_update,
    resource_group_delete_failed,
    resource_group_delete_now,
    resource_group_delete_start,
    resource_group_update,
)

__all__ = [
    "LINK_KEYS",
    "AddToolsRequest",
    "add_tools_start",
    "app_registrations_set",
    "create_resources_start",
    "directory_role_assign",
    "directory_role_remove",
    "directory_user_create",
    "job_start_in_group",
    "migrate_project_create_or_update",
    "migrate_project_delete",
    "migrate_project_update_tags",
    "migration_resource_ensure",
    "migration_resource_put",
    "migration_resources_link",
    "project_vault",
    "resource_group_create_or_update",
    "resource_group_delete_failed",
    "resource_group_delete_now",
    "resource_group_delete_start",
    "resource_group_update",
    "role_assignment_create",
    "role_assignment_delete",
    "role_definition_for",
    "subnet_create_or_update",
    "subnet_delete",
    "tool_register",
    "virtual_network_create_or_update",
    "virtual_network_delete",
    "virtual_network_update_tags",
]
