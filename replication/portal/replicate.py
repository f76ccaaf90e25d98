"""Azure Migrate: Server Migration > Replicate, the tutorial's "Replicate machines" wizard.

One form holds every tab; tabs other than the current one are hidden but still post. Each Next
validates the tabs so far on the server (replication.replicate's rules, placed next to their
fields) and renders the next tab; Compute and Disks have a row per checked server. Replicate calls
`replication_enable`, which starts one Start replication job per server, or creates nothing."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.urls import path, reverse
from django.utils.http import urlencode

from hub import secrets
from hub.arm.errors import ArmError
from hub.http import redirect_page, render_part
from hub.ids import parse_uuid
from projects.models import MigrateProject
from projects.portal.migrate import project_from_arm_id, servers_url
from replication import planning, sizing
from replication.models import DiskType
from replication.portal import planner
from replication.portal.replicate_fields import COMPUTE, DISKS, REVIEW, SOURCE, STEPS, TARGET, VMS
from replication.portal.replicate_forms import ReplicateForm
from replication.portal.replicate_rows import EXCLUDE, INCLUDE
from replication.portal.server_migration_card import replicate_unavailable
from replication.replicate import ReplicationInvalid, replication_enable

# Guest credentials' passwords typed in a wizard, kept (encrypted) in the session between its steps:
# the password field is never rendered back, so each step would otherwise lose it.
PASSWORDS_SESSION_KEY = "replicate-wizard-passwords"
PASSWORD_PURPOSE = "replicate wizard guest credentials"
MAX_KEPT_PASSWORDS = 5


@login_required
def replicate(request):
    project = project_from_arm_id(request.user, request.GET.get("project", ""))
    wizard_id = str(parse_uuid(request.POST.get("wizard_id")) or uuid.uuid4())
    unavailable = replicate_unavailable(request.user, project)
    if request.method != "POST":
        form, step = ReplicateForm(request.user, project), SOURCE
    else:
        _keep_password(request, wizard_id, request.POST.get("credentials_password", ""))
        form = ReplicateForm(request.user, project, request.POST, stashed_password=_kept_password(request, wizard_id))
        step = min(max(_int(request.POST.get("step"), SOURCE), SOURCE), REVIEW)
        # A tab header posts its index; the page's first, invisible button (Enter in a text box) posts "refresh".
        action = request.POST.get("action") or ("tab" if "tab" in request.POST else "")
        if action == "previous":
            step = max(step - 1, SOURCE)
        elif action == "tab":
            # The tabs so far can be revisited without checks; going forward is Next's job.
            step = min(_int(request.POST.get("tab"), step), step)
        elif action in ("next", "replicate"):
            if not form.validate(step):
                step = form.first_step_with_errors()
            elif action == "next":
                step = min(step + 1, REVIEW)
            elif step == REVIEW and unavailable:
                form.add_error(None, unavailable)
            elif step == REVIEW:
                started = _start(request, form, project)
                if started is not None:
                    _forget_password(request, wizard_id)
                    return started
                step = form.first_step_with_errors()
        # Anything else ("refresh" after a dependent choice, a search or a page of servers) redraws the
        # same tab with what was posted, checking nothing.
    page, listed, checked_elsewhere, errors_elsewhere = form.server_page(_page_number(request))
    context = {
        "blade": "servers",
        "project": project,
        "form": form,
        "step": step,
        "tabs": [(index, label, form.step_has_errors(index)) for index, (_, label) in enumerate(STEPS)],
        "next_label": STEPS[step + 1][1] if step < REVIEW else "",
        "SOURCE": SOURCE,
        "VMS": VMS,
        "TARGET": TARGET,
        "COMPUTE": COMPUTE,
        "DISKS": DISKS,
        "REVIEW": REVIEW,
        "wizard_id": wizard_id,
        "unavailable": unavailable,
        "page": page,
        "listed": listed,
        "checked_elsewhere": checked_elsewhere,
        "errors_elsewhere": errors_elsewhere,
        "sizes": sizing.SIZES,
        "disk_types": DiskType.choices,
        "include_choices": [(INCLUDE, "Replicate"), (EXCLUDE, "Exclude")],
        "include_value": INCLUDE,
        "review": form.review() if step == REVIEW else None,
        **(_capacity(form, project) if step == REVIEW else {}),
        "servers_url": servers_url(project.arm_id),
    }
    return render_part(request, "replication/replicate/wizard.html", "wizard", context)


def _capacity(form: ReplicateForm, project: MigrateProject) -> dict:
    """The review's replication plan (the capacity planner's figures) for the checked servers' selected disks."""
    plan = form.plan()
    if not plan.servers:
        return {}
    servers = [(server.server, {disk["diskId"] for disk in server.selected_disks()}) for server in plan.servers]
    capacity = planning.plan(project, servers, appliance=plan.appliance)
    return {"plan": capacity, "plan_rows": planner.plan_rows(capacity)}


def _start(request, form: ReplicateForm, project: MigrateProject):
    """Replicate: the service checks everything again under a lock, and creates nothing on a problem."""
    try:
        jobs = replication_enable(request.user, project, form.plan(), link=replicating_servers_url(project))
    except ReplicationInvalid as invalid:
        for problem in invalid.problems:
            form.add_problem(problem)
        if not form.has_problems:  # a problem the form could not place: say it at the top
            form.add_error(None, invalid.portal_message)
        return None
    except ArmError as error:  # access.AccessDenied included: its portal_message names the missing role
        form.add_error(None, error.portal_message)
        return None
    names = ", ".join(job.target_object_name for job in jobs)
    messages.success(
        request,
        f"Replicate: {len(jobs)} Start replication job{'s' if len(jobs) != 1 else ''} started ({names}). "
        "Follow them in the notifications or in Jobs.",
    )
    return redirect_page(request, servers_url(project.arm_id))


def replicating_servers_url(project: MigrateProject) -> str:
    """Where a Start replication notification leads: Manage > Replicating machines of the project."""
    return reverse("replication:replicating-servers") + "?" + urlencode({"project": project.arm_id})


def _page_number(request):
    """The Virtual machines list's page: a page button, else the page shown; a new search starts at 1."""
    if request.method != "POST":
        return 1
    if request.POST.get("q", "").strip() != request.POST.get("q_shown", "").strip():
        return 1
    return request.POST.get("goto_page") or request.POST.get("page") or 1


def _keep_password(request, wizard_id: str, password: str) -> None:
    if not password:
        return
    kept = dict(request.session.get(PASSWORDS_SESSION_KEY, {}))
    kept.pop(wizard_id, None)
    kept[wizard_id] = secrets.encrypt(password.encode(), purpose=PASSWORD_PURPOSE)
    # Only the latest few wizards: an abandoned one's password does not stay in the session for long.
    request.session[PASSWORDS_SESSION_KEY] = dict(list(kept.items())[-MAX_KEPT_PASSWORDS:])


def _kept_password(request, wizard_id: str) -> str:
    token = request.session.get(PASSWORDS_SESSION_KEY, {}).get(wizard_id)
    if not token:
        return ""
    try:
        return secrets.decrypt(token, purpose=PASSWORD_PURPOSE).decode()
    except secrets.SecretUnreadable:  # SECRET_KEY changed since: ask for it again
        return ""


def _forget_password(request, wizard_id: str) -> None:
    kept = dict(request.session.get(PASSWORDS_SESSION_KEY, {}))
    if kept.pop(wizard_id, None) is not None:
        request.session[PASSWORDS_SESSION_KEY] = kept


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


urlpatterns = [
    path("migrate/replicate/", replicate, name="replicate"),
]
