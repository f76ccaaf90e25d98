"""What deleting an Azure Migrate project or a resource group removes, in dependency order, and what
refuses it.

Azure deletes everything in a resource group, dependants before what they depend on (VMs before
their disks and NICs, a vault's contents before the vault, projects, then networks). Where a
resource provider refuses, the deletion fails with that provider's code and message and nothing is
removed here (the hub checks every refusal before it deletes anything).

The projects app owns projects, networks and the group; what hangs off a project or lives in a group
on behalf of another app (appliances, discovered servers, replicating servers, their data, migrated
VMs) belongs to that app. Each such app registers its part at start-up (in its AppConfig.ready), as
tool_cards does for the Servers blade, so this app deletes in order without importing the apps above
it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db.models import ProtectedError, RestrictedError

from hub.arm.errors import ArmError
from projects.models import MigrateProject, ResourceGroup


class DeletionRefused(ArmError):
    """A resource provider refuses to delete a resource: 409 with the provider's code and a message
    naming what blocks it and what to do. `resources` names the refusing resources as Azure's group
    deletion error does ("{type}/{name}")."""

    def __init__(self, code: str, message: str, resources: tuple[str, ...]):
        super().__init__(409, code, message)
        self.resources = resources


def group_blocked(group: ResourceGroup, refused: DeletionRefused) -> tuple[str, str]:
    """Azure's failed resource group deletion: its code and message, carrying the provider's reason."""
    return (
        "ResourceGroupDeletionBlocked",
        f"Deletion of resource group '{group.name}' failed as resources with identifiers "
        f"'{', '.join(refused.resources)}' could not be deleted. The provisioning state of the resource group "
        f"will be rolled back. {refused.code}: {refused.message}",
    )


def _nothing(_) -> None:
    return None


@dataclass(frozen=True)
class DeletionPart:
    """One app's share of a deletion. Refusals run first (under the rows' locks) and return a
    DeletionRefused or None; removals run after every refusal passed, dependants first.

    - `project_refusal(project)` / `remove_from_project(project)`: what the app keeps for a project
      (it goes with the project, whether the project or its group is deleted).
    - `group_refusal(group)` / `remove_from_group(group)`: what the app keeps in a group outside any
      project of it (VMs, say), and references to the group from elsewhere; removed before the
      group's projects."""

    name: str
    project_refusal: Callable[[MigrateProject], DeletionRefused | None] = _nothing
    remove_from_project: Callable[[MigrateProject], None] = _nothing
    group_refusal: Callable[[ResourceGroup], DeletionRefused | None] = _nothing
    remove_from_group: Callable[[ResourceGroup], None] = _nothing


_PARTS: dict[str, DeletionPart] = {}


def register(part: DeletionPart) -> None:
    _PARTS[part.name] = part


def parts() -> list[DeletionPart]:
    return list(_PARTS.values())


def project_refusal(project: MigrateProject) -> DeletionRefused | None:
    return next((refusal for part in parts() if (refusal := part.project_refusal(project))), None)


def group_refusal(group: ResourceGroup) -> DeletionRefused | None:
    for part in parts():
        refusal = part.group_refusal(group)
        if refusal is not None:
            return refusal
    for project in group.migrate_projects.all():
        refusal = project_refusal(project)
        if refusal is not None:
            return refusal
    return None


@contextmanager
def _still_referenced_refused(resource: str) -> Iterator[None]:
    """A row some app forgot to remove first (a protecting foreign key) refuses in words, never as the
    database layer's tuple."""
    try:
        yield
    except (ProtectedError, RestrictedError) as blocked:
        objects = getattr(blocked, "protected_objects", None) or getattr(blocked, "restricted_objects", ())
        names = sorted({f"{type(obj)._meta.verbose_name} {obj}" for obj in objects})
        raise DeletionRefused(
            "Conflict",
            f"{resource} cannot be deleted: it is still used by {', '.join(names[:5]) or 'another resource'}. "
            "Delete or change those first, then delete again.",
            (resource,),
        ) from None


def remove_project(project: MigrateProject) -> None:
    """The project and what every app keeps for it; the caller has checked the refusals."""
    with _still_referenced_refused(f"{MigrateProject.arm_type}/{project.name}"):
        for part in parts():
            part.remove_from_project(project)
        # What remains cascades: solutions, the vault, Key Vault and storage account records.
        MigrateProject.objects.filter(pk=project.pk).delete()


def remove_group(group: ResourceGroup) -> None:
    """Everything in the group, dependants first, then the group (its role assignments with it); the
    caller has checked the refusals."""
    for part in parts():
        part.remove_from_group(group)
    for project in group.migrate_projects.all():
        remove_project(project)
    with _still_referenced_refused(f"Microsoft.Resources/resourceGroups/{group.name}"):
        # Then the group's own resources: availability sets, networks with their subnets.
        group.availability_sets.all().delete()
        for network in group.virtual_networks.all():
            network.subnets.all().delete()
            network.delete()
        group.delete()
