"""Workflows on the Azure side that span models or start jobs. Portal and ARM API both call these,
so the same permission checks and rules apply to both."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction

from hub import clock
from hub.arm.errors import ArmError
from jobs.models import Job
from jobs.services import job_start
from projects import access, addresses
from projects.models import (
    DirectoryRole,
    DirectoryRoleAssignment,
    MachinesVirtualized,
    MigrateProject,
    MigrationResource,
    ProvisioningState,
    ResourceGroup,
    RoleAssignment,
    Solution,
    Subnet,
    Subscription,
    Tenant,
    User,
    VirtualNetwork,
)
from projects.names import project_name_problem, resource_group_name_problem
from projects.regions import MIGRATE_PROJECT_LOCATIONS, REGIONS_BY_NAME, normalize_location
from projects.roles import BUILTIN_ROLES


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


def check_region(location: str) -> str:
    region = normalize_location(location)
    if region not in REGIONS_BY_NAME:
        raise ArmError(
            400,
            "LocationNotAvailableForResourceGroup",
            f"The provided location '{location}' is not available for resource group. List of available "
            f"regions is '{','.join(REGIONS_BY_NAME)}'.",
            "location",
        )
    return region


def check_project_location(location: str) -> str:
    region = normalize_location(location)
    if region not in MIGRATE_PROJECT_LOCATIONS:
        raise ArmError(
            400,
            "LocationNotAvailableForResourceType",
            f"The provided location '{location}' is not available for resource type "
            f"'Microsoft.Migrate/migrateProjects'. List of available regions for the resource type is "
            f"'{','.join(MIGRATE_PROJECT_LOCATIONS)}'.",
            "location",
        )
    return region


def _check_not_deleting(resource_group: ResourceGroup) -> None:
    if resource_group.is_deleting:
        raise ArmError(
            409,
            "ResourceGroupBeingDeleted",
            f"The resource group '{resource_group.name}' is in deprovisioning state and cannot perform this operation.",
        )


# Resource groups


def resource_group_create_or_update(
    *, user, subscription: Subscription, name: str, location: str, tags: dict | None = None, managed_by=None
) -> tuple[ResourceGroup, bool]:
    """PUT semantics: create, or replace tags and managedBy of the existing group."""
    check_resource_group_name(name)
    region = check_region(location)
    access.authorize(user, access.CREATE_RESOURCE_GROUP, subscription, name)
    with transaction.atomic():
        # Serialise creations in one subscription, so two PUTs of one name cannot race.
        Subscription.objects.select_for_update().get(pk=subscription.pk)
        existing = ResourceGroup.objects.filter(subscription=subscription, name__iexact=name).first()
        if existing is None:
            group = ResourceGroup.objects.create(
                subscription=subscription,
                name=name,
                location=region,
                tags=tags or {},
                managed_by=managed_by,
                created_at=clock.now(),
            )
            return group, True
        _check_not_deleting(existing)
        if existing.location != region:
            raise ArmError(
                409,
                "InvalidResourceGroupLocation",
                f"Invalid resource group location '{location}'. The Resource group already exists in location "
                f"'{existing.location}'.",
                "location",
            )
        existing.tags, existing.managed_by = tags or {}, managed_by
        existing.save(update_fields=["tags", "managed_by"])
        return existing, False


def resource_group_update(*, user, resource_group: ResourceGroup, changes: dict) -> ResourceGroup:
    """PATCH semantics: only the given top-level fields change; tags are replaced as a whole."""
    access.authorize(user, access.CREATE_RESOURCE_GROUP, resource_group.subscription, resource_group.name)
    with transaction.atomic():
        group = ResourceGroup.objects.select_for_update().get(pk=resource_group.pk)
        _check_not_deleting(group)
        if "tags" in changes:
            group.tags = changes["tags"] or {}
        if "managed_by" in changes:
            group.managed_by = changes["managed_by"]
        group.save(update_fields=["tags", "managed_by"])
    return group


def resource_group_delete_start(*, user, resource_group: ResourceGroup) -> Job:
    """Mark the group Deleting and start the job that deletes it with everything in it."""
    access.authorize(user, access.DELETE_RESOURCE_GROUP, resource_group.subscription, resource_group.name)
    with transaction.atomic():
        marked = ResourceGroup.objects.filter(
            pk=resource_group.pk,
            provisioning_state=ProvisioningState.SUCCEEDED,
        ).update(provisioning_state=ProvisioningState.DELETING)
        if not marked:
            _check_not_deleting(ResourceGroup.objects.get(pk=resource_group.pk))
        return job_start(
            scenario_name="DeleteResourceGroup",
            subscription=resource_group.subscription,
            resource_group_name=resource_group.name,
            target_object_id=resource_group.arm_id,
            target_object_name=resource_group.name,
            target_instance_type="ResourceGroup",
            job_input={"resource_group_id": resource_group.pk},
            created_by=user,
        )


def resource_group_delete_now(resource_group_pk: int) -> None:
    """The job's step: delete the group and, by cascade, what it holds. Idempotent."""
    ResourceGroup.objects.filter(pk=resource_group_pk).delete()


