"""Azure Migrate projects and their tools, and the portal's Add tools deployment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction

from hub import clock
from hub.arm.errors import ArmError
from jobs.models import Job
from jobs.services import job_start
from projects import access, deletion
from projects.models import MigrateProject, ResourceGroup, Solution, Subscription
from projects.services.rules import (
    check_project_location,
    check_project_name,
    check_resource_group_name,
    existing_in_locked_group,
)


def migrate_project_create_or_update(
    *, user, resource_group: ResourceGroup, name: str, location: str, tags: dict | None = None, tools=()
) -> tuple[MigrateProject, bool]:
    """PUT semantics; `tools` (registeredTools) are registered in the same transaction, so a refused
    tool leaves no project behind."""
    check_project_name(name)
    region = check_project_location(location)
    access.authorize(user, access.WRITE_MIGRATE_PROJECT, resource_group.subscription, resource_group.name)
    with transaction.atomic():
        project, created = _project_put(resource_group=resource_group, name=name, region=region, tags=tags)
        for tool in tools:
            tool_register(user=user, project=project, tool=tool)
    return project, created


def _project_put(*, resource_group: ResourceGroup, name: str, region: str, tags) -> tuple[MigrateProject, bool]:
    with transaction.atomic():
        advice = "Please select a new resource name."
        group, project = existing_in_locked_group(resource_group, MigrateProject.objects, name, region, advice)
        if project is None:
            project = MigrateProject.objects.create(
                resource_group=group,
                name=name,
                location=region,
                tags=tags or {},
                created_at=clock.now(),
                updated_at=clock.now(),
            )
            return project, True
        project.tags, project.etag, project.updated_at = tags or {}, uuid.uuid4(), clock.now()
        project.save(update_fields=["tags", "etag", "updated_at"])
        return project, False


def migrate_project_update_tags(*, user, project: MigrateProject, tags: dict) -> MigrateProject:
    access.authorize(user, access.WRITE_MIGRATE_PROJECT, project.subscription, project.resource_group.name)
    MigrateProject.objects.filter(pk=project.pk).update(tags=tags, etag=uuid.uuid4(), updated_at=clock.now())
    # Only what changed: the resource group and subscription already read stay cached for the answer.
    project.refresh_from_db(fields=["tags", "etag", "updated_at"])
    return project


def migrate_project_delete(*, user, project: MigrateProject) -> None:
    """Delete the project with its tools, vault, Key Vault, storage account and what they hold (in the
    hub they belong to the project), in dependency order; a 409 names what refuses it (a vault still
    protecting servers) and nothing is deleted then."""
    access.authorize(user, access.DELETE_MIGRATE_PROJECT, project.subscription, project.resource_group.name)
    with transaction.atomic():
        # Replicate and Create resources take this lock too: nothing is added while it goes.
        locked = MigrateProject.objects.select_for_update().filter(pk=project.pk).first()
        if locked is None:
            return  # deleted meanwhile: deleting what is gone succeeds
        refusal = deletion.project_refusal(locked)
        if refusal is not None:
            raise refusal
        deletion.remove_project(locked)


def tool_register(*, user, project: MigrateProject, tool: str) -> Solution:
    if tool not in Solution.PURPOSES:
        raise ArmError(
            400,
            "InvalidTool",
            f"The tool '{tool}' cannot be registered here. Use one of: {', '.join(Solution.PURPOSES)}.",
            "tool",
        )
    access.authorize(user, access.REGISTER_TOOL, project.subscription, project.resource_group.name)
    with transaction.atomic():
        MigrateProject.objects.filter(pk=project.pk).update(etag=uuid.uuid4())
        solution, _ = Solution.objects.get_or_create(
            project=project,
            tool=tool,
            defaults={"purpose": Solution.PURPOSES[tool], "created_at": clock.now()},
        )
    return solution


# The portal's "Add tools" deployment


@dataclass(frozen=True)
class AddToolsRequest:
    subscription: Subscription
    resource_group_name: str
    create_resource_group: bool
    project_name: str
    location: str
    tools: tuple[str, ...]


def add_tools_start(*, user, request: AddToolsRequest, link: str = "") -> Job:
    """Check everything the deployment will do, then start it as a job. Nothing is created when a
    check fails; the job re-checks permissions as it runs."""
    check_resource_group_name(request.resource_group_name)
    check_project_name(request.project_name)
    check_project_location(request.location)
    if request.create_resource_group:
        access.authorize(user, access.CREATE_RESOURCE_GROUP, request.subscription, request.resource_group_name)
    access.authorize(user, access.WRITE_MIGRATE_PROJECT, request.subscription, request.resource_group_name)
    arm_id = (
        f"{request.subscription.arm_id}/resourceGroups/{request.resource_group_name}"
        f"/providers/Microsoft.Migrate/migrateProjects/{request.project_name}"
    )
    return job_start(
        scenario_name="AddTools",
        subscription=request.subscription,
        resource_group_name=request.resource_group_name,
        target_object_id=arm_id,
        target_object_name=request.project_name,
        target_instance_type="MigrateProject",
        job_input={
            "resource_group_name": request.resource_group_name,
            "create_resource_group": request.create_resource_group,
            "project_name": request.project_name,
            "location": request.location,
            "tools": list(request.tools),
        },
        created_by=user,
        notify=True,
        link=link,
    )
