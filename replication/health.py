"""Azure's replication health errors on a replicating server, and the appliance's, each rule defined once.

A rule is one small class (or one row of data): the migration states it watches, its level, its error's
words, and its condition, declared once as data (replication.health_conditions: `Silent`, `IsFalse`,
`PastRpoThreshold`, `AnyOf`...). The condition gives both forms the hub needs: `errors` for one item in
Python (the ARM API and the blades show each error's details) and `where` for a whole list in SQL
(Replicating machines filters, sorts and counts 10,000 servers by health without computing every
server's status). Which states a rule watches, what its level makes the health, and the order health
sorts in are read by both forms from here. test_monitor checks that the two forms agree.

RULES are the hub's own (below), then those of injected faults (replication.fault_health). The appliance
has its own rules (APPLIANCE_RULES): Azure's capacity of one appliance, judged from what the hub counts
(machines replicating through it) and what the appliance reports (changed data); and, from
fault_health, the problems it reports and the faults that hold its project's uploads."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Case, Count, IntegerField, Q, Value, When

from replication.fault_health import FAULT_RULES, PROCESS_RULES, appliance_fault_errors, reported_problem_errors
from replication.health_conditions import (
    NEVER,
    AnyOf,
    HealthRule,
    IsFalse,
    PastRpoThreshold,
    Silent,
)
from replication.models import (
    APPLIANCE_WARNING_AFTER,
    Appliance,
    MigrationItem,
    MigrationState,
    ProtectedDisk,
)

AGENT_SILENT_AFTER = timedelta(minutes=15)
NO_PROGRESS_AFTER = timedelta(minutes=30)
# Health as a sortable number; the order is the portal's "worst first".
HEALTH_RANKS = {"Critical": 0, "Warning": 1, "Normal": 2, "None": 3}
HEALTH_BY_RANK = {rank: health for health, rank in HEALTH_RANKS.items()}
# What an error of each level makes the server's health, worst first.
HEALTH_OF_LEVEL = {"Error": "Critical", "Warning": "Warning"}


class AgentSilent(HealthRule):
    code, level = "78027", "Error"
    condition = AnyOf(
        (IsFalse("server__agent_connected"), Silent(("server__agent_last_heartbeat_at",), AGENT_SILENT_AFTER))
    )

    def error_of(self, item, now):
        server = item.server
        return self.error(
            f"The Mobility service on {server.name} is not sending heartbeats to the appliance.",
            server.agent_status
            or "The source server is shut down or disconnected, the Mobility service (svagents) stopped, or it "
            "cannot reach the appliance.",
            "Start the server and its Mobility service, check it reaches the appliance on port 9443, and "
            "register it again if the appliance's passphrase was regenerated.",
            server.agent_last_heartbeat_at,
            str(server.pk),
        )


class ApplianceSilent(HealthRule):
    """The appliance's own health (Appliance.health) is anything but Normal."""

    code, level = "78013", "Error"
    condition = Silent(("appliance__last_heartbeat_at",), APPLIANCE_WARNING_AFTER)

    def error_of(self, item, now):
        appliance = item.appliance
        return self.error(
            f"The process server on appliance {appliance.name} has not sent a heartbeat for more than 15 minutes.",
            "The appliance is stopped, or it cannot reach the hub.",
            "Start the appliance and check its connection to the hub.",
            appliance.last_heartbeat_at,
            str(appliance.pk),
        )


class DiskResyncing(HealthRule):
    """One error per included disk being sent again in full: its condition is each disk's flag."""

    code, level = "78186", "Warning"

    def errors(self, item, disks, now):
        return [
            self.error(
                f"Disk {disk.disk_id} of {item.server.name} is being resynchronized.",
                disk.resync_reason or "The replica diverged from the source disk.",
                "No action is needed: the disk is being sent again in full. If it recurs, check the source "
                "disk and the appliance's storage.",
                item.last_upload_at,
                disk.disk_id,
            )
            for disk in disks
            if disk.resync_required
        ]

    def where(self, now, policies):
        # An uncorrelated subquery: PostgreSQL reads it once (a hashed subplan), not once per row.
        return Q(pk__in=ProtectedDisk.objects.filter(included=True, resync_required=True).values("item_id"))


