"""The arithmetic of replication planning, in one place: Azure Site Recovery's deployment planner
questions (how long the initial replication takes, what RPO the link allows, what bandwidth an RPO
target needs, whether one appliance is enough) and the expected downtime of a Migrate with shutdown.

Pure functions of numbers: no Django, no clock. `replication.planning` gathers the inputs from the
hub; the planner page, the Replicate wizard's review, the API and the tests all read the figures from
here. Sizes are bytes, rates bytes per second, durations seconds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Azure's figures for one appliance (replication appliance support matrix, capacity planning for
# VMware/physical): up to 200 machines and about 2 TB of changed data a day; 54 MB/s peak churn per machine.
APPLIANCE_MAX_MACHINES = 200
APPLIANCE_MAX_CHANGED_BYTES_PER_DAY = 2 * 10**12
MACHINE_MAX_CHURN_BYTES_PER_SECOND = 54 * 10**6
# AWS Elastic Disaster Recovery's rule: at least the sum of the average write rates plus 20 % headroom.
BANDWIDTH_HEADROOM = 0.20
DAY_SECONDS = 86_400
# What the wire adds to block data: each 4 KiB block travels with a 12-byte record header (index,
# length), and each batch (4 to 16 MiB of blocks) with an upload header and a 16-byte AES-GCM tag (about 0.3 % in all).
BLOCK_BYTES = 4096
WIRE_BYTES_PER_BLOCK = BLOCK_BYTES + 12
# When nothing was measured yet: the VM build copies the replica's data and reads it once more for
# its SHA-256 (about 200 MB/s on the benchmark rig), plus a few seconds of fixed work.
DEFAULT_BUILD_BYTES_PER_SECOND = 200 * 10**6
DEFAULT_BUILD_FIXED_SECONDS = 3.0
# The final cycle reads every block of the disks to find what changed (the agent hashes 4 KiB blocks).
DEFAULT_SCAN_BYTES_PER_SECOND = 400 * 10**6
# Requesting the shutdown reaches the agent at its next heartbeat, then the final point is recorded.
DEFAULT_SHUTDOWN_SECONDS = 2.0


@dataclass(frozen=True)
class ServerLoad:
    """One server as the planner sees it."""

    name: str
    disk_bytes: int  # the selected disks' sizes
    data_bytes: int  # what the initial replication sends: the used bytes the agent found, else the disk size
    churn_bytes_per_second: float  # average write rate
    data_source: str = ""  # where data_bytes came from, in words
    churn_source: str = ""


@dataclass(frozen=True)
class Appliances:
    needed: int
    machines: int
    changed_bytes_per_day: float
    one_suffices: bool
    reasons: list[str] = field(default_factory=list)  # why one is not enough, Azure's limits named


@dataclass(frozen=True)
class BandwidthPlan:
    servers: list[ServerLoad]
    bandwidth_bytes_per_second: float
    cycle_seconds: float
    rpo_target_seconds: float
    compression_ratio: float
    total_disk_bytes: int
    total_data_bytes: int
    wire_bytes: float
    churn_bytes_per_second: float
    initial_replication_seconds: float | None  # None: the link carries no more than the churn
    achievable_rpo_seconds: float | None  # None: the churn alone fills the link, the RPO grows without end
    bandwidth_for_rpo_target: float | None  # None: the target is shorter than a cycle, no link meets it
    bandwidth_for_churn_with_headroom: float
    meets_rpo_target: bool
    appliances: Appliances


def wire_bytes(data_bytes: float, compression_ratio: float = 1.0) -> float:
    """Bytes on the link for `data_bytes` of block data: compressed (ratio = compressed ÷ original, 1.0
    when unknown: random data does not shrink) and with the protocol's per-block framing."""
    return data_bytes * compression_ratio * WIRE_BYTES_PER_BLOCK / BLOCK_BYTES


def initial_replication_seconds(
    total_data_bytes: float, bandwidth: float, churn: float = 0.0, compression_ratio: float = 1.0
) -> float | None:
    """Every server's used data over what the link leaves after the churn (the servers replicate at
    once and share the link; their changes are sent as they happen). None when nothing is left."""
    available = bandwidth - churn * compression_ratio
    if available <= 0:
        return None
    return wire_bytes(total_data_bytes, compression_ratio) / available


def achievable_rpo_seconds(
    churn: float, bandwidth: float, cycle_seconds: float, compression_ratio: float = 1.0
) -> float | None:
    """The worst recovery point age once replicating: a write just after a cycle's read waits for the
    next cycle (cycle_seconds), then for that cycle's changes to cross the link. None when the churn
    fills the link: every cycle takes longer than the last and the RPO grows."""
    if bandwidth <= 0:
        return None
    per_cycle_upload = wire_bytes(churn * cycle_seconds, compression_ratio) / bandwidth
    if churn > 0 and per_cycle_upload >= cycle_seconds:
        return None
    return cycle_seconds + per_cycle_upload


def bandwidth_for_rpo(
    churn: float, cycle_seconds: float, rpo_target_seconds: float, compression_ratio: float = 1.0
) -> float | None:
    """The least bandwidth keeping the RPO within the target, and never below the churn plus the
    headroom. None when the target is not longer than a cycle (no bandwidth makes points more often)."""
    if rpo_target_seconds <= cycle_seconds:
        return None
    per_cycle = wire_bytes(churn * cycle_seconds, compression_ratio)
    return max(per_cycle / (rpo_target_seconds - cycle_seconds), bandwidth_with_headroom(churn, compression_ratio))


def bandwidth_with_headroom(churn: float, compression_ratio: float = 1.0) -> float:
    return wire_bytes(churn, compression_ratio) * (1 + BANDWIDTH_HEADROOM)


