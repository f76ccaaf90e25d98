"""How the Server Migration pages find what a request names, within what the user may see
(projects.access): anything else does not exist for them."""

from __future__ import annotations

from django.http import Http404

from projects import access
from projects.models import MigrateProject, Solution
from projects.portal.migrate import project_in_view
from replication.models import MigrationItem


def selected_project(request) -> MigrateProject | None:
    """The project in view (projects.portal.project_in_view): named by ?project=, else the one the user
    chose last, else their only project with the Server Migration tool."""
    return project_in_view(request, tool=Solution.Tool.SERVER_MIGRATION)


def visible_item(user, item_id, items) -> MigrationItem:
    """A replicating server of a project the user may see, read from `items` (a queryset that chooses
    the relations its page shows)."""
    item = items.filter(pk=item_id, project__in=access.visible_projects(user)).first()
    if item is None:
        raise Http404("No such replicating server")
    return item
