"""One row of Replicating machines as HTML, built in Python.

The row is the page's bulk: 50 per page, and every replication cycle pushes rows again
(replication.push). Rendered by the template engine it cost about 0.6 ms of CPU per row (some 40
variable lookups, two includes and three `{% url %}` each); built here with format_html, about 0.2 ms,
most of it item_status and the menu button's template. The templates still name the row
(`_replicating_row.html` is the `{% replicating_row %}` tag), so the page, the live push and the row
view send the same HTML. The health badge is the
template `_replicating_health.html`, rendered once per health value (it depends on nothing else)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from hub import units
from jobs.models import TERMINAL_STATES
from replication.models import MigrationItem
from replication.monitoring import item_url
from replication.status import item_status

_RUNNING_JOB_ATTRIBUTES = (
    'hx-get="{}" hx-swap="outerHTML"\n'
    "    hx-trigger=\"hub:live[detail.html.includes('id=&quot;job-{}')] from:document delay:200ms\""
)
_ROW = (
    '<tr id="replicating-{}" data-live-insert="#replicating-rows-{}" class="replicating-row"\n    {}>\n'
    '  <td><a href="{}">{}</a>{}</td>\n'
    '  <td class="replication-state">{}{}</td>\n'
    "  <td>{}</td>\n"
    "  <td>{}</td>\n"
    "  <td>{}</td>\n"
    "  <td>{}</td>\n"
    "  <td>{}</td>\n"
    "  <td>{}</td>\n"
    "  <td>{}</td>\n"
    "  <td>{}</td>\n"
    '  <td class="row-actions">{}</td>\n'
    "</tr>\n"
)
_PROGRESS = (
    '\n    <span class="progress" role="progressbar" aria-label="Initial replication of {}" aria-valuenow="{}" '
    'aria-valuemin="0" aria-valuemax="100"><span style="width: {}%"></span></span>'
)


def _health_badge_rendered(health: str) -> SafeString:
    return mark_safe(render_to_string("replication/_replicating_health.html", {"health": health}))  # noqa: S308


_health_badge_cached = lru_cache(maxsize=8)(_health_badge_rendered)


def health_badge(health: str) -> SafeString:
    """_replicating_health.html for one health value; cached per process outside DEBUG, where templates
    do not change while the hub runs."""
    return _health_badge_rendered(health) if settings.DEBUG else _health_badge_cached(health)


# Stand for the menu button's two values in its template rendered once (menu_button).
_MENU_URL = "\x00menu-url\x00"
_MENU_LABEL = "\x00menu-label\x00"


def _menu_button_parts() -> tuple[str, str, str]:
    """hub/_row_menu_button.html cut around its URL and its label, which it shows in that order."""
    rendered = render_to_string("hub/_row_menu_button.html", {"menu_url": _MENU_URL, "menu_label": _MENU_LABEL})
    before, rest = rendered.split(_MENU_URL)
    middle, after = rest.split(_MENU_LABEL)
    return before, middle, after


_menu_button_parts_cached = lru_cache(maxsize=1)(_menu_button_parts)


def menu_button(menu_url: str, menu_label: str) -> SafeString:
    """The row's "..." button, as the template renders it: the template is rendered once per process
    (outside DEBUG) and the row's two values put in, escaped as the template escapes them, instead of a
    template render per row (about 0.1 ms each, 50 a page)."""
    before, middle, after = _menu_button_parts() if settings.DEBUG else _menu_button_parts_cached()
    return mark_safe(before + escape(menu_url) + middle + escape(menu_label) + after)  # noqa: S308


def _running(job) -> bool:
    return job is not None and job.state not in TERMINAL_STATES


def rpo_text(seconds) -> str:
    """An RPO as Azure shows it: "45 sec", "12 min", "3 hr 5 min"."""
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} sec"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} hr {minutes} min" if minutes else f"{hours} hr"
    return f"{hours // 24} days"


def row_html(item: MigrationItem, now) -> SafeString:
    """The row of one replicating server; `item` comes with its relations (monitoring.rows)."""
    status = item_status(item, now)
    server_name = item.server.name
    job = item.current_job
    running = _running(job)
    attributes = ""
    if running:
        row_url = item_url("replication:replicating-row", item.pk)
        attributes = format_html(_RUNNING_JOB_ATTRIBUTES, row_url, item.current_job_id)
    vm_name = (
        format_html('<br><small class="muted">Azure VM {}</small>', item.target_vm_name)
        if item.target_vm_name.lower() != server_name.lower()
        else ""
    )
    progress = ""
    if status.replication_status == "Initial replication" and item.replication_started_at:
        percent = status.initial_progress_percent
        progress = format_html(_PROGRESS, server_name, percent, percent)
    point_at = item.last_recovery_point_at
    if point_at:
        local = timezone.localtime(point_at)
        point = format_html('<time datetime="{}">{}</time>', local.isoformat(), local.strftime("%Y-%m-%d %H:%M:%S"))
    else:
        point = "-"
    if running:
        current_job = format_html(
            '<a href="{}">{}</a> <small class="muted">{}</small>',
            item_url("jobs:detail", job.pk),
            job.friendly_name,
            job.get_state_display(),
        )
    else:
        current_job = "-"
    menu = menu_button(item_url("replication:item-menu", item.pk), server_name)
    return format_html(
        _ROW,
        item.pk,
        item.project_id,
        attributes,
        item_url("replication:replicating-server", item.pk),
        server_name,
        vm_name,
        status.migration_state_description,
        progress,
        status.replication_status or "-",
        health_badge(status.health),
        point,
        rpo_text(status.rpo_seconds),
        units.decimal_size(status.transferred_bytes),
        units.decimal_rate(status.throughput_bytes_per_second),
        current_job,
        status.test_migrate_state_description,
        menu,
    )
