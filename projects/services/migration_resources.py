"""Discover's "Create resources": the Recovery Services vault, the Key Vault and the cache storage
account of a project, and the target region they lock.

Two ways in, one set of rules (`_lock_for_create_resources`):
- the portal's button starts a job that makes all three (`create_resources_start`);
- through ARM, as Azure's portal sends it, each resource is PUT on its own (`migration_resource_put`),
  then the Server Migration solution's update names them (`migration_resources_link`), which makes
  them the project's and locks the region, in one transaction."""

from __future__ import annotations

import re

from django.db import connection, transaction

from hub import clock
from hub.arm.errors import ArmError
from jobs.models import Job
from projects import access
from projects.models import MachinesVirtualized, MigrateProject, MigrationResource, ResourceGroup, Solution
from projects.regions import REGIONS_BY_NAME, normalize_location
from projects.services.resource_groups import job_start_in_group
from projects.services.rules import check_region, existing_in_locked_group

Kind = MigrationResource.Kind
CREATE_RESOURCES_SCENARIO = "CreateMigrationResources"

# Azure's name rules per resource type, with the code and wording its resource provider answers.
_NAME_RULES = {
    Kind.RECOVERY_SERVICES_VAULT: (
        re.compile(r"[A-Za-z][A-Za-z0-9-]{1,49}"),
        "InvalidResourceName",
        "Vault names must be 2 to 50 characters long, start with a letter and contain only letters, numbers "
        "and hyphens.",
    ),
    Kind.KEY_VAULT: (
        re.compile(r"(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]"),
        "VaultNameNotValid",
        "A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end "
        "with a letter or digit, and not contain consecutive hyphens.",
    ),
    Kind.STORAGE_ACCOUNT: (
        re.compile(r"[a-z0-9]{3,24}"),
        "AccountNameInvalid",
        "Storage account name must be between 3 and 24 characters in length and use numbers and lower-case "
        "letters only.",
    ),
}
# Where the solution's update names each resource (details.extendedDetails).
LINK_KEYS = {
    Kind.RECOVERY_SERVICES_VAULT: "vaultId",
    Kind.KEY_VAULT: "keyVaultId",
    Kind.STORAGE_ACCOUNT: "storageAccountId",
}


def migration_resource_names(project: MigrateProject) -> dict[str, str]:
    """Names derived from the project, so a re-run of the job finds what an earlier run made."""
    suffix = project.pk.hex[:12]
    return {
        Kind.RECOVERY_SERVICES_VAULT: f"{project.name}-MigrateVault-{suffix[:6]}",
        Kind.KEY_VAULT: f"migratekv{suffix}",
        Kind.STORAGE_ACCOUNT: f"migratelsa{suffix}",
    }


def project_vault(project: MigrateProject) -> MigrationResource | None:
    return project.migration_resource(Kind.RECOVERY_SERVICES_VAULT)


def _lock_for_create_resources(project: MigrateProject, region: str) -> MigrateProject:
    """The project's row, locked, once Create resources may go to `region`: Server Migration is added
    and the target region is unset or already `region` (it never changes once set). Call inside a
    transaction; the caller sets the region."""
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
    return locked


def _creating(project: MigrateProject):
    return Job.objects.unfinished().filter(scenario_name=CREATE_RESOURCES_SCENARIO, target_object_id=project.arm_id)


def _check_machines_virtualized(value: str, target: str) -> None:
    if value not in MachinesVirtualized.values:
        raise ArmError(
            400,
            "InvalidParameter",
            f"Say whether your machines are virtualized: one of {', '.join(MachinesVirtualized.values)}.",
            target,
        )


