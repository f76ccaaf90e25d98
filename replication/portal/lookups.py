"""How the Server Migration pages find what a request names, within what the user may see
(projects.access): anything else does not exist for them."""

from __future__ import annotations

from django.http import Http404

from projects import access
from projects.models import MigrateProject, Solution
from projects.portal.migrate import project_from_arm_id
from replication.models import MigrationItem


def selected_project(request) -> MigrateProject | None:
    """The project named by ?project=, or (from the menu, without one) the newest the user may see
    that has the Server Migration tool."""
    arm_id = request.GET.get("project", "")
    if arm_id:
        return project_from_arm_id(request.user, arm_id)
    return (
        access.visible_projects(request.user)
        .filter(solutions__tool=Solution.Tool.SERVER_MIGRATION)
        .order_by("-created_at")
        .first()
    )


def visible_item(user, item_id, items) -> MigrationItem:
    """A replicating server of a project the user may see, read from `items` (a queryset that chooses
    the relations its page shows)."""
    item = items.filter(pk=item_id, project__in=access.visible_projects(user)).first()
    if item is None:
        raise Http404("No such replicating server")
    return item