# Azure Migrate projects


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
        group = ResourceGroup.objects.select_for_update().get(pk=resource_group.pk)
        _check_not_deleting(group)
        project = MigrateProject.objects.filter(resource_group=group, name__iexact=name).first()
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
        if project.location != region:
            raise ArmError(
                409,
                "InvalidResourceLocation",
                f"The resource '{project.name}' already exists in location '{project.location}' in resource "
                f"group '{group.name}'. A resource with the same name cannot be created in location "
                f"'{region}'. Please select a new resource name.",
                "location",
            )
        project.tags, project.etag, project.updated_at = tags or {}, uuid.uuid4(), clock.now()
        project.save(update_fields=["tags", "etag", "updated_at"])
        return project, False


def migrate_project_update_tags(*, user, project: MigrateProject, tags: dict) -> MigrateProject:
    access.authorize(user, access.WRITE_MIGRATE_PROJECT, project.subscription, project.resource_group.name)
    MigrateProject.objects.filter(pk=project.pk).update(tags=tags, etag=uuid.uuid4(), updated_at=clock.now())
    project.refresh_from_db()
    return project


def migrate_project_delete(*, user, project: MigrateProject) -> None:
    access.authorize(user, access.DELETE_MIGRATE_PROJECT, project.subscription, project.resource_group.name)
    MigrateProject.objects.filter(pk=project.pk).delete()


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