class RpoExceeded(HealthRule):
    code, level = "78052", "Warning"
    states = (MigrationState.REPLICATING,)
    condition = PastRpoThreshold()

    def error_of(self, item, now):
        threshold = item.policy.rpo_threshold_minutes
        return self.error(
            f"The RPO of {item.server.name} is over {threshold} minutes: its latest recovery point is older "
            "than the threshold.",
            "The source writes more than the network or the process server can carry, or replication is "
            "interrupted (agent, appliance or hub).",
            "Check the appliance's health and bandwidth to Azure, and the Mobility service on the server.",
            item.last_recovery_point_at,
            str(item.pk),
        )


class InitialReplicationStalled(HealthRule):
    """Nothing uploaded for a while: measured from the last upload, or from Replicate before any."""

    code, level = "78160", "Warning"
    states = (MigrationState.INITIAL_SEEDING_IN_PROGRESS,)
    condition = Silent(("last_upload_at", "created_at"), NO_PROGRESS_AFTER, missing_counts=False)

    def error_of(self, item, now):
        return self.error(
            f"Initial replication of {item.server.name} has made no progress for over 30 minutes.",
            "The Mobility service is not sending data: it may be stopped, or unable to read the disks.",
            "Check the Mobility service log (var/svagents.log) on the server and the appliance's health.",
            item.last_upload_at or item.created_at,
            str(item.pk),
        )


# In the order their errors are listed: the hub's own, then injected faults'.
RULES = (
    AgentSilent(),
    ApplianceSilent(),
    DiskResyncing(),
    RpoExceeded(),
    InitialReplicationStalled(),
    *FAULT_RULES,
    *PROCESS_RULES,
)


def health_errors(item: MigrationItem, disks, now) -> list[dict]:
    """Every rule's errors on the item; `disks` are its included disks."""
    return [error for rule in RULES if item.migration_state in rule.states for error in rule.errors(item, disks, now)]


def health(migration_state: str, errors: list[dict]) -> str:
    """Normal, Warning or Critical by the worst error; None while replication is being enabled."""
    if migration_state == MigrationState.ENABLE_MIGRATION_IN_PROGRESS:
        return "None"
    levels = {error["errorLevel"] for error in errors}
    return next((health for level, health in HEALTH_OF_LEVEL.items() if level in levels), "Normal")


def health_rank(now, policies) -> Case:
    """health(health_errors()) as a SQL expression giving its HEALTH_RANKS number, for items of a
    project with these replication policies.

    The rules' conditions are grouped by the states they watch, so PostgreSQL tests a row's state once
    per group rather than once per rule, and a row in a state no rule watches (migrated, failed...) is
    Normal at once: the CASE is evaluated for every row a health sort, filter or summary lists."""
    watched = {state for rule in RULES for state in rule.states}
    by_states: dict[str, dict[tuple, Q]] = {level: {} for level in HEALTH_OF_LEVEL}
    for rule in RULES:
        grouped = by_states[rule.level]
        grouped[rule.states] = grouped.get(rule.states, NEVER) | rule.where(now, policies)
    raised = {
        level: functools.reduce(
            operator.or_, (Q(migration_state__in=states) & where for states, where in grouped.items()), NEVER
        )
        for level, grouped in by_states.items()
    }
    return Case(
        When(migration_state=MigrationState.ENABLE_MIGRATION_IN_PROGRESS, then=Value(HEALTH_RANKS["None"])),
        When(~Q(migration_state__in=sorted(watched)), then=Value(HEALTH_RANKS["Normal"])),
        *(When(raised[level], then=Value(HEALTH_RANKS[health])) for level, health in HEALTH_OF_LEVEL.items()),
        default=Value(HEALTH_RANKS["Normal"]),
        output_field=IntegerField(),
    )


# The appliance's capacity as Azure documents it (site-recovery-plan-capacity-vmware.md, the appliance's
# support matrix and the churn limits): up to 200 machines and about 2 TB of changed data a day per
# appliance, and at most 54 MB/s of peak churn per machine. Beyond them Azure asks for a scale-out
# process server.
APPLIANCE_MAX_MACHINES = 200
APPLIANCE_MAX_CHANGED_BYTES_PER_DAY = 2 * 10**12
MACHINE_MAX_PEAK_CHURN_BYTES_PER_SECOND = 54 * 10**6
# The migration states in which a machine keeps the appliance's process server busy.
LOADING_STATES = (
    MigrationState.ENABLE_MIGRATION_IN_PROGRESS,
    MigrationState.INITIAL_SEEDING_IN_PROGRESS,
    MigrationState.REPLICATING,
    MigrationState.MIGRATION_IN_PROGRESS,
)


