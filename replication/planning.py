"""The planner's inputs, read from the hub: each selected server's disks, the data its agent found,
its churn (declared, else measured), the upload bandwidth (declared, else the appliance's cap), the
compression measured on the project, and the VM build rate of earlier builds. The arithmetic is
`replication.capacity_plan`'s; the planner page, the Replicate wizard's review, the ARM API and the
Migrate page read their figures through here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import median

from django.db.models import Sum

from hub import clock
from jobs.models import JobTask
from jobs.models import State as JobState
from replication import capacity_plan
from replication.capacity_plan import BandwidthPlan, CutoverForecast, ServerLoad
from replication.models import Appliance, DiscoveredServer, MigrationItem, ProtectedDisk
from replication.policies import replication_policy

# Bounds of what a planner accepts (portal and API alike).
MAX_PLANNED_SERVERS = 1000
MAX_CHURN_MBPS = 10_000.0  # megabytes per second per server: far beyond any disk
MAX_BANDWIDTH_MBPS = 400_000.0  # megabits per second: four 100 Gbit/s links
MAX_RPO_TARGET_MINUTES = 7 * 24 * 60
DEFAULT_RPO_TARGET_MINUTES = 60.0
BUILD_STEPS = ("CreateVirtualMachine", "CreateTestVirtualMachine")
BUILDS_CONSIDERED = 5
# A list of items reads each project's build rate and compression once, not once per item.
PROJECT_FIGURES_SECONDS = 10.0
_project_figures: dict = {}


def _per_project(kind: str, project, compute):
    key, now = (kind, project.pk), time.monotonic()
    kept = _project_figures.get(key)
    if kept is not None and now - kept[0] < PROJECT_FIGURES_SECONDS:
        return kept[1]
    if len(_project_figures) > 1000:
        _project_figures.clear()
    value = compute()
    _project_figures[key] = (now, value)
    return value


@dataclass(frozen=True)
class Link:
    bytes_per_second: float
    source: str


@dataclass(frozen=True)
class Plan:
    figures: BandwidthPlan
    link: Link
    compression_source: str


def used_data(server: DiscoveredServer, disk_ids: set[str] | None = None) -> tuple[int, int, str]:
    """(disk bytes, data bytes, where the data figure comes from) of the server's selected disks: the data
    the agent counted while replicating them, else the used bytes its discovery reported, else the disk size."""
    disks = [disk for disk in server.disks if disk_ids is None or disk["diskId"] in disk_ids]
    disk_bytes = sum(int(disk["sizeBytes"]) for disk in disks)
    scanned = {}
    item = MigrationItem.objects.filter(server=server).first()
    if item is not None:
        scanned = {
            disk.disk_id: disk.data_total_bytes for disk in item.disks.filter(included=True) if disk.data_total_bytes
        }
    data, sources = 0, set()
    for disk in disks:
        if disk["diskId"] in scanned:
            data += scanned[disk["diskId"]]
            sources.add("found by the agent while replicating")
        elif isinstance(disk.get("usedBytes"), int):
            data += min(int(disk["usedBytes"]), int(disk["sizeBytes"]))
            sources.add("used space the agent reported")
        else:
            data += int(disk["sizeBytes"])
            sources.add("disk size (no used space reported)")
    return disk_bytes, data, "; ".join(sorted(sources))


def measured_churn(server: DiscoveredServer) -> float | None:
    """The server's average write rate since its initial replication: the block data its delta cycles
    carried (all data sent minus the initial cycle's) over the time between its first and last point."""
    item = MigrationItem.objects.filter(server=server).first()
    if item is None or item.initial_replication_completed_at is None or item.last_recovery_point_at is None:
        return None
    span = (item.last_recovery_point_at - item.initial_replication_completed_at).total_seconds()
    if span < 1:
        return None
    totals = item.disks.filter(included=True).aggregate(changed=Sum("changed_bytes"), data=Sum("data_total_bytes"))
    return max(0, (totals["changed"] or 0) - (totals["data"] or 0)) / span


def server_load(server: DiscoveredServer, disk_ids: set[str] | None = None, declared_churn: float | None = None):
    disk_bytes, data_bytes, data_source = used_data(server, disk_ids)
    if declared_churn is not None:
        churn, churn_source = declared_churn, "declared"
    else:
        measured = measured_churn(server)
        churn, churn_source = (measured, "measured") if measured is not None else (0.0, "none declared or measured")
    return ServerLoad(server.name, disk_bytes, data_bytes, churn, data_source, churn_source)


def link(appliance: Appliance | None, declared_bytes_per_second: float | None) -> Link:
    if declared_bytes_per_second:
        return Link(declared_bytes_per_second, "declared")
    if appliance is not None and appliance.upload_cap_bytes_per_second > 0:
        return Link(appliance.upload_cap_bytes_per_second, f"{appliance.name}'s upload cap")
    return Link(0.0, "not declared, and the appliance reports no cap")


def compression_ratio(project) -> tuple[float, str]:
    """Compressed ÷ original on this project's replication so far (wire bytes over block data, less the
    framing the model adds itself); 1.0 (no compression) before any data moved."""
    totals = ProtectedDisk.objects.filter(item__project=project).aggregate(
        wire=Sum("transferred_bytes"), data=Sum("changed_bytes")
    )
    if not totals["data"] or totals["data"] < 64 * 1024 * 1024:
        return 1.0, "assumed 1.0 (none measured yet: random data does not compress)"
    framing = capacity_plan.WIRE_BYTES_PER_BLOCK / capacity_plan.BLOCK_BYTES
    ratio = min(1.0, max(0.05, totals["wire"] / totals["data"] / framing))
    return ratio, f"{ratio:.2f}, measured on this project's replication"


def rpo_target_seconds(project, minutes: float | None) -> float:
    if minutes:
        return minutes * 60
    return replication_policy(project).rpo_threshold_minutes * 60


def plan(
    project,
    servers: list[tuple[DiscoveredServer, set[str] | None]],
    *,
    appliance: Appliance | None = None,
    declared_churn: dict | None = None,
    declared_bandwidth: float | None = None,
    rpo_target_minutes: float | None = None,
) -> Plan:
    """The plan for `servers` (each with its selected disk ids, None for all) replicating through
    `appliance` (else the project's first connected one)."""
    declared_churn = declared_churn or {}
    if appliance is None:
        appliance = project.appliances.filter(state=Appliance.State.FINALIZED).order_by("registered_at").first()
    loads = [server_load(server, disk_ids, declared_churn.get(server.pk)) for server, disk_ids in servers]
    chosen_link = link(appliance, declared_bandwidth)
    ratio, ratio_source = compression_ratio(project)
    figures = capacity_plan.bandwidth_plan(
        loads,
        bandwidth=chosen_link.bytes_per_second,
        cycle_seconds=replication_policy(project).cycle_seconds,
        rpo_target_seconds=rpo_target_seconds(project, rpo_target_minutes),
        compression_ratio=ratio,
    )
    return Plan(figures, chosen_link, ratio_source)


def build_rate(item: MigrationItem) -> tuple[float, float, str]:
    """(bytes per second, fixed seconds, source): the median rate of the latest VM builds of this
    project's servers (data of the item over the build step's time), else the model's defaults."""
    tasks = (
        JobTask.objects.filter(
            name__in=BUILD_STEPS,
            state=JobState.SUCCEEDED,
            ended_at__isnull=False,
            job__subscription_id=item.project.resource_group.subscription_id,
            job__resource_group_name=item.project.resource_group.name,
        )
        .select_related("job")
        .order_by("-ended_at")[:50]
    )
    rates = []
    for task in tasks:
        target = MigrationItem.objects.filter(pk=(task.job.input or {}).get("item_id"), project=item.project).first()
        seconds = (task.ended_at - task.started_at).total_seconds() if task.started_at else 0
        if target is None or seconds <= 0:
            continue
        data = target.disks.filter(included=True).aggregate(data=Sum("data_total_bytes"))["data"] or 0
        if data:
            rates.append(data / seconds)
        if len(rates) == BUILDS_CONSIDERED:
            break
    if rates:
        return median(rates), 0.0, f"measured on {len(rates)} earlier VM build{'s' if len(rates) != 1 else ''}"
    return (
        capacity_plan.DEFAULT_BUILD_BYTES_PER_SECOND,
        capacity_plan.DEFAULT_BUILD_FIXED_SECONDS,
        "model (no VM built in this project yet)",
    )


DELTA_CYCLES_CONSIDERED = 5


def delta_cycle_overhead(item: MigrationItem, churn: float, throughput: float, ratio: float) -> float | None:
    """What the server's recent delta cycles took beyond sending their changes: from a cycle's start (its
    point's captured_at) to its point recorded, less its changes (the churn over the time since the cycle
    before) at the throughput. The median of the last few; None before any delta cycle."""
    if item.initial_replication_completed_at is None or throughput <= 0:
        return None
    points = list(
        item.recovery_points.filter(is_final=False)
        .order_by("-cycle")
        .values_list("captured_at", "recorded_at")[: DELTA_CYCLES_CONSIDERED + 1]
    )
    overheads = []
    for (captured, recorded), (previous_captured, _) in zip(points, points[1:], strict=False):
        if recorded <= item.initial_replication_completed_at:
            continue
        changes = churn * max(0.0, (captured - previous_captured).total_seconds())
        overheads.append((recorded - captured).total_seconds() - capacity_plan.wire_bytes(changes, ratio) / throughput)
    return median(overheads) if overheads else None


def initial_replication_rate(item: MigrationItem, disks) -> float | None:
    """Bytes per second of the server's initial replication (its data over first batch stored -> first
    point): the rate its pipeline and link sustain, when no upload is under way to measure now."""
    if item.replication_started_at is None or item.initial_replication_completed_at is None:
        return None
    seconds = (item.initial_replication_completed_at - item.replication_started_at).total_seconds()
    data = sum(disk.data_total_bytes for disk in disks)
    return data / seconds if seconds > 0 and data else None


@dataclass(frozen=True)
class Forecast:
    figures: CutoverForecast
    churn_source: str
    throughput_source: str
    build_source: str
    cycle_source: str
    last_point_at: object


def cutover_forecast(item: MigrationItem) -> Forecast | None:
    """The expected downtime of a Migrate with shutdown of the item now; None before its first point."""
    if item.last_recovery_point_at is None:
        return None
    disks = list(item.disks.filter(included=True))
    data = sum(disk.data_total_bytes or disk.size_bytes for disk in disks)
    load = server_load(item.server, {disk.disk_id for disk in disks})
    initial_rate = initial_replication_rate(item, disks)
    # The initial replication's rate first: the upload window's rate, between small delta cycles, counts
    # the waits between batches and reads far below what the final sync moves.
    if initial_rate:
        throughput, throughput_source = initial_rate, "measured on this server's initial replication"
    elif item.throughput_bytes_per_second > 0:
        throughput, throughput_source = item.throughput_bytes_per_second, "measured on this server's uploads"
    else:
        chosen = link(item.appliance, None)
        throughput = chosen.bytes_per_second or capacity_plan.DEFAULT_SCAN_BYTES_PER_SECOND / 8
        throughput_source = chosen.source if chosen.bytes_per_second else "model (nothing measured yet)"
    build_bytes_per_second, build_fixed, build_source = _per_project("build", item.project, lambda: build_rate(item))
    ratio = _per_project("compression", item.project, lambda: compression_ratio(item.project))[0]
    overhead = delta_cycle_overhead(item, load.churn_bytes_per_second, throughput, ratio)
    figures = capacity_plan.cutover_forecast(
        churn=load.churn_bytes_per_second,
        seconds_since_last_point=(clock.now() - item.last_recovery_point_at).total_seconds(),
        data_bytes=data,
        disk_bytes=sum(disk.size_bytes for disk in disks),
        throughput=throughput,
        compression_ratio=ratio,
        measured_cycle_overhead_seconds=overhead,
        build_bytes_per_second=build_bytes_per_second,
        build_fixed_seconds=build_fixed,
    )
    cycle_source = "measured on its delta cycles" if overhead is not None else "model (no delta cycle yet)"
    return Forecast(
        figures, load.churn_source, throughput_source, build_source, cycle_source, item.last_recovery_point_at
    )


def forecast_properties(item: MigrationItem) -> dict | None:
    """The item's `cutoverForecast` property (after Google Migrate to Virtual Machines'), or None."""
    forecast = cutover_forecast(item)
    if forecast is None:
        return None
    figures = forecast.figures
    return {
        "estimatedCutoverJobDuration": capacity_plan.iso_duration(figures.total_seconds),
        "estimatedCutoverJobDurationSeconds": round(figures.total_seconds, 1),
        "changedBytesSinceLastRecoveryPoint": int(figures.changed_bytes),
        "throughputBytesPerSecond": round(figures.throughput_bytes_per_second, 1),
        "finalSyncDuration": capacity_plan.iso_duration(figures.scan_seconds + figures.transfer_seconds),
        "vmBuildDuration": capacity_plan.iso_duration(figures.build_seconds),
        "lastRecoveryPointTime": forecast.last_point_at.isoformat(),
    }
