"""This app's job scenarios: the steps the worker runs, each idempotent."""

from __future__ import annotations

from jobs.models import Job
from jobs.scenarios import JobStepError, Scenario, Step, register
from projects import access, push, services
from projects.deletion import DeletionRefused, group_blocked
from projects.models import MigrateProject, MigrationResource, ResourceGroup, Solution


def _resource_group(job: Job) -> ResourceGroup:
    group = ResourceGroup.objects.filter(
        subscription=job.subscription, name__iexact=job.input["resource_group_name"]
    ).first()
    if group is None:
        raise JobStepError(
            "ResourceGroupNotFound",
            f"Resource group '{job.input['resource_group_name']}' could not be found.",
            possible_causes="The resource group was deleted while the deployment ran.",
            recommended_action="Run Add tools again and create a new resource group.",
        )
    return group


def _create_resource_group(job: Job) -> None:
    # Only if absent: a group made meanwhile (by the API, or a second click) keeps its tags.
    name = job.input["resource_group_name"]
    exists = ResourceGroup.objects.filter(subscription=job.subscription, name__iexact=name).exists()
    if not job.input["create_resource_group"] or exists:
        return
    services.resource_group_create_or_update(
        user=job.created_by,
        subscription=job.subscription,
        name=job.input["resource_group_name"],
        location=job.input["location"],
    )


def _create_project(job: Job) -> None:
    group = _resource_group(job)
    if MigrateProject.objects.filter(resource_group=group, name__iexact=job.input["project_name"]).exists():
        return  # made meanwhile: keep it as it is
    services.migrate_project_create_or_update(
        user=job.created_by,
        resource_group=group,
        name=job.input["project_name"],
        location=job.input["location"],
    )


def _add_tools(job: Job) -> None:
    project = MigrateProject.objects.get(resource_group=_resource_group(job), name__iexact=job.input["project_name"])
    for tool in job.input["tools"]:
        services.tool_register(user=job.created_by, project=project, tool=tool)
    push.project_changed_on_commit(project.pk)


register(
    Scenario(
        name="AddTools",
        friendly_name="Add tools",
        steps=(
            Step("CreateResourceGroup", "Create resource group", _create_resource_group),
            Step("CreateMigrateProject", "Create Azure Migrate project", _create_project),
            Step("RegisterTools", f"Add {Solution.Tool.SERVER_MIGRATION.label}", _add_tools),
        ),
        running_title="Adding tools to project {target}...",
        succeeded_title="Tools added to project {target}",
        failed_title="Adding tools failed for project {target}",
        succeeded_message="The tools were added to Azure Migrate project {target}.",
    )
)


def _delete_group(job: Job) -> None:
    try:
        services.resource_group_delete_now(job.input["resource_group_id"])
    except DeletionRefused as refused:
        # Azure's failed group deletion, carrying the refusing provider's code and words.
        group = ResourceGroup.objects.get(pk=job.input["resource_group_id"])
        code, message = group_blocked(group, refused)
        raise JobStepError(
            code,
            message,
            possible_causes="A resource in the group cannot be deleted in its current state.",
            recommended_action="Do what the message says, then delete the resource group again.",
        ) from refused


register(
    Scenario(
        name="DeleteResourceGroup",
        friendly_name="Delete resource group",
        steps=(Step("DeleteResources", "Delete the resource group and its resources", _delete_group),),
        running_title="Deleting resource group {target}...",
        succeeded_title="Deleted resource group {target}",
        failed_title="Failed to delete resource group {target}",
        on_failure=lambda job: services.resource_group_delete_failed(job.input["resource_group_id"]),
    )
)


def _migration_project(job: Job) -> MigrateProject:
    project = (
        MigrateProject.objects.select_related("resource_group__subscription").filter(pk=job.input["project_id"]).first()
    )
    if project is None:
        raise JobStepError(
            "ProjectNotFound",
            f"Azure Migrate project '{job.target_object_name}' no longer exists.",
            possible_causes="The project or its resource group was deleted while resources were being created.",
            recommended_action="Create the project again (Add tools), then Discover.",
        )
    return project


def _create_resource(kind: str):
    def step(job: Job) -> None:
        project = _migration_project(job)
        group = project.resource_group
        # Roles may have changed since the click: check again, as Azure Resource Manager would.
        access.authorize(job.created_by, access.CREATE_KEY_VAULT, group.subscription, group.name)
        services.migration_resource_ensure(project, kind)
        # Discover shows each resource Created as soon as it is.
        push.project_changed_on_commit(project.pk)

    return step


register(
    Scenario(
        name="CreateMigrationResources",
        friendly_name="Create resources",
        steps=(
            Step(
                "CreateVault",
                "Create Recovery Services vault",
                _create_resource(MigrationResource.Kind.RECOVERY_SERVICES_VAULT),
            ),
            Step("CreateKeyVault", "Create Key Vault", _create_resource(MigrationResource.Kind.KEY_VAULT)),
            Step(
                "CreateCacheStorage",
                "Create cache storage account",
                _create_resource(MigrationResource.Kind.STORAGE_ACCOUNT),
            ),
        ),
        running_title="Creating resources for project {target}...",
        succeeded_title="Resources created for project {target}",
        failed_title="Creating resources failed for project {target}",
        succeeded_message="The vault, Key Vault and cache storage account of project {target} are ready.",
    )
)