# Access control (IAM)


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
            f"Principal {principal.object_id} does not exist in the directory {subscription.tenant_id}.",
            "properties.principalId",
        )
    with transaction.atomic():
        Subscription.objects.select_for_update().get(pk=subscription.pk)
        existing = RoleAssignment.objects.filter(
            principal=principal, role_name=role_name, subscription=subscription, resource_group=resource_group
        ).first()
        if existing is not None:
            if assignment_id is None or existing.pk == assignment_id:
                return existing, False
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
        if assignment_id is not None and RoleAssignment.objects.filter(pk=assignment_id).exists():
            raise ArmError(
                400,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
        assignment = RoleAssignment.objects.create(
            id=assignment_id or uuid.uuid4(),
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


# Virtual networks


def virtual_network_create_or_update(
    *,
    user,
    resource_group: ResourceGroup,
    name: str,
    location: str,
    address_prefixes: list[str],
    subnets: list[tuple[str, str]],
    tags: dict | None = None,
) -> tuple[VirtualNetwork, bool]:
    """PUT semantics: the address space and the subnet list are replaced by what is given."""
    addresses.check_network_name(name)
    region = check_region(location)
    space = addresses.check_address_space(name, address_prefixes)
    addresses.check_subnets(name, space, subnets)
    access.authorize(user, access.WRITE_VIRTUAL_NETWORK, resource_group.subscription, resource_group.name)
    with transaction.atomic():
        group = ResourceGroup.objects.select_for_update().get(pk=resource_group.pk)
        _check_not_deleting(group)
        network = VirtualNetwork.objects.filter(resource_group=group, name__iexact=name).first()
        created = network is None
        if created:
            network = VirtualNetwork(resource_group=group, name=name, created_at=clock.now())
        elif network.location != region:
            raise ArmError(
                409,
                "InvalidResourceLocation",
                f"The resource '{network.name}' already exists in location '{network.location}' in resource group "
                f"'{group.name}'. A resource with the same name cannot be created in location '{region}'.",
                "location",
            )
        network.location, network.address_prefixes = region, [str(block) for block in space]
        network.tags, network.etag = tags or {}, uuid.uuid4()
        network.save()
        kept = {subnet_name.lower() for subnet_name, _ in subnets}
        network.subnets.exclude(name__in=[s.name for s in network.subnets.all() if s.name.lower() in kept]).delete()
        for subnet_name, prefix in subnets:
            _subnet_upsert(network, subnet_name, str(addresses.parse_prefix(prefix, "properties.addressPrefix")))
    return network, created


def _subnet_upsert(network: VirtualNetwork, name: str, prefix: str) -> tuple[Subnet, bool]:
    subnet = network.subnets.filter(name__iexact=name).first()
    if subnet is None:
        return Subnet.objects.create(virtual_network=network, name=name, address_prefix=prefix), True
    subnet.address_prefix, subnet.etag = prefix, uuid.uuid4()
    subnet.save(update_fields=["address_prefix", "etag"])
    return subnet, False


def virtual_network_update_tags(*, user, network: VirtualNetwork, tags: dict) -> VirtualNetwork:
    access.authorize(
        user, access.WRITE_VIRTUAL_NETWORK, network.resource_group.subscription, network.resource_group.name
    )
    VirtualNetwork.objects.filter(pk=network.pk).update(tags=tags, etag=uuid.uuid4())
    network.refresh_from_db()
    return network


def virtual_network_delete(*, user, network: VirtualNetwork) -> None:
    access.authorize(
        user, access.DELETE_VIRTUAL_NETWORK, network.resource_group.subscription, network.resource_group.name
    )
    VirtualNetwork.objects.filter(pk=network.pk).delete()


def subnet_create_or_update(*, user, network: VirtualNetwork, name: str, address_prefix: str) -> tuple[Subnet, bool]:
    group = network.resource_group
    access.authorize(user, access.WRITE_VIRTUAL_NETWORK, group.subscription, group.name)
    with transaction.atomic():
        locked = VirtualNetwork.objects.select_for_update().get(pk=network.pk)
        space = [addresses.parse_prefix(p, "properties.addressPrefix") for p in locked.address_prefixes]
        others = [(s.name, s.address_prefix) for s in locked.subnets.exclude(name__iexact=name)]
        addresses.check_subnets(locked.name, space, [*others, (name, address_prefix)])
        return _subnet_upsert(locked, name, str(addresses.parse_prefix(address_prefix, "properties.addressPrefix")))


def subnet_delete(*, user, subnet: Subnet) -> None:
    group = subnet.virtual_network.resource_group
    access.authorize(user, access.WRITE_VIRTUAL_NETWORK, group.subscription, group.name)
    Subnet.objects.filter(pk=subnet.pk).delete()


# Discover: "Create resources"


def migration_resource_names(project: MigrateProject) -> dict[str, str]:
    """Names derived from the project, so a re-run of the job finds what an earlier run made."""
    suffix = project.pk.hex[:12]
    kinds = MigrationResource.Kind
    return {
        kinds.RECOVERY_SERVICES_VAULT: f"{project.name}-MigrateVault-{suffix[:6]}",
        kinds.KEY_VAULT: f"migratekv{suffix}",
        kinds.STORAGE_ACCOUNT: f"migratelsa{suffix}",
    }


def create_resources_start(*, user, project: MigrateProject, target_region: str, machines_virtualized: str, link=""):
    """Lock the project's target region and start the job that creates the vault, the Key Vault and the
    cache storage account. The region is locked in the same transaction, so two clicks cannot disagree."""
    region = check_region(target_region)
    if machines_virtualized not in MachinesVirtualized.values:
        raise ArmError(400, "InvalidParameter", "Say whether your machines are virtualized.", "machines_virtualized")
    group = project.resource_group
    access.authorize(user, access.CREATE_KEY_VAULT, group.subscription, group.name)
    with transaction.atomic():
        locked = MigrateProject.objects.select_for_update().get(pk=project.pk)
        if not locked.solutions.filter(tool=Solution.Tool.SERVER_MIGRATION).exists():
            raise ArmError(
                409, "ToolNotAdded", "Add the Azure Migrate: Server Migration tool to the project first (Add tools)."
            )
        if locked.target_region and locked.target_region != region:
            raise ArmError(
                409,
                "TargetRegionLocked",
                f"The target region of project {locked.name} is {locked.target_region}: it can't change once "
                "resources were created. All migrations from this project go to that region.",
                "target_region",
            )
        running = Job.objects.unfinished().filter(
            scenario_name="CreateMigrationResources", target_object_id=locked.arm_id
        )
        if running.exists():
            return running.first()
        if locked.migration_resources.count() == len(MigrationResource.Kind):
            raise ArmError(409, "ResourcesAlreadyCreated", f"Resources for project {locked.name} were created already.")
        locked.target_region, locked.machines_virtualized = region, machines_virtualized
        locked.save(update_fields=["target_region", "machines_virtualized"])
        return job_start(
            scenario_name="CreateMigrationResources",
            subscription=group.subscription,
            resource_group_name=group.name,
            target_object_id=locked.arm_id,
            target_object_name=locked.name,
            target_instance_type="MigrateProject",
            job_input={"project_id": str(locked.pk)},
            created_by=user,
            notify=True,
            link=link,
        )


def migration_resource_ensure(project: MigrateProject, kind: str) -> MigrationResource:
    """The job's step for one resource: create it unless an earlier run did. Idempotent."""
    resource, _ = MigrationResource.objects.get_or_create(
        project=project,
        kind=kind,
        defaults={
            "resource_group": project.resource_group,
            "name": migration_resource_names(project)[kind],
            "location": project.target_region,
            "created_at": clock.now(),
        },
    )
    return resource


def project_vault(project: MigrateProject) -> MigrationResource | None:
    return project.migration_resources.filter(kind=MigrationResource.Kind.RECOVERY_SERVICES_VAULT).first()