@dataclass(frozen=True)
class ApplianceLoad:
    """What an appliance carries: machines replicating through it (counted by the hub), the changed data
    its process server received over the last 24 hours and its busiest machine's peak rate (reported
    by the appliance with its heartbeat)."""

    machines: int
    changed_bytes_per_day: int
    peak_machine_bytes_per_second: float


class ApplianceOverCapacity:
    code, level = "78190", "Warning"

    def holds(self, load: ApplianceLoad) -> bool:
        return (
            load.machines > APPLIANCE_MAX_MACHINES
            or load.changed_bytes_per_day > APPLIANCE_MAX_CHANGED_BYTES_PER_DAY
            or load.peak_machine_bytes_per_second > MACHINE_MAX_PEAK_CHURN_BYTES_PER_SECOND
        )

    def error(self, appliance: Appliance, load: ApplianceLoad) -> dict:
        over = []
        if load.machines > APPLIANCE_MAX_MACHINES:
            over.append(f"{load.machines} machines replicate through it (up to {APPLIANCE_MAX_MACHINES} are supported)")
        if load.changed_bytes_per_day > APPLIANCE_MAX_CHANGED_BYTES_PER_DAY:
            over.append(
                f"its process server received {load.changed_bytes_per_day / 10**12:.1f} TB of changed data in the "
                f"last 24 hours (about {APPLIANCE_MAX_CHANGED_BYTES_PER_DAY // 10**12} TB a day is supported)"
            )
        if load.peak_machine_bytes_per_second > MACHINE_MAX_PEAK_CHURN_BYTES_PER_SECOND:
            over.append(
                f"a machine's churn peaked at {load.peak_machine_bytes_per_second / 10**6:.0f} MB/s (up to "
                f"{MACHINE_MAX_PEAK_CHURN_BYTES_PER_SECOND // 10**6} MB/s per machine is supported)"
            )
        summary = f"Appliance {appliance.name} is over the capacity of one process server: " + "; ".join(over) + "."
        return {
            "errorSource": "ServerMigration",
            "errorType": "ProcessServerHealth",
            "errorLevel": self.level,
            "errorCategory": "Capacity",
            "errorCode": self.code,
            "summaryMessage": summary,
            "errorMessage": summary,
            "possibleCauses": "More machines, or more changed data, than one appliance's process server can "
            "carry: replication falls behind and the RPO grows.",
            "recommendedAction": "Add a scale-out process server (on a new host, run ./setup --scale-out with "
            "the project's key and the appliance's passphrase), then choose it as the Process Server when you "
            "replicate more machines.",
            "creationTimeUtc": None,
            "entityId": str(appliance.pk),
            "customerResolvability": "Allowed",
            "innerHealthErrors": [],
        }


APPLIANCE_RULES = (ApplianceOverCapacity(),)


def appliance_loads(appliances) -> dict:
    """ApplianceLoad by appliance id, in one query for any number of appliances."""
    appliances = list(appliances)
    machines = dict(
        MigrationItem.objects.filter(
            appliance__in=appliances, migration_state__in=LOADING_STATES, replication_stopped_at__isnull=True
        )
        .values_list("appliance_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {
        appliance.pk: ApplianceLoad(
            machines.get(appliance.pk, 0), appliance.changed_bytes_per_day, appliance.peak_machine_bytes_per_second
        )
        for appliance in appliances
    }


def appliance_health_errors(appliance: Appliance, load: ApplianceLoad, now=None) -> list[dict]:
    capacity = [rule.error(appliance, load) for rule in APPLIANCE_RULES if rule.holds(load)]
    return capacity + appliance_fault_errors(appliance, now) + reported_problem_errors(appliance)


def appliance_health(appliance: Appliance, now, load: ApplianceLoad) -> str:
    """The appliance's heartbeat health (Appliance.health), made at least Warning by its rules' errors."""
    heartbeat = appliance.health(now)
    if heartbeat != Appliance.Health.NORMAL:
        return heartbeat
    levels = {error["errorLevel"] for error in appliance_health_errors(appliance, load, now)}
    return next((health for level, health in HEALTH_OF_LEVEL.items() if level in levels), heartbeat)
