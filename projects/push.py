"""Live updates of a project's blades (Servers, Discover): the project bar, pushed whenever the
project changes (a tool added, a resource created, an appliance registered or finalized).

The bar is the partial every Azure Migrate blade renders for its project. The parts of those blades
that depend on the user's roles (the tool card's Replicate, Discover's buttons) watch the bar's id and
read themselves again when it comes (static/hub/live.js), so nothing is pushed that one user may see
and another may not. Sent through `jobs.push`, the one transport to browsers.
"""

from __future__ import annotations

from django.db import transaction
from django.template.loader import render_to_string

# Imported under a private name so that a test can catch what would be sent.
from jobs.push import send as _send
from jobs.push import subscription_group
from projects.models import MigrateProject


def send_to_project(project, html: str) -> None:
    """To every browser that may see the project's resource group (the consumer checks each one)."""
    group = project.resource_group
    if html:
        _send(
            subscription_group(group.subscription_id),
            html,
            subscription_id=group.subscription_id,
            resource_group_name=group.name,
        )


def project_changed(project) -> None:
    send_to_project(project, render_to_string("projects/_project_bar.html", {"project": project}))


def project_changed_on_commit(project_id) -> None:
    """Push the project as committed, once the caller's transaction commits (at once outside one)."""

    def push() -> None:
        project = MigrateProject.objects.select_related("resource_group").filter(pk=project_id).first()
        if project is not None:
            project_changed(project)

    transaction.on_commit(push, robust=True)
