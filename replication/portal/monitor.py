"""Server Migration's monitoring blades: Replicating machines (filters, search, sorting, pages), one
replicating server's blade, Manage > Replicating machines (its settings, until replication starts) and
the Server Migration overview.

These are the views; what the screens show is read by replication.monitoring, which replication.push
also renders live. Everything is read within one project the user may see (projects.access)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from hub import clock
from hub.arm.errors import ArmError
from projects import access
from replication import monitoring, push
from replication.health import HEALTH_RANKS
from replication.models import MigrationItem
from replication.portal.lookups import selected_project, visible_item
from replication.portal.monitor_forms import ReplicationSettingsForm
from replication.replicate import ReplicationInvalid, replication_update

# Column key -> what the column shows, for headers and the sort parameter.
COLUMNS = [
    ("name", "Name"),
    ("status", "Status"),
    ("replication", "Replication status"),
    ("health", "Health"),
    ("recovery-point", "Last recovery point"),
    ("rpo", "RPO"),
    ("transferred", "Data transferred"),
    ("throughput", "Throughput"),
    ("job", "Current job"),
    ("test", "Test migration status"),
]


def _visible_item(user, item_id) -> MigrationItem:
    return visible_item(user, item_id, monitoring.blade_rows(MigrationItem.objects))


def _page_url(request, **changes) -> str:
    params = {key: value for key, value in request.GET.items() if value}
    params.update(changes)
    params = {key: value for key, value in params.items() if value not in ("", None)}
    return request.path + "?" + urlencode(params)


@login_required
@require_GET
def replicating_servers(request):
    project = selected_project(request)
    now = clock.now()
    context = {"blade": "replicating", "project": project, "now": now}
    if project is not None:
        health = request.GET.get("health", "")
        status = request.GET.get("status", "")
        search = request.GET.get("q", "").strip()[:100]
        sort = request.GET.get("sort", "")
        if sort.lstrip("-") not in monitoring.SORTABLE:
            sort = "name"
        page, page_items = monitoring.list_page(
            project, now, request.GET.get("page"), health=health, status=status, search=search, sort=sort
        )
        context.update(
            {
                "page": page,
                "items": page_items,
                "health": health if health in HEALTH_RANKS else "",
                "status": status if status in monitoring.STATUS_FILTERS else "",
                "search": search,
                "sort": sort,
                # New servers are inserted live only into the unfiltered first page they belong on.
                "accepts_new_rows": not (health or status or search) and page.number == 1 and sort == "name",
                "health_choices": ["Normal", "Warning", "Critical"],
                "status_choices": [(key, label) for key, (label, _) in monitoring.STATUS_FILTERS.items()],
                "columns": [
                    (
                        key,
                        label,
                        _sort_link(request, key, sort) if key in monitoring.SORTABLE else None,
                        _sort_state(key, sort),
                    )
                    for key, label in COLUMNS
                ],
                "previous_url": _page_url(request, page=page.previous_page_number()) if page.has_previous() else "",
                "next_url": _page_url(request, page=page.next_page_number()) if page.has_next() else "",
            }
        )
    template = "replicating_servers.html#table" if request.htmx and project is not None else "replicating_servers.html"
    return render(request, "replication/" + template, context)


def _sort_link(request, key: str, current: str) -> str:
    # A second click on the sorted column reverses it; a new column starts ascending.
    return _page_url(request, sort=f"-{key}" if current == key else key, page="")


def _sort_state(key: str, current: str) -> str:
    if current == key:
        return "ascending"
    if current == f"-{key}":
        return "descending"
    return ""


@login_required
@require_GET
def replicating_server(request, item_id):
    item = _visible_item(request.user, item_id)
    context = monitoring.detail_context(item, clock.now())
    context.update({"blade": "replicating", "project": item.project})
    part = request.GET.get("part", "")
    if request.htmx and part in monitoring.DETAIL_LIVE_PARTS:
        return render(request, f"replication/replicating_server.html#{part}", context)
    return render(request, "replication/replicating_server.html", context)


@login_required
@require_GET
def replicating_row(request, item_id):
    """One row again: the page asks when the row's current job changes (see _replicating_row.html)."""
    item = _visible_item(request.user, item_id)
    return render(request, "replication/_replicating_row.html", {"item": item, "now": clock.now()})


@login_required
def replication_settings(request, item_id):
    """Manage > Replicating machines > a server > Compute and Network: the target settings, saved with
    replicate.replication_update, which refuses once replication has started."""
    item = _visible_item(request.user, item_id)
    group = item.project.resource_group
    denied = access.denial(request.user, access.REPLICATE_SERVERS, group.subscription, group.name)
    form = ReplicationSettingsForm(request.user, item, request.POST if request.method == "POST" else None)
    if item.settings_locked or denied:
        form.disable()
    if request.method == "POST" and form.is_valid():
        try:
            updated = replication_update(request.user, item, form.to_plan())
        except ReplicationInvalid as invalid:
            form.add_problems(invalid.problems)
        except ArmError as error:
            form.add_error(None, error.portal_message)
        else:
            push.replicating_servers_changed(updated.project, [updated])
            messages.success(request, f"Saved the replication settings of {updated.target_vm_name}.")
            return redirect(reverse("replication:replication-settings", args=[item.pk]))
    return render(
        request,
        "replication/replicating_settings.html",
        {"blade": "replicating", "project": item.project, "item": item, "form": form, "denied": denied},
    )


@login_required
@require_GET
def server_migration_overview(request):
    project = selected_project(request)
    if project is None:
        return render(request, "replication/overview.html", {"blade": "server-migration", "project": None})
    context = monitoring.overview_context(project, clock.now())
    context["blade"] = "server-migration"
    part = request.GET.get("part", "")
    if request.htmx and part in monitoring.OVERVIEW_LIVE_PARTS:
        return render(request, f"replication/overview.html#{part}", context)
    return render(request, "replication/overview.html", context)


urlpatterns = [
    path("migrate/replicating-servers/", replicating_servers, name="replicating-servers"),
    path("migrate/replicating-servers/<uuid:item_id>/", replicating_server, name="replicating-server"),
    path("migrate/replicating-servers/<uuid:item_id>/row/", replicating_row, name="replicating-row"),
    path("migrate/replicating-servers/<uuid:item_id>/settings/", replication_settings, name="replication-settings"),
    path("migrate/server-migration/", server_migration_overview, name="server-migration-overview"),
]
