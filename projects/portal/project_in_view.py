"""The Azure Migrate project in view: the one the user chose.

Every Azure Migrate blade shows it and acts on it. It is named in the URL (`?project=`, so a link or a
second tab says which project it is about) and kept in the session, so a blade opened from the menu
without one shows the project the user last chose. Nothing else picks it: a project a colleague
creates meanwhile appears in the selector and never takes the chosen one's place.
"""

from __future__ import annotations

from django.http import Http404

from hub.http import not_found_as_404
from projects import access
from projects.models import MigrateProject

SESSION_KEY = "migrate_project"


def project_from_arm_id(user, arm_id: str) -> MigrateProject:
    """Resolve `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Migrate/migrateProjects/{name}`."""
    parts = arm_id.strip("/").split("/")
    if len(parts) != 8 or parts[0].lower() != "subscriptions" or parts[6].lower() != "migrateprojects":
        raise Http404("No such project")
    with not_found_as_404():
        return access.get_project(user, access.get_group(user, parts[1], parts[3]), parts[7])


def remember(request, arm_id: str) -> None:
    if request.session.get(SESSION_KEY) != arm_id:
        request.session[SESSION_KEY] = arm_id


def project_in_view(request, *, tool: str = "") -> MigrateProject | None:
    """The project named by `?project=` (404 when the user may not see it), else the one chosen last
    in this session, else the user's only project (with `tool`, when given); None when the user has
    to choose."""
    arm_id = request.GET.get("project", "")
    if arm_id:
        project = project_from_arm_id(request.user, arm_id)
        if not request.headers.get("HX-Request"):
            # Only a person's navigation chooses: a live part read again in the background (which names
            # its page's project) may land after the person has gone on to another project.
            remember(request, project.arm_id)
        return project
    chosen = request.session.get(SESSION_KEY, "")
    if chosen:
        try:
            return project_from_arm_id(request.user, chosen)
        except Http404:
            pass  # deleted, not created yet, or no longer visible: the user chooses again
    candidates = access.visible_projects(request.user)
    if tool:
        candidates = candidates.filter(solutions__tool=tool)
    only = list(candidates[:2])
    return only[0] if len(only) == 1 else None