def appliances_needed(servers: list[ServerLoad]) -> Appliances:
    machines = len(servers)
    per_day = sum(server.churn_bytes_per_second for server in servers) * DAY_SECONDS
    needed = max(
        1, math.ceil(machines / APPLIANCE_MAX_MACHINES), math.ceil(per_day / APPLIANCE_MAX_CHANGED_BYTES_PER_DAY)
    )
    reasons = []
    if machines > APPLIANCE_MAX_MACHINES:
        reasons.append(f"{machines} machines: one appliance replicates up to {APPLIANCE_MAX_MACHINES}")
    if per_day > APPLIANCE_MAX_CHANGED_BYTES_PER_DAY:
        reasons.append(f"{per_day / 10**12:.2f} TB of changed data a day: one appliance handles about 2 TB")
    busy = [server.name for server in servers if server.churn_bytes_per_second > MACHINE_MAX_CHURN_BYTES_PER_SECOND]
    if busy:
        reasons.append(f"churn above 54 MB/s per machine (not supported on any appliance): {', '.join(busy)}")
    return Appliances(needed, machines, per_day, needed == 1 and not busy, reasons)


def bandwidth_plan(
    servers: list[ServerLoad],
    *,
    bandwidth: float,
    cycle_seconds: float,
    rpo_target_seconds: float,
    compression_ratio: float = 1.0,
) -> BandwidthPlan:
    churn = sum(server.churn_bytes_per_second for server in servers)
    total_data = sum(server.data_bytes for server in servers)
    rpo = achievable_rpo_seconds(churn, bandwidth, cycle_seconds, compression_ratio)
    return BandwidthPlan(
        servers=servers,
        bandwidth_bytes_per_second=bandwidth,
        cycle_seconds=cycle_seconds,
        rpo_target_seconds=rpo_target_seconds,
        compression_ratio=compression_ratio,
        total_disk_bytes=sum(server.disk_bytes for server in servers),
        total_data_bytes=total_data,
        wire_bytes=wire_bytes(total_data, compression_ratio),
        churn_bytes_per_second=churn,
        initial_replication_seconds=initial_replication_seconds(total_data, bandwidth, churn, compression_ratio),
        achievable_rpo_seconds=rpo,
        bandwidth_for_rpo_target=bandwidth_for_rpo(churn, cycle_seconds, rpo_target_seconds, compression_ratio),
        bandwidth_for_churn_with_headroom=bandwidth_with_headroom(churn, compression_ratio),
        meets_rpo_target=rpo is not None and rpo <= rpo_target_seconds,
        appliances=appliances_needed(servers),
    )


@dataclass(frozen=True)
class CutoverForecast:
    """The expected downtime of a Migrate with shutdown: from the shutdown request to the VM started."""

    changed_bytes: float  # changed since the last recovery point (estimated)
    throughput_bytes_per_second: float
    shutdown_seconds: float
    scan_seconds: float
    transfer_seconds: float
    build_seconds: float

    @property
    def total_seconds(self) -> float:
        return self.shutdown_seconds + self.scan_seconds + self.transfer_seconds + self.build_seconds


def cutover_forecast(
    *,
    churn: float,
    seconds_since_last_point: float,
    pending_bytes: float = 0.0,
    data_bytes: float,
    disk_bytes: float,
    throughput: float,
    compression_ratio: float = 1.0,
    build_bytes_per_second: float = DEFAULT_BUILD_BYTES_PER_SECOND,
    build_fixed_seconds: float = DEFAULT_BUILD_FIXED_SECONDS,
    scan_bytes_per_second: float = DEFAULT_SCAN_BYTES_PER_SECOND,
    shutdown_seconds: float = DEFAULT_SHUTDOWN_SECONDS,
    measured_cycle_overhead_seconds: float | None = None,
) -> CutoverForecast:
    """Shutdown, then the final cycle (read every disk for changes, send the data changed since the
    last point at the measured throughput), then the VM built from that final point.

    The changed data: what the source wrote since the last point at its churn rate (or what the agent
    already reported as pending), never more than the disks' used data. The reading of the disks (and
    what else a cycle costs beyond sending its data: applying it, recording the point) is the measured
    overhead of the server's recent delta cycles when there were some, else the disks over a read rate."""
    changed = min(max(pending_bytes, churn * max(seconds_since_last_point, 0.0)), data_bytes)
    transfer = wire_bytes(changed, compression_ratio) / throughput if throughput > 0 else 0.0
    if measured_cycle_overhead_seconds is not None:
        scan = max(0.0, measured_cycle_overhead_seconds)
    else:
        scan = disk_bytes / scan_bytes_per_second if scan_bytes_per_second > 0 else 0.0
    build = build_fixed_seconds + (data_bytes / build_bytes_per_second if build_bytes_per_second > 0 else 0.0)
    return CutoverForecast(changed, throughput, shutdown_seconds, scan, transfer, build)


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration, as Google's cutoverForecast.estimatedCutoverJobDuration gives it (e.g. PT1M5.5S)."""
    seconds = max(0.0, round(seconds, 1))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{int(hours)}H"
    if minutes:
        text += f"{int(minutes)}M"
    if secs or text == "PT":
        text += f"{secs:g}S"
    return text


def duration_text(seconds: float | None) -> str:
    """A duration for people: '2 h 5 min', '4 min 10 s', '12.5 s'; '-' for None."""
    if seconds is None:
        return "-"
    if seconds >= 48 * 3600:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{seconds:.1f} s"


def rate_text(bytes_per_second: float | None) -> str:
    """A link rate in Mbps (megabits, as bandwidth is sold and throttled) and MB/s."""
    if bytes_per_second is None:
        return "-"
    return f"{bytes_per_second * 8 / 10**6:,.1f} Mbps ({bytes_per_second / 10**6:,.2f} MB/s)"
