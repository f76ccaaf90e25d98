"""Resource groups: create, update, delete (a job), and starting jobs on what a group holds."""

from __future__ import annotations

from django.db import transaction

from hub import clock
from hub.arm.errors import ArmError
from jobs.models import Job
from jobs.services import job_start
from projects import access, deletion
from projects.models import (
    ProvisioningState,
    ResourceGroup,
    Subscription,
)
from projects.services.rules import check_not_deleting, check_region, check_resource_group_name


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
        check_not_deleting(existing)
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
        check_not_deleting(group)
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
            current = ResourceGroup.objects.filter(pk=resource_group.pk).first()
            if current is None:  # an earlier DELETE's job removed it since the caller looked it up
                raise ArmError(
                    404, "ResourceGroupNotFound", f"Resource group '{resource_group.name}' could not be found."
                )
            check_not_deleting(current)
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
    """The job's step: delete everything in the group in dependency order (projects.deletion), then
    the group. Every refusal is checked first, so a refused deletion (DeletionRefused, Azure's code and
    message) removes nothing. Idempotent: a group already gone is done."""
    group = ResourceGroup.objects.select_for_update().filter(pk=resource_group_pk).first()
    if group is None:
        return
    # Replicate and Create resources lock their project: nothing is added to these while they go.
    list(group.migrate_projects.select_for_update())
    refusal = deletion.group_refusal(group)
    if refusal is not None:
        raise refusal
    deletion.remove_group(group)


def resource_group_delete_failed(resource_group_pk: int) -> None:
    """A refused or failed deletion leaves the group as it was, usable again (Azure's group returns to
    Succeeded)."""
    ResourceGroup.objects.filter(pk=resource_group_pk, provisioning_state=ProvisioningState.DELETING).update(
        provisioning_state=ProvisioningState.SUCCEEDED
    )


def job_start_in_group(*, user, group: ResourceGroup, **job) -> Job:
    """Start a job on something in the group (`job`: job_start's scenario_name, target_object_id,
    target_object_name, target_instance_type, job_input and link), followed by the user who started it:
    they are notified when it ends, with a link back to where they started it."""
    return job_start(
        subscription=group.subscription, resource_group_name=group.name, created_by=user, notify=True, **job
    )