def create_resources_start(*, user, project: MigrateProject, target_region: str, machines_virtualized: str, link=""):
    """Lock the project's target region and start the job that creates the vault, the Key Vault and the
    cache storage account. The region is locked in the same transaction, so two clicks cannot disagree."""
    region = check_region(target_region)
    _check_machines_virtualized(machines_virtualized, "machines_virtualized")
    group = project.resource_group
    access.authorize(user, access.CREATE_KEY_VAULT, group.subscription, group.name)
    with transaction.atomic():
        locked = _lock_for_create_resources(project, region)
        running = _creating(locked)
        if running.exists():
            return running.first()
        if locked.migration_resources.count() == len(Kind):
            raise ArmError(409, "ResourcesAlreadyCreated", f"Resources for project {locked.name} were created already.")
        locked.target_region, locked.machines_virtualized = region, machines_virtualized
        locked.save(update_fields=["target_region", "machines_virtualized"])
        return job_start_in_group(
            user=user,
            group=group,
            scenario_name=CREATE_RESOURCES_SCENARIO,
            target_object_id=locked.arm_id,
            target_object_name=locked.name,
            target_instance_type="MigrateProject",
            job_input={"project_id": str(locked.pk)},
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


# Through ARM: each resource's PUT, then the solution's update


def migration_resource_put(
    *, user, resource_group: ResourceGroup, kind: str, name: str, location: str, tags: dict | None
) -> tuple[MigrationResource, bool]:
    """PUT of a vault, Key Vault or storage account: created (True) or its tags replaced (False). It
    belongs to no project until the Server Migration solution names it; the right is Create
    resources' own."""
    pattern, code, rule = _NAME_RULES[kind]
    if not pattern.fullmatch(name):
        raise ArmError(400, code, f"The name '{name}' is not valid. {rule}", "name")
    region = normalize_location(location)
    if region not in REGIONS_BY_NAME:
        raise ArmError(
            400,
            "LocationNotAvailableForResourceType",
            f"The provided location '{location}' is not available for resource type '{kind}'. List of available "
            f"regions for the resource type is '{','.join(REGIONS_BY_NAME)}'.",
            "location",
        )
    access.authorize(user, access.CREATE_KEY_VAULT, resource_group.subscription, resource_group.name)
    with transaction.atomic():
        rows = MigrationResource.objects.filter(kind=kind)
        group, resource = existing_in_locked_group(resource_group, rows, name, region)
        if resource is None:
            if kind == Kind.STORAGE_ACCOUNT:
                _check_account_name_free(name)
            resource = MigrationResource.objects.create(
                resource_group=group, kind=kind, name=name, location=region, tags=tags or {}, created_at=clock.now()
            )
            return resource, True
        resource.tags = tags or {}
        resource.save(update_fields=["tags"])
        return resource, False


def _check_account_name_free(name: str) -> None:
    """Storage account names are global in Azure, and here each account is the blob container of its
    name in one backing account (projects/arm/storage_accounts.py): a second account of a name, in
    another tenant say, would share the first one's container."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # two PUTs in different groups cannot both find the name free
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"storage-account:{name.lower()}"])
    if MigrationResource.objects.filter(kind=Kind.STORAGE_ACCOUNT, name__iexact=name).exists():
        raise ArmError(409, "StorageAccountAlreadyTaken", f"The storage account named {name} is already taken.", "name")


def _named_resource(project: MigrateProject, kind: str, resource_id: str) -> MigrationResource:
    key = f"properties.details.extendedDetails.{LINK_KEYS[kind]}"
    prefix = f"{project.resource_group.arm_id}/providers/{kind}/".lower()
    name = resource_id[len(prefix) :] if resource_id.lower().startswith(prefix) else ""
    resource = None
    if name and "/" not in name:
        resource = MigrationResource.objects.filter(
            resource_group=project.resource_group, kind=kind, name__iexact=name
        ).first()
    if resource is None:
        raise ArmError(
            400,
            "InvalidParameter",
            f"{key} must be the id of a {Kind(kind).label} in the project's resource group "
            f"'{project.resource_group.name}' ({prefix}...): PUT it first. '{resource_id}' names none.",
            key,
        )
    return resource


def migration_resources_link(
    *, user, project: MigrateProject, resource_ids: dict[str, str], machines_virtualized: str
) -> None:
    """The solution update that ends Create resources through ARM: the vault, Key Vault and storage
    account (`resource_ids`, kind -> ARM id, each PUT before) become the project's, and the project's
    target region is locked to their region, under the same rules as the portal's button. Naming the
    resources the project already has changes nothing."""
    missing = [LINK_KEYS[kind] for kind in Kind if not resource_ids.get(kind)]
    if missing:
        raise ArmError(
            400,
            "InvalidParameter",
            "Create resources names the vault, the Key Vault and the cache storage account: "
            f"properties.details.extendedDetails lacks {', '.join(missing)}.",
            f"properties.details.extendedDetails.{missing[0]}",
        )
    _check_machines_virtualized(machines_virtualized, "properties.details.extendedDetails.machinesVirtualized")
    group = project.resource_group
    access.authorize(user, access.CREATE_KEY_VAULT, group.subscription, group.name)
    resources = {kind: _named_resource(project, kind, resource_ids[kind]) for kind in Kind}
    regions = {resource.location for resource in resources.values()}
    if len(regions) > 1:
        raise ArmError(
            400,
            "InvalidParameter",
            "The vault, the Key Vault and the storage account must be in one region, the project's target region: "
            f"they are in {', '.join(sorted(regions))}.",
            "properties.details.extendedDetails",
        )
    with transaction.atomic():
        locked = _lock_for_create_resources(project, regions.pop())
        if _creating(locked).exists():
            raise ArmError(409, "ResourcesBeingCreated", f"Create resources is running for project {locked.name}.")
        current = {row.kind: row for row in locked.migration_resources.all()}
        named = MigrationResource.objects.select_for_update().filter(pk__in=[r.pk for r in resources.values()])
        for row in named:
            mine = current.get(row.kind)
            if mine is not None and mine.pk != row.pk:
                raise ArmError(
                    409,
                    "ResourcesAlreadyCreated",
                    f"Resources for project {locked.name} were created already: its {Kind(row.kind).label} is "
                    f"{mine.name}.",
                )
            if row.project_id not in (None, locked.pk):
                raise ArmError(
                    409,
                    "ResourceInUse",
                    f"The {Kind(row.kind).label} {row.name} belongs to another Azure Migrate project.",
                    f"properties.details.extendedDetails.{LINK_KEYS[row.kind]}",
                )
        MigrationResource.objects.filter(pk__in=[r.pk for r in resources.values()]).update(project=locked)
        locked.target_region = resources[Kind.RECOVERY_SERVICES_VAULT].location
        locked.machines_virtualized = machines_virtualized
        locked.save(update_fields=["target_region", "machines_virtualized"])
