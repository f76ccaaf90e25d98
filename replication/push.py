"""Live updates of the replication screens: Discovered servers, Replicating machines, a server's
blade and the Server Migration overview.

Each push renders the same partials the pages render and goes out through `jobs.push`, the one
transport to browsers.
"""

from __future__ import annotations

from django.db.models import F, Prefetch, Window
from django.db.models.functions import RowNumber
from django.template.loader import render_to_string

from hub import clock
from projects.push import project_changed_on_commit, send_to_project
from replication import monitoring
from replication.models import MigrationItem, RecoveryPoint
from replication.selectors import server_migration_counts
from replication.status import item_status

# The project bar (Discover and Servers read their parts again): an appliance registered, finalized or
# given back after a failed finalization.
appliances_changed = project_changed_on_commit


def discovered_servers_changed(project, servers=()) -> None:
    """The Server Migration counts of one project, and the rows of the servers that changed (each
    replaces its row, or is inserted into the Discovered servers table): never the whole table, so
    discovering N servers costs N small pushes, not N full tables."""
    counts = server_migration_counts(project, clock.now())
    html = render_to_string("projects/_server_migration_counts.html", {"project": project, "counts": counts})
    send_to_project(project, html)
    # Table rows travel alone: a browser parses a <tr> only where a table may start.
    rows = "".join(render_to_string("replication/_discovered_row.html", {"server": server}) for server in servers)
    send_to_project(project, rows)


def replicating_servers_changed(project, items=()) -> None:
    """Rows of the Replicating servers table and the live parts of each server's blade for the items
    that changed, with the project's Server Migration counts and its overview's health and transfer
    chart. The items are read again with their relations: the push shows what was committed, in a
    fixed number of queries."""
    now = clock.now()
    counts = server_migration_counts(project, now)
    html = render_to_string("projects/_server_migration_counts.html", {"project": project, "counts": counts})
    overview = {
        "project": project,
        "health": monitoring.health_summary(project, now),
        "transfer": monitoring.transfer_chart(project, now),
    }
    for part in ("health", "transfer"):
        html += render_to_string(f"replication/overview.html#{part}", overview)
    # Table rows travel alone: a browser parses a <tr> only where a table may start, so rows that
    # follow a <dl> or a <section> in one message would be dropped.
    rows_html = ""
    # Each blade's points and jobs are read for all the items at once: a fleet's agents changing together
    # (one appliance heartbeat) cost the same statements as one server.
    points = (
        RecoveryPoint.objects.annotate(
            rank=Window(RowNumber(), partition_by=F("item_id"), order_by=F("recorded_at").desc())
        )
        .filter(rank__lte=monitoring.RECOVERY_POINTS_SHOWN)
        .order_by("-recorded_at")
    )
    fresh = list(
        monitoring.blade_rows(
            MigrationItem.objects.filter(pk__in=[item.pk for item in items], project=project)
        ).prefetch_related(Prefetch("recovery_points", queryset=points))
    )
    jobs = monitoring.items_jobs(fresh)
    for item in fresh:
        rows_html += render_to_string("replication/_replicating_row.html", {"item": item, "now": now})
        detail = monitoring.detail_context(item, now, jobs[str(item.pk)])
        for part in monitoring.DETAIL_LIVE_PARTS:
            html += render_to_string(f"replication/replicating_server.html#{part}", detail)
    send_to_project(project, html)
    send_to_project(project, rows_html)


def item_changed(item_id) -> None:
    """One replicating server changed (a batch stored, a recovery point recorded): read it as committed
    and push it, unless it is gone."""
    item = MigrationItem.objects.filter(pk=item_id).select_related("project__resource_group").first()
    if item is not None:
        replicating_servers_changed(item.project, [item])


# What a stored batch moves on a server's blade: its status and progress, health (an upload may clear
# a condition) and disks. Its commands, target, points and jobs move with a state change, a recovery
# point or a job, each of which pushes the whole (item_changed).
PROGRESS_PARTS = ("summary", "health", "disks")


def item_progress(item_id) -> None:
    """A batch stored (replication/uploads.py, at most once a second per item): the item's row, the
    blade's PROGRESS_PARTS and the overview's transfer chart. Not the project's counts and health
    summary, nor the blade's other parts: they cost most of a whole push (the points and jobs queries,
    the health rules over the project) and a batch does not move them; the upload sends the whole
    push now and then, and at every marker."""
    item = monitoring.blade_rows(MigrationItem.objects.filter(pk=item_id)).first()
    if item is None:
        return
    now = clock.now()
    project = item.project
    html = render_to_string(
        "replication/overview.html#transfer",
        {"project": project, "transfer": monitoring.transfer_chart(project, now)},
    )
    detail = {"item": item, "now": now, "status": item_status(item, now), "disks": list(item.disks.all())}
    for part in PROGRESS_PARTS:
        html += render_to_string(f"replication/replicating_server.html#{part}", detail)
    send_to_project(project, html)
    send_to_project(project, render_to_string("replication/_replicating_row.html", {"item": item, "now": now}))
