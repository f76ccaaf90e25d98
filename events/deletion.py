"""Events' share of deleting a project or a resource group (projects.deletion): the subscriptions on
the project (and on its vault) go with it; a group takes every subscription and event in it."""

from __future__ import annotations

from django.db.models import Q

from events.models import Event, EventSubscription
from projects import deletion


def _remove_from_project(project) -> None:
    on_project = Q(scope_id__iexact=project.arm_id)
    for resource in project.migration_resources.all():
        on_project |= Q(scope_id__iexact=resource.arm_id)
    EventSubscription.objects.filter(subscription=project.resource_group.subscription).filter(on_project).delete()


def _remove_from_group(group) -> None:
    in_group = {"subscription": group.subscription, "resource_group_name__iexact": group.name}
    EventSubscription.objects.filter(**in_group).delete()
    Event.objects.filter(**in_group).delete()


def register() -> None:
    deletion.register(
        deletion.DeletionPart(
            name="events", remove_from_project=_remove_from_project, remove_from_group=_remove_from_group
        )
    )
