"""The Azure Migrate project in view: the one the user chose.

Every Azure Migrate blade shows it and acts on it. It is named in the URL (`?project=`, so a link or a
second tab says which project it is about) and kept in the session, so a blade opened from the menu
without one shows the project the user last chose. Nothing else picks it: a project a colleague
creates meanwhile appears in the selector and never takes the chosen one's place.
"""

from __future__ import annotations

from django.http import Http404

from hub.http import not_found_as_404
from hub.ids import parse_uuid
from projects import access
from projects.models import MigrateProject

SESSION_KEY = "migrate_project"
# The order the "Change" selector lists the projects in (projects.templatetags.migrate_project).
LISTED_ORDER = ("resource_group__subscription__display_name", "name")


def _arm_id_parts(arm_id: str) -> list[str]:
    parts = arm_id.strip("/").split("/")
    if len(parts) != 8 or parts[0].lower() != "subscriptions" or parts[6].lower() != "migrateprojects":
        raise Http404("No such project")
    return parts


def project_from_arm_id(user, arm_id: str) -> MigrateProject:
    """Resolve `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Migrate/migrateProjects/{name}`."""
    parts = _arm_id_parts(arm_id)
    with not_found_as_404():
        return access.get_project(user, access.get_group(user, parts[1], parts[3]), parts[7])


def listed_projects(request) -> list[MigrateProject]:
    """The projects the user may see, with their resource group and subscription, in the selector's
    order: read once per request, by the first of project_in_view and the selector to ask. A blade
    names its project and lists them all in the "Change" selector; one query serves both."""
    listed = getattr(request, "_listed_projects", None)
    if listed is None:
        listed = list(access.visible_projects(request.user).order_by(*LISTED_ORDER))
        request._listed_projects = listed
    return listed


def _listed_project(request, arm_id: str) -> MigrateProject:
    """project_from_arm_id, found among listed_projects: the same project (names compare as the lookup's
    iexact does), or 404 for one the user may not see."""
    parts = _arm_id_parts(arm_id)
    wanted = (parse_uuid(parts[1]), parts[3].lower(), parts[7].lower())
    for project in listed_projects(request):
        group = project.resource_group
        if (group.subscription_id, group.name.lower(), project.name.lower()) == wanted:
            return project
    raise Http404("No such project")


def remember(request, arm_id: str) -> None:
    if request.session.get(SESSION_KEY) != arm_id:
        request.session[SESSION_KEY] = arm_id


def project_in_view(request, *, tool: str = "") -> MigrateProject | None:
    """The project named by `?project=` (404 when the user may not see it), else the one chosen last
    in this session, else the user's only project (with `tool`, when given); None when the user has
    to choose."""
    arm_id = request.GET.get("project", "")
    if arm_id:
        project = _listed_project(request, arm_id)
        if not request.headers.get("HX-Request"):
            # Only a person's navigation chooses: a live part read again in the background (which names
            # its page's project) may land after the person has gone on to another project.
            remember(request, project.arm_id)
        return project
    chosen = request.session.get(SESSION_KEY, "")
    if chosen:
        try:
            return _listed_project(request, chosen)
        except Http404:
            pass  # deleted, not created yet, or no longer visible: the user chooses again
    candidates = access.visible_projects(request.user)
    if tool:
        candidates = candidates.filter(solutions__tool=tool)
    only = list(candidates[:2])
    return only[0] if len(only) == 1 else None
