"""What Server Migration's monitoring screens show, read apart from the views that serve them and from
replication.push, which renders the same parts live: the Replicating machines list (filters, search,
sorting, pages), one replicating server's blade with its commands, and the Server Migration overview.

The list must stay fast with 10,000 servers, so filtering and sorting happen in SQL: health comes from
replication.health's rules as a SQL expression (`with_health`), and only the rows of the page shown
are read with their relations and get `item_status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, lru_cache, partial
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, F, FloatField, IntegerField, Q, Value, When, Window
from django.db.models.functions import Lower, RowNumber
from django.urls import get_script_prefix, reverse

from faults import services as faults
from jobs.models import TERMINAL_STATES, Job, State
from projects.models import MigrateProject
from replication.fault_health import FaultInForce
from replication.health import HEALTH_BY_RANK, HEALTH_RANKS, RULES
from replication.models import MigrationItem, MigrationState, TransferSample
from replication.monitoring_health import HealthRank
from replication.monitoring_listed import read_listed_rows
from replication.selectors import server_migration_counts
from replication.status import THROUGHPUT_STALE_AFTER, item_status, unavailable_reason

PAGE_SIZE = 50
RECOVERY_POINTS_SHOWN = 20
JOBS_SHOWN = 10
OVERVIEW_JOBS_SHOWN = 5
TRANSFER_MINUTES = 60

RPO_STATES = (MigrationState.REPLICATING, MigrationState.MIGRATION_IN_PROGRESS)

# The Status filter: the words of the Status column, each the migration states it covers.
STATUS_FILTERS = {
    "enabling": ("Enabling replication", (MigrationState.ENABLE_MIGRATION_IN_PROGRESS,)),
    "initial": ("Initial replication", (MigrationState.INITIAL_SEEDING_IN_PROGRESS,)),
    "ready": ("Ready to migrate", (MigrationState.REPLICATING,)),
    "migrating": ("Migration in progress", (MigrationState.MIGRATION_IN_PROGRESS,)),
    "migrated": ("Migrated", (MigrationState.MIGRATION_SUCCEEDED,)),
    "failed": ("Failed", (MigrationState.ENABLE_MIGRATION_FAILED, MigrationState.MIGRATION_FAILED)),
    "stopping": ("Stopping replication", (MigrationState.DISABLE_MIGRATION_IN_PROGRESS,)),
}
# Sorting by Status follows the replication's life.
STATUS_ORDER = [state for _, states in STATUS_FILTERS.values() for state in states]

# Azure's operation names (status.allowed_operations), the portal's words for them (the tutorial's: "right-click
# the VM > Stop migration") and their blades, in menu order.
OPERATIONS = (
    ("TestMigrate", "Test migrate", "replication:test-migrate"),
    ("TestMigrateCleanup", "Clean up test migration", "replication:test-migrate-cleanup"),
    ("Migrate", "Migrate", "replication:migrate"),
    ("DisableMigration", "Stop migration", "replication:stop-replication"),
)

# The columns `_sorted` orders by (the sort parameter, a leading "-" for descending).
SORTABLE = {"name", "status", "health", "recovery-point", "rpo", "transferred", "throughput", "test"}


def rows(items):
    """What a row (and item_status) reads, in two queries for any number of rows: the item with its
    server, current job, appliance and policy, then the disks. (A project has a few appliances and
    policies; read apart they cost two more queries, and matching them to the rows more CPU than
    reading a copy of each with its row.)"""
    return items.select_related("server", "current_job", "appliance", "policy").prefetch_related("disks")


def blade_rows(items):
    """rows(), plus what a server's blade shows of its project and target."""
    return rows(items).select_related(
        "project__resource_group__subscription", "target_resource_group", "target_network", "test_network"
    )


def rules_in_force(now) -> list:
    """replication.health's RULES that can hold at `now`: all but those of injected faults in force
    nowhere (read once a second: faults.services.in_force_by_kind)."""
    in_force = faults.in_force_by_kind(now)
    return [
        rule
        for rule in RULES
        if not isinstance(getattr(rule, "condition", None), FaultInForce) or in_force.get(rule.condition.kind)
    ]


