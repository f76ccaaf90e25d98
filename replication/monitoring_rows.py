"""One row of Replicating machines as HTML, built in Python.

The row is the page's bulk: 50 per page, and every replication cycle pushes rows again
(replication.push). Rendered by the template engine it cost about 0.6 ms of CPU per row (some 40
variable lookups, two includes and three `{% url %}` each); built here, a fraction of that. The
templates still name the row (`_replicating_row.html` is the `{% replicating_row %}` tag, and
`_replicating_rows.html` the `{% replicating_rows %}` tag for a page of them), so the page, the live
push and the row view send the same HTML. The health badge is the template `_replicating_health.html`,
rendered once per health value (it depends on nothing else).

A row shows its health, not its errors: RowHealth judges it from the rules that can hold at that moment,
read once for a page of rows, without building the errors item_status lists for the blade and the API."""

from __future__ import annotations

from functools import lru_cache
from html import escape as _escape

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeData, SafeString, mark_safe

from hub import units
from jobs.models import TERMINAL_STATES
from replication.health import HEALTH_OF_LEVEL
from replication.health_conditions import HealthRule
from replication.models import MigrationItem, MigrationState
from replication.monitoring import item_url, rules_in_force
from replication.status import item_status


def _html(value) -> str:
    """What format_html puts in for a value: itself when it is safe HTML, else escaped (Django's escape
    is the standard library's html.escape, without the lazy-string wrapper that costs more than it)."""
    return value if isinstance(value, SafeData) else _escape(str(value))


class RowHealth:
    """replication.health.health(state, health_errors(item, disks, now)) for the rows of one moment,
    without the errors: by migration state, the rules that watch it, worst level first, each asked only
    whether it holds. A rule of an injected fault that is in force nowhere is left out (the faults in
    force are read once, here), so with no fault in force no row spends time on those rules."""

    def __init__(self, now):
        self.now = now
        rules = rules_in_force(now)
        self.by_state = {
            state: [
                (health, checks)
                for level, health in HEALTH_OF_LEVEL.items()
                if (checks := [self._check(rule) for rule in rules if rule.level == level and state in rule.states])
            ]
            for state in MigrationState.values
        }

    @staticmethod
    def _check(rule):
        """rule.errors(...) != [], as a test of the item: its condition, unless the rule words its errors
        itself (DiskResyncing: one per disk)."""
        if type(rule).errors is HealthRule.errors:
            holds = rule.condition.holds
            return lambda item, disks, now: holds(item, now)
        return lambda item, disks, now: bool(rule.errors(item, disks, now))

    def __call__(self, item, disks) -> str:
        state = item.migration_state
        if state == MigrationState.ENABLE_MIGRATION_IN_PROGRESS:
            return "None"
        now = self.now
        for health, checks in self.by_state.get(state, ()):
            for check in checks:
                if check(item, disks, now):
                    return health
        return "Normal"


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
    return mark_safe(before + _escape(menu_url) + middle + _escape(menu_label) + after)  # noqa: S308


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


def row_html(item: MigrationItem, now, health_of: RowHealth | None = None) -> SafeString:
    """The row of one replicating server; `item` comes with its relations (monitoring.rows). `health_of`:
    the RowHealth of `now`, when many rows are built (rows_html)."""
    status = item_status(item, now, health_of=health_of or RowHealth(now))
    server_name = item.server.name
    job = item.current_job
    running = _running(job)
    attributes = ""
    if running:
        row_url = item_url("replication:replicating-row", item.pk)
        attributes = _RUNNING_JOB_ATTRIBUTES.format(_escape(row_url), _html(item.current_job_id))
    vm_name = (
        f'<br><small class="muted">Azure VM {_escape(item.target_vm_name)}</small>'
        if item.target_vm_name.lower() != server_name.lower()
        else ""
    )
    progress = ""
    if status.replication_status == "Initial replication" and item.replication_started_at:
        percent = status.initial_progress_percent
        progress = _PROGRESS.format(_escape(server_name), percent, percent)
    point_at = item.last_recovery_point_at
    if point_at:
        local = timezone.localtime(point_at)
        point = f'<time datetime="{_escape(local.isoformat())}">{_escape(local.strftime("%Y-%m-%d %H:%M:%S"))}</time>'
    else:
        point = "-"
    if running:
        current_job = (
            f'<a href="{_escape(item_url("jobs:detail", job.pk))}">{_html(job.friendly_name)}</a> '
            f'<small class="muted">{_html(job.get_state_display())}</small>'
        )
    else:
        current_job = "-"
    menu = menu_button(item_url("replication:item-menu", item.pk), server_name)
    return mark_safe(  # noqa: S308 (every value below is escaped, or HTML built here from escaped values)
        _ROW.format(
            _html(item.pk),
            _html(item.project_id),
            attributes,
            _escape(item_url("replication:replicating-server", item.pk)),
            _html(server_name),
            vm_name,
            _html(status.migration_state_description),
            progress,
            _html(status.replication_status or "-"),
            health_badge(status.health),
            point,
            _escape(rpo_text(status.rpo_seconds)),
            _html(units.decimal_size(status.transferred_bytes)),
            _html(units.decimal_rate(status.throughput_bytes_per_second)),
            current_job,
            _html(status.test_migrate_state_description),
            menu,
        )
    )


def rows_html(items, now) -> SafeString:
    """The rows of a page, each followed by a line break (as `{% for %}` over `{% replicating_row %}` put
    them), their health judged by one RowHealth."""
    health_of = RowHealth(now)
    return mark_safe("".join(row_html(item, now, health_of) + "\n" for item in items))  # noqa: S308 (rows)
