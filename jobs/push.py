"""The one module that sends live updates to browsers.

Each push is the same HTML partial the page renders (elements with stable ids); the browser swaps an
element with the same id, or inserts it where `data-live-insert` says. Events carry the scope they
belong to, and the consumer re-checks it against what its user may see before sending.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def user_group(user_id) -> str:
    return f"user.{user_id}"


def subscription_group(subscription_id) -> str:
    return f"subscription.{subscription_id}"


def _send(group: str, html: str, *, subscription_id=None, resource_group_name: str = "") -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {
        "type": "hub.push",
        "html": html,
        "subscription_id": str(subscription_id) if subscription_id else "",
        "resource_group_name": resource_group_name,
    }
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        # A live update is a convenience: the page shows the same state on its next load.
        logger.exception("Could not push a live update to %s", group)


def notification_changed(notification) -> None:
    from jobs.models import Notification

    unread = Notification.objects.filter(user_id=notification.user_id, read=False).count()
    html = render_to_string("jobs/_notification.html", {"notification": notification, "toast": True})
    html += render_to_string("jobs/_bell_count.html", {"unread_count": unread})
    _send(user_group(notification.user_id), html)


def job_changed(job) -> None:
    html = render_to_string("jobs/_job_row.html", {"job": job})
    _send(
        subscription_group(job.subscription_id),
        html,
        subscription_id=job.subscription_id,
        resource_group_name=job.resource_group_name,
    )


def discovered_servers_changed(project, servers=()) -> None:
    """The Server Migration counts of one project, and the rows of the servers that changed (each
    replaces its row, or is inserted into the Discovered servers table): never the whole table, so
    discovering N servers costs N small pushes, not N full tables."""
    from hub import clock
    from replication.selectors import server_migration_counts

    counts = server_migration_counts(project, clock.now())
    group = project.resource_group
    scope = {"subscription_id": group.subscription_id, "resource_group_name": group.name}
    html = render_to_string("projects/_server_migration_counts.html", {"project": project, "counts": counts})
    _send(subscription_group(group.subscription_id), html, **scope)
    # Table rows travel alone: a browser parses a <tr> only where a table may start.
    rows = "".join(render_to_string("replication/_discovered_row.html", {"server": server}) for server in servers)
    if rows:
        _send(subscription_group(group.subscription_id), rows, **scope)


def replicating_servers_changed(project, items=()) -> None:
    """Rows of the Replicating servers table and the live parts of each server's blade for the items
    that changed, with the project's Server Migration counts and its overview's health and transfer
    chart. The items are read again with their relations: the push shows what was committed, in a
    fixed number of queries."""
    from hub import clock
    from replication.models import MigrationItem
    from replication.portal import monitor
    from replication.selectors import server_migration_counts

    now = clock.now()
    counts = server_migration_counts(project, now)
    html = render_to_string("projects/_server_migration_counts.html", {"project": project, "counts": counts})
    overview = {
        "project": project,
        "health": monitor.health_summary(project, now),
        "transfer": monitor.transfer_chart(project, now),
    }
    for part in ("health", "transfer"):
        html += render_to_string(f"replication/overview.html#{part}", overview)
    # Table rows travel alone: a browser parses a <tr> only where a table may start, so rows that
    # follow a <dl> or a <section> in one message would be dropped.
    rows_html = ""
    fresh = monitor.blade_rows(MigrationItem.objects.filter(pk__in=[item.pk for item in items], project=project))
    for item in fresh:
        rows_html += render_to_string("replication/_replicating_row.html", {"item": item, "now": now})
        detail = monitor.detail_context(item, now)
        for part in monitor.DETAIL_LIVE_PARTS:
            html += render_to_string(f"replication/replicating_server.html#{part}", detail)
    group = project.resource_group
    for message in (html, rows_html):
        if message:
            _send(
                subscription_group(group.subscription_id),
                message,
                subscription_id=group.subscription_id,
                resource_group_name=group.name,
            )