def with_health(items, project: MigrateProject, now):
    """Annotate `health_rank` (HEALTH_RANKS) from replication.health's rules in SQL, so the list can
    filter and sort by health and the overview can count it without computing every item's status
    (its SQL compiled once per process where it can be: monitoring_health.HealthRank)."""
    return items.annotate(health_rank=HealthRank(now, project.policies.all()))


def _sorted(items, sort: str, now, *, backwards: bool = False, scanned: bool = False):
    """Order by a column (a leading "-" for descending); rows without a value go last either way.
    The server name and id break ties, so pages never overlap. `backwards` gives the exact reverse
    order, in which a page near the end is near the start (page_of). `scanned`: the query reads every
    row anyway (a page that counts its list, page_of's count_in_page), so the name order is given in a
    form the name index does not serve (lower(lower(name)): the same values, the same collation, so the
    same order). Otherwise PostgreSQL 15, which costs COUNT(*) OVER () as if the window could stop
    early, walks that index probing each server's item (10,000 probes: 22-43 ms for the search 'db')
    rather than hashing the join and sorting (about 12 ms)."""
    name = Lower(Lower("server__name")) if scanned else Lower("server__name")
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "status":
        items = items.annotate(
            status_rank=Case(
                *(When(migration_state=state, then=Value(rank)) for rank, state in enumerate(STATUS_ORDER)),
                default=Value(len(STATUS_ORDER)),
                output_field=IntegerField(),
            )
        )
        column = F("status_rank")
    elif key == "health":
        column = F("health_rank")
    elif key == "recovery-point":
        column = F("last_recovery_point_at")
    elif key == "rpo":
        # The smallest RPO is the most recent point: sort the point's time the other way round.
        items = items.annotate(rpo_since=Case(When(migration_state__in=RPO_STATES, then=F("last_recovery_point_at"))))
        column, descending = F("rpo_since"), not descending
    elif key == "transferred":
        # The included disks' bytes, summed by triggers as the disks are written (migration
        # 0015_monitor_transferred_total) and indexed with the project: no join nor GROUP BY of the disks.
        column = F("transferred_total")
    elif key == "throughput":
        items = items.annotate(
            current_throughput=Case(
                When(last_upload_at__gte=now - THROUGHPUT_STALE_AFTER, then=F("throughput_bytes_per_second")),
                default=Value(0.0),
                output_field=FloatField(),
            )
        )
        column = F("current_throughput")
    elif key == "test":
        column = F("test_migrate_state")
    else:
        column = name
    if key == "transferred":
        # Never null, so no NULLS clause: PostgreSQL matches an order to an index's only when the NULLS
        # placement agrees too, and the index (project, transferred_total) has the default one.
        ordered = column.desc() if descending != backwards else column.asc()
    elif backwards:
        # asc nulls last, reversed, is desc nulls first (and the other way round).
        ordered = column.asc(nulls_first=True) if descending else column.desc(nulls_first=True)
    else:
        ordered = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
    if backwards:
        return items.order_by(ordered, name.desc(), "-pk")
    return items.order_by(ordered, name.asc(), "pk")


def replicating_items(project: MigrateProject):
    """The servers Replicating machines lists: a migrated server whose replication was stopped (the
    migration completed) has left it."""
    return project.migration_items.filter(replication_stopped_at__isnull=True)


def _filtered_unranked(project: MigrateProject, *, status: str, search: str):
    """The list's status filter and search, without health: what a list sorted by health counts, since
    sorting keeps every row (the count then skips the health CASE and the joins it brings)."""
    items = replicating_items(project)
    if status in STATUS_FILTERS:
        items = items.filter(migration_state__in=STATUS_FILTERS[status][1])
    if search:
        items = items.filter(Q(server__name__icontains=search) | Q(target_vm_name__icontains=search))
    return items


