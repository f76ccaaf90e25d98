"""Portal blades on the Azure side: Azure Migrate (Overview, Servers, Add tools), resource groups."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from hub.arm.errors import ArmError
from hub.http import redirect_page, render_part
from jobs.models import Job
from projects import access, services, tool_cards
from projects.forms import STEPS, AddToolsForm
from projects.models import Solution

# project_from_arm_id is imported from here by the Server Migration blades.
from projects.portal.project_in_view import project_from_arm_id, project_in_view, remember  # noqa: F401
from projects.regions import MIGRATE_GEOGRAPHIES, REGIONS_BY_NAME


def servers_url(project_arm_id: str) -> str:
    return reverse("projects:migrate-servers") + "?" + urlencode({"project": project_arm_id})


@login_required
@require_GET
def migrate_overview(request):
    return render(request, "projects/migrate_overview.html", {"blade": "overview"})


@login_required
@require_GET
def migrate_servers(request):
    projects = list(access.visible_projects(request.user).prefetch_related("solutions"))
    deployments = (
        Job.objects.visible_to(request.user).filter(scenario_name="AddTools", created_by=request.user).unfinished()
    )
    selected_id = request.GET.get("project", "")
    if selected_id and deployments.filter(target_object_id__iexact=selected_id).exists():
        remember(request, selected_id)
        project = None  # still being deployed: the page says so until the job ends, then reads itself again
    else:
        project = project_in_view(request)
        if project is not None and not selected_id:
            return redirect(servers_url(project.arm_id))  # the URL names the project in view, as a link would
    return render_part(
        request,
        "projects/migrate_servers.html",
        "blade",
        {
            "blade": "servers",
            "projects": projects,
            "project": project,
            "server_migration": project and project.has_tool(Solution.Tool.SERVER_MIGRATION),
            "deployments": deployments[:5],
            "servers_url": servers_url,
            **tool_cards.context(request.user, project),
        },
    )


@login_required
def add_tools(request):
    """One form across four tabs. Every Next validates the steps so far on the server; nothing is
    created until Add tools passes every check."""
    step = _int(request.POST.get("step"), 0) if request.method == "POST" else 0
    action = request.POST.get("action", "")
    if request.method != "POST":
        form = AddToolsForm(request.user)
    elif action in ("previous", "refresh"):
        form = AddToolsForm(request.user, request.POST)
        step = max(step - 1, 0) if action == "previous" else step
    else:
        form = AddToolsForm(request.user, request.POST, validate_upto=step)
        if form.is_valid():
            if action == "add" and step == len(STEPS) - 1:
                try:
                    job = services.add_tools_start(
                        user=request.user,
                        request=form.to_request(),
                        link=servers_url(_arm_id_of(form)),
                    )
                except ArmError as error:
                    form.add_error(None, error.portal_message)
                else:
                    return redirect_page(request, servers_url(job.target_object_id))
            else:
                step = min(step + 1, len(STEPS) - 1)
        else:
            step = next(index for index in range(len(STEPS)) if form.step_has_errors(index) or index == step)
    context = {
        "form": form,
        "step": step,
        "steps": STEPS,
        "geographies": [(g, [REGIONS_BY_NAME[r].display_name for r in rs]) for g, rs in MIGRATE_GEOGRAPHIES.items()],
        # Only a form validated through the tool tabs has everything the review lists.
        "review": form.review() if step == len(STEPS) - 1 and form.validate_upto >= 2 and form.is_valid() else None,
        "blade": "servers",
    }
    return render_part(request, "projects/add_tools.html", "wizard", context)


def _arm_id_of(form: AddToolsForm) -> str:
    request = form.to_request()
    return (
        f"{request.subscription.arm_id}/resourceGroups/{request.resource_group_name}"
        f"/providers/Microsoft.Migrate/migrateProjects/{request.project_name}"
    )


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
