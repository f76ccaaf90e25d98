"""Template helpers for replicating servers, so a row or a blade part renders from the item alone (the
live push sends only `item` and `now`)."""

from __future__ import annotations

from django import template
from django.utils.dateparse import parse_datetime

from hub.templatetags import portal
from jobs.models import TERMINAL_STATES
from replication import monitoring_rows, status

register = template.Library()


@register.simple_tag
def item_status(item, now) -> status.ItemStatus:
    """replication.status.item_status; cheap when the item comes with its relations and disks
    (replication.monitoring.rows), a few queries otherwise."""
    return status.item_status(item, now)


@register.filter
def running(job) -> bool:
    """A job that has not ended: the portal links to it as the item's current job."""
    return job is not None and job.state not in TERMINAL_STATES


@register.filter
def rpo(seconds) -> str:
    """An RPO as Azure shows it: "45 sec", "12 min", "3 hr 5 min"."""
    return monitoring_rows.rpo_text(seconds)


@register.simple_tag
def replicating_row(item, now):
    """One row of Replicating machines (replication.monitoring_rows: built in Python, for speed)."""
    return monitoring_rows.row_html(item, now)


@register.simple_tag
def replicating_rows(items, now):
    """A page of those rows, each followed by a line break; their health judged once for the page."""
    return monitoring_rows.rows_html(items, now)


# The portal's data amounts (hub.templatetags.portal), here too: a live push renders a row with this
# library only.
register.filter(portal.throughput)
register.filter(portal.size)


@register.filter
def disk_progress(disk) -> int:
    """A disk's read progress in its full cycle, of its data to send (replication.status.data_progress)."""
    read, to_send = status.data_progress(disk)
    return percent(read, to_send)


@register.filter
def percent(part, whole) -> int:
    return min(100, int(100 * (part or 0) / whole)) if whole else 0


@register.filter
def arm_name(arm_id) -> str:
    """The last segment of an ARM id: the resource's name."""
    return str(arm_id or "").rstrip("/").rsplit("/", 1)[-1]


@register.filter
def iso_time(text) -> str:
    """An ISO 8601 time from an ARM body (a health error's creationTimeUtc) as the portal shows times."""
    moment = parse_datetime(str(text or ""))
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else str(text or "")