def _filtered(project: MigrateProject, now, *, health: str, status: str, search: str, sort: str):
    items = _filtered_unranked(project, status=status, search=search)
    if health in HEALTH_RANKS or sort.lstrip("-") == "health":
        # Only when asked for: it joins the server and the appliance.
        items = with_health(items, project, now)
    if health in HEALTH_RANKS:
        items = items.filter(health_rank=HEALTH_RANKS[health])
    return items


def filtered_items(project: MigrateProject, now, *, health: str = "", status: str = "", search: str = "", sort=""):
    return _sorted(_filtered(project, now, health=health, status=status, search=search, sort=sort), sort, now)


class _CountedPaginator(Paginator):
    """A Paginator whose count comes from another queryset: the filtered items before sorting. Counting
    the sorted list would count through the sort's aggregate (the transferred bytes' join and GROUP BY),
    about 15 ms of 10,000 rows for nothing."""

    def __init__(self, object_list, per_page, counted):
        super().__init__(object_list, per_page)
        self.counted = counted

    @cached_property
    def count(self) -> int:
        return self.counted.count()


def list_page(project: MigrateProject, now, number, *, health="", status="", search="", sort="name"):
    """One page of Replicating machines, filtered and sorted (see filtered_items): the Page of ids and
    the page's items read whole (page_of)."""
    filtered = _filtered(project, now, health=health, status=status, search=search, sort=sort)
    # The health filter's count and page would both evaluate health for every server (the CASE over
    # the joined server and appliance), and a search's both test every server's name: such a page
    # counts in the same scan. Measured with EXPLAIN ANALYZE on 10,000 servers, that saves a third of
    # the health filter's time, and a search's count (13 ms). For the other lists a separate count is
    # cheaper (it skips the sort's joins, and the name order's index stops early).
    count_in_page = health in HEALTH_RANKS or bool(search)
    if any(isinstance(getattr(rule, "condition", None), FaultInForce) for rule in rules_in_force(now)):
        read = _read_rows  # a fault's rule reads more of an item than a listed row holds
    else:
        read = partial(read_listed_rows, project=project)
    page, items = page_of(
        _sorted(filtered, sort, now, scanned=count_in_page),
        number,
        # A health sort keeps every row: its count needs neither the CASE nor the joins it brings.
        counted=filtered if health in HEALTH_RANKS else _filtered_unranked(project, status=status, search=search),
        backwards=_sorted(filtered, sort, now, backwards=True, scanned=count_in_page),
        count_in_page=count_in_page,
        read=read,
    )
    for item in items:
        item.project = project  # the page's project, with its group: no query when a row's rule reads it
    return page, items


def _asked_page_number(number) -> int:
    """The page Paginator.get_page(number) gives when it exists: page 1 for nothing or not a number."""
    try:
        return int(number)
    except (TypeError, ValueError):
        return 1


def _page_counted_in_query(paginator, items, number):
    """The asked page's ids and the list's count from one query (COUNT(*) OVER () beside each id), or
    None when that page does not exist (get_page's fallbacks then apply)."""
    asked = _asked_page_number(number)
    if asked < 1:
        return None
    start = (asked - 1) * PAGE_SIZE
    counted_rows = list(
        items.annotate(listed=Window(Count("pk"))).values_list("pk", "listed")[start : start + PAGE_SIZE]
    )
    if not counted_rows and asked > 1:
        return None
    paginator.count = counted_rows[0][1] if counted_rows else 0  # the cached_property, given
    page = paginator.page(asked)
    page.object_list = [pk for pk, _ in counted_rows]
    return page


