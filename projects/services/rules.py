"""The rules every workflow here checks the same way: Azure's names and regions, and no change inside a
resource group that is being deleted."""

from __future__ import annotations

from hub.arm.errors import ArmError
from projects.models import (
    ResourceGroup,
)
from projects.names import project_name_problem, resource_group_name_problem
from projects.regions import MIGRATE_PROJECT_LOCATIONS, REGIONS_BY_NAME, normalize_location


def check_resource_group_name(name: str) -> None:
    problem = resource_group_name_problem(name)
    if problem:
        raise ArmError(
            400, "InvalidResourceGroupName", f"The resource group name '{name}' is invalid. {problem}", "name"
        )


def check_project_name(name: str) -> None:
    problem = project_name_problem(name)
    if problem:
        raise ArmError(400, "InvalidResourceName", f"The resource name '{name}' is invalid. {problem}", "name")


def _available_region(location: str, regions, rule: str, what: str, listed: str = "") -> str:
    """The region `location` names, if it is one of `regions`; else Azure's 400 for `what`."""
    region = normalize_location(location)
    if region not in regions:
        raise ArmError(
            400,
            rule,
            f"The provided location '{location}' is not available for {what}. List of available regions{listed} "
            f"is '{','.join(regions)}'.",
            "location",
        )
    return region


def check_region(location: str) -> str:
    return _available_region(location, REGIONS_BY_NAME, "LocationNotAvailableForResourceGroup", "resource group")


def check_project_location(location: str) -> str:
    what = "resource type 'Microsoft.Migrate/migrateProjects'"
    rule = "LocationNotAvailableForResourceType"
    return _available_region(location, MIGRATE_PROJECT_LOCATIONS, rule, what, " for the resource type")


def check_not_deleting(resource_group: ResourceGroup) -> None:
    if resource_group.is_deleting:
        raise ArmError(
            409,
            "ResourceGroupBeingDeleted",
            f"The resource group '{resource_group.name}' is in deprovisioning state and cannot perform this operation.",
        )


def location_conflict(resource, group: ResourceGroup, region: str, advice: str = "") -> ArmError:
    """A PUT naming an existing resource in another region: Azure refuses to move it."""
    message = (
        f"The resource '{resource.name}' already exists in location '{resource.location}' in resource group "
        f"'{group.name}'. A resource with the same name cannot be created in location '{region}'."
    )
    return ArmError(409, "InvalidResourceLocation", f"{message} {advice}" if advice else message, "location")


def existing_in_locked_group(resource_group: ResourceGroup, rows, name: str, region: str, advice: str = ""):
    """The PUT of a resource in a resource group, inside its transaction: the group locked (two PUTs of
    one name cannot race, and a group being deleted refuses), and the group with the resource of `rows`
    named `name` in it (None: a new one), which must be in `region` (Azure refuses to move it)."""
    group = ResourceGroup.objects.select_for_update().get(pk=resource_group.pk)
    check_not_deleting(group)
    existing = rows.filter(resource_group=group, name__iexact=name).first()
    if existing is not None and existing.location != region:
        raise location_conflict(existing, group, region, advice)
    return group, existing