def page_of(
    items, number, *, counted=None, backwards=None, count_in_page=False, read=None
) -> tuple[Page, list[MigrationItem]]:
    """One page of a filtered, sorted list. Filtering, sorting and counting read only narrow rows (ids
    and what the filter and sort need); only the page's rows are then read whole, with their relations.
    `counted` (by default `items`) is what the pages count. `backwards`, the same list in the reverse
    order, serves the pages of the second half: the last page is then the first 50 rows of it, a
    top-N sort or an index's first entries, instead of a sort of every row and an OFFSET past them.
    `count_in_page`, for a list whose page reads every row anyway: the page asked for counts them in the
    same query (COUNT(*) OVER ()), instead of a second scan for the count; only a page past the end
    takes the two queries. `read(ids)` reads the page's rows (by default _read_rows: models)."""
    read = read or _read_rows
    ids_only = items.values_list("pk", flat=True)
    counted = ids_only if counted is None else counted.values_list("pk", flat=True)
    paginator = _CountedPaginator(ids_only, PAGE_SIZE, counted)
    if count_in_page:
        page = _page_counted_in_query(paginator, items, number)
        if page is not None:
            return page, read(page.object_list)
    page = paginator.get_page(number)
    start, end = page.start_index() - 1, page.end_index()
    total = paginator.count
    if backwards is not None and end > start and start > total - end:
        ids = list(backwards.values_list("pk", flat=True)[total - end : total - start])[::-1]
        page.object_list = ids
    else:
        ids = list(page.object_list)
    return page, read(ids)


def _read_rows(ids) -> list[MigrationItem]:
    """The page's items read whole, with their relations (rows), in the order of `ids`."""
    if not ids:
        return []
    by_id = {item.pk: item for item in rows(MigrationItem.objects.filter(pk__in=ids))}
    return [by_id[pk] for pk in ids if pk in by_id]


def health_summary(project: MigrateProject, now) -> dict[str, int]:
    """How many replicating servers are Normal, Warning and Critical (one aggregate query)."""
    counted = (
        with_health(replicating_items(project), project, now)
        .order_by()
        .values("health_rank")
        .annotate(count=Count("pk"))
    )
    summary = dict.fromkeys(("Normal", "Warning", "Critical"), 0)
    for row in counted:
        health = HEALTH_BY_RANK[row["health_rank"]]
        if health in summary:
            summary[health] = row["count"]
    return summary


def transfer_chart(project: MigrateProject, now) -> dict:
    """Bytes uploaded per minute over the last hour, as bars of an inline SVG (tallest = full height)."""
    end = now.replace(second=0, microsecond=0)
    start = end - timedelta(minutes=TRANSFER_MINUTES - 1)
    by_minute = dict(
        TransferSample.objects.filter(project=project, minute__gte=start, minute__lte=end).values_list(
            "minute", "bytes"
        )
    )
    minutes = [start + timedelta(minutes=index) for index in range(TRANSFER_MINUTES)]
    values = [by_minute.get(minute, 0) for minute in minutes]
    peak = max(values) or 1
    bar_width, height = 10, 100
    bars = []
    for index, (minute, value) in enumerate(zip(minutes, values, strict=True)):
        bar_height = round(height * value / peak) if value else 0
        bars.append(
            {
                "minute": minute,
                "bytes": value,
                "x": index * bar_width,
                "y": height - bar_height,
                "height": bar_height,
                "width": bar_width - 2,
            }
        )
    return {
        "bars": bars,
        "total": sum(values),
        "peak": max(values),
        "width": TRANSFER_MINUTES * bar_width,
        "height": height,
        "start": start,
        "end": end,
    }


def server_migration_jobs(project: MigrateProject):
    """Server Migration's jobs for a project: those about the project itself (Create resources, appliances)
    and those about replicating servers in its resource group. Jobs keep no project, only a resource
    group, so two projects in one resource group share their replicating servers' jobs."""
    group = project.resource_group
    about_it = Q(target_object_id__istartswith=project.arm_id) | Q(target_instance_type="ProtectionEntity")
    return Job.objects.in_group(group).filter(about_it)


def jobs_summary(project: MigrateProject) -> dict:
    jobs = server_migration_jobs(project)
    running = jobs.exclude(state__in=TERMINAL_STATES)
    failed = jobs.filter(state=State.FAILED)
    counts = jobs.aggregate(  # both counts in one query
        running_count=Count("pk", filter=~Q(state__in=TERMINAL_STATES)),
        failed_count=Count("pk", filter=Q(state=State.FAILED)),
    )
    return {
        **counts,
        "running": list(running[:OVERVIEW_JOBS_SHOWN]),
        "failed": list(failed[:OVERVIEW_JOBS_SHOWN]),
    }


def item_jobs(item: MigrationItem):
    return Job.objects.filter(
        subscription_id=item.project.resource_group.subscription_id, target_object_id=str(item.pk)
    )


def items_jobs(items) -> dict[str, list]:
    """Each item's latest JOBS_SHOWN jobs (by item id), in one query: a push of many items' blades."""
    ids = [str(item.pk) for item in items]
    subscriptions = {item.project.resource_group.subscription_id for item in items}
    latest = (
        Job.objects.filter(subscription_id__in=subscriptions, target_object_id__in=ids)
        .annotate(rank=Window(RowNumber(), partition_by=F("target_object_id"), order_by=F("created_at").desc()))
        .filter(rank__lte=JOBS_SHOWN)
        .select_related("created_by")
        .order_by("-created_at")
    )
    jobs: dict[str, list] = {item_id: [] for item_id in ids}
    for job in latest:
        jobs[job.target_object_id].append(job)
    return jobs


@dataclass
class Action:
    operation: str
    label: str
    url: str
    reason: str  # why it is disabled; "" when it may run now


# Stands for an item's id in a URL reversed once (item_url).
ITEM_ID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


@lru_cache(maxsize=64)
def _item_url_pattern(url_name: str, script_prefix: str) -> str:
    return reverse(url_name, args=[ITEM_ID_PLACEHOLDER])


def item_url(url_name: str, item_pk) -> str:
    """reverse(url_name, args=[item_pk]) for a URL whose only argument is an item's id. A page of rows
    asks for 5 URLs per row; reverse() costs about 0.1 ms each, so each URL is reversed once (per
    script prefix) and the id put in its place."""
    return _item_url_pattern(url_name, get_script_prefix()).replace(ITEM_ID_PLACEHOLDER, str(item_pk))


def actions(item: MigrationItem, next_url: str = "") -> list[Action]:
    """The item's commands, in menu order: each a link back to `next_url` when the item's state allows
    it, else why not (status.unavailable_reason)."""
    query = "?" + urlencode({"next": next_url}) if next_url else ""
    return [
        Action(operation, label, item_url(url_name, item.pk) + query, unavailable_reason(item, operation))
        for operation, label, url_name in OPERATIONS
    ]


def operations(item: MigrationItem) -> list[Action]:
    """The commands of the item's rows and blade, returning to its blade. The same HTML is pushed to
    every viewer, so only the state decides here; each command's own blade then checks the user's role."""
    return actions(item, item_url("replication:replicating-server", item.pk))


def detail_context(item: MigrationItem, now, jobs: list | None = None) -> dict:
    """What the server's blade and its live parts show; the item comes from `blade_rows()`. `jobs`: its
    latest jobs when the caller read many items' at once (items_jobs)."""
    status = item_status(item, now)
    return {
        "item": item,
        "now": now,
        "status": status,
        "operations": operations(item),
        "disks": list(item.disks.all()),
        "recovery_points": list(item.recovery_points.all()[:RECOVERY_POINTS_SHOWN]),
        "recovery_points_shown": RECOVERY_POINTS_SHOWN,
        "jobs": jobs if jobs is not None else list(item_jobs(item).select_related("created_by")[:JOBS_SHOWN]),
    }


def overview_context(project: MigrateProject, now) -> dict:
    return {
        "project": project,
        "now": now,
        "counts": server_migration_counts(project, now),
        "health": health_summary(project, now),
        "transfer": transfer_chart(project, now),
        "jobs": jobs_summary(project),
    }


# The blade's parts with stable ids, pushed live (replication.push.replicating_servers_changed).
DETAIL_LIVE_PARTS = ("commands", "summary", "health", "disks", "target", "points", "jobs")

# The overview's parts with stable ids: health and transfer are pushed with the replicating servers;
# jobs are asked for again when a job row is pushed (see overview.html).
OVERVIEW_LIVE_PARTS = ("health", "transfer", "jobs")
