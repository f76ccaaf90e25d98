"""Azure's replication health errors on a replicating server, each rule defined once.

A rule is one small class: the migration states it watches, its level, its error's words, and its
condition, declared once as data (`Silent`, `IsFalse`, `PastRpoThreshold`, `AnyOf`). The condition
gives both forms the hub needs: `errors` for one item in Python (the ARM API and the blades show each
error's details) and `where` for a whole list in SQL (Replicating machines filters, sorts and counts
10,000 servers by health without computing every server's status). Which states a rule watches, what
its level makes the health, and the order health sorts in are read by both forms from here.
test_monitor checks that the two forms agree.

The appliance has its own rules (APPLIANCE_RULES): Azure's capacity of one appliance, judged from what
the hub counts (machines replicating through it) and what the appliance reports (changed data).

Longer than the ~500 lines a module should be, on purpose: every rule the hub shows, those of injected
faults (hub-side, then the problems the appliance and agents report) included, is defined here once,
beside the condition classes both of its forms are derived from."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Case, Count, IntegerField, Q, Value, When

from faults.models import Fault
from hub.ids import parse_uuid
from replication import fault_effects
from replication.models import (
    APPLIANCE_WARNING_AFTER,
    Appliance,
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    TestMigrateState,
)

AGENT_SILENT_AFTER = timedelta(minutes=15)
NO_PROGRESS_AFTER = timedelta(minutes=30)

ACTIVE_STATES = (MigrationState.INITIAL_SEEDING_IN_PROGRESS, MigrationState.REPLICATING)

# Health as a sortable number; the order is the portal's "worst first".
HEALTH_RANKS = {"Critical": 0, "Warning": 1, "Normal": 2, "None": 3}
HEALTH_BY_RANK = {rank: health for health, rank in HEALTH_RANKS.items()}
# What an error of each level makes the server's health, worst first.
HEALTH_OF_LEVEL = {"Error": "Critical", "Warning": "Warning"}

NEVER = Q(pk__in=[])  # a condition no row meets: the start of an "any of" built in a loop


# The conditions health rules are made of. Each is declared once, as data on its rule, and gives both
# forms: `holds(item, now)` for one loaded item and `q(now, policies)` for a queryset of a project's
# items. Field paths are ORM paths from the item ("server__agent_connected").


def _read(item, path: str):
    value = item
    for name in path.split("__"):
        value = getattr(value, name)
    return value


@dataclass(frozen=True)
class IsFalse:
    path: str

    def holds(self, item, now) -> bool:
        return not _read(item, self.path)

    def q(self, now, policies) -> Q:
        return Q(**{self.path: False})


@dataclass(frozen=True)
class Silent:
    """The first set moment of `paths` is older than `limit`; with none set, the rule holds only when
    `missing_counts` (an agent that never sent a heartbeat is silent; an item with no recovery point
    yet has no RPO)."""

    paths: tuple[str, ...]
    limit: timedelta
    missing_counts: bool = True

    def holds(self, item, now) -> bool:
        moment = next((m for m in (_read(item, path) for path in self.paths) if m is not None), None)
        return self.missing_counts if moment is None else now - moment > self.limit

    def q(self, now, policies) -> Q:
        condition, earlier_unset = NEVER, {}
        for path in self.paths:
            condition |= Q(**earlier_unset, **{f"{path}__lt": now - self.limit})
            earlier_unset[f"{path}__isnull"] = True
        return condition | Q(**earlier_unset) if self.missing_counts else condition


@dataclass(frozen=True)
class PastRpoThreshold:
    """The latest recovery point is older than the item's policy's RPO threshold (none: no RPO yet)."""

    def holds(self, item, now) -> bool:
        point_at = item.last_recovery_point_at
        return point_at is not None and now - point_at > timedelta(minutes=item.policy.rpo_threshold_minutes)

    def q(self, now, policies) -> Q:
        # Each policy has its own threshold; a project has one or a few policies.
        late = NEVER
        for policy in policies:
            cut = now - timedelta(minutes=policy.rpo_threshold_minutes)
            late |= Q(policy=policy, last_recovery_point_at__lt=cut)
        return late


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple

    def holds(self, item, now) -> bool:
        return any(condition.holds(item, now) for condition in self.conditions)

    def q(self, now, policies) -> Q:
        condition = NEVER
        for part in self.conditions:
            condition |= part.q(now, policies)
        return condition


class HealthRule:
    code: str
    level: str  # "Error" or "Warning": see HEALTH_OF_LEVEL
    states: tuple[str, ...] = ACTIVE_STATES  # the migration states in which the rule is checked
    condition: IsFalse | Silent | PastRpoThreshold | AnyOf  # when the item has the error

    def errors(self, item: MigrationItem, disks, now) -> list[dict]:
        """The rule's errors on one item (its included disks given), in ASR's HealthError shape."""
        return [self.error_of(item, now)] if self.condition.holds(item, now) else []

    def where(self, now, policies) -> Q:
        """The same condition for any item of a project with these replication policies."""
        return self.condition.q(now, policies)

    def error_of(self, item: MigrationItem, now) -> dict:
        raise NotImplementedError

    def error(self, summary: str, causes: str, action: str, since, entity: str) -> dict:
        """An ASR HealthError."""
        return {
            "errorSource": "ServerMigration",
            "errorType": "ReplicationHealth",
            "errorLevel": self.level,
            "errorCategory": "Replication",
            "errorCode": self.code,
            "summaryMessage": summary,
            "errorMessage": summary,
            "possibleCauses": causes,
            "recommendedAction": action,
            "creationTimeUtc": since.isoformat() if since else None,
            "entityId": entity,
            "customerResolvability": "Allowed",
            "innerHealthErrors": [],
        }


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


# In the order their errors are listed.
RULES = (AgentSilent(), ApplianceSilent(), DiskResyncing(), RpoExceeded(), InitialReplicationStalled())


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
    project with these replication policies."""
    raised = dict.fromkeys(HEALTH_OF_LEVEL, NEVER)
    for rule in RULES:
        raised[rule.level] |= Q(migration_state__in=rule.states) & rule.where(now, policies)
    return Case(
        When(migration_state=MigrationState.ENABLE_MIGRATION_IN_PROGRESS, then=Value(HEALTH_RANKS["None"])),
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


def appliance_health_errors(appliance: Appliance, load: ApplianceLoad) -> list[dict]:
    capacity = [rule.error(appliance, load) for rule in APPLIANCE_RULES if rule.holds(load)]
    return capacity + reported_problem_errors(appliance)


def appliance_health(appliance: Appliance, now, load: ApplianceLoad) -> str:
    """The appliance's heartbeat health (Appliance.health), made at least Warning by its rules' errors."""
    heartbeat = appliance.health(now)
    if heartbeat != Appliance.Health.NORMAL:
        return heartbeat
    levels = {error["errorLevel"] for error in appliance_health_errors(appliance, load)}
    return next((health for level, health in HEALTH_OF_LEVEL.items() if level in levels), heartbeat)


# Injected faults the hub acts on (replication/fault_effects.py). Each raises its error on the servers it
# holds for as long as it is in force, and clears itself when it ends or is cleared. The error ids are the
# emulator's own (786xx), apart from Azure's numbers above. The faults in force are read once per `now`, so
# a list of servers costs one query per rule, not one per server.

TEST_VM_STATES = (TestMigrateState.IN_PROGRESS, TestMigrateState.SUCCEEDED, TestMigrateState.CLEANUP_IN_PROGRESS)
_faults_seen: dict = {}  # now -> (when read, {kind: {scope: fault}})
FAULTS_REUSED_FOR = 1.0  # seconds: one page's or one API answer's health, not longer


def _faults_in_force(kind: str, now) -> dict:
    """{scope: fault} of the faults of `kind` in force at `now`; every kind's are read in one query."""
    seen = _faults_seen.get(now)
    if seen is None or time.monotonic() - seen[0] > FAULTS_REUSED_FOR:
        if len(_faults_seen) > 32:
            _faults_seen.clear()
        by_kind: dict = {}
        for fault in Fault.objects.in_force(now).order_by("starts_at"):
            by_kind.setdefault(fault.kind, {})[fault.scope] = fault
        seen = _faults_seen[now] = (time.monotonic(), by_kind)
    return seen[1].get(kind, {})


def _segments(scope: str, *names: str) -> dict | None:
    """The values after each of `names` in a resource id (`/subscriptions/{s}/...`), or None when the
    id has another shape."""
    parts = scope.strip("/").split("/")
    if len(parts) != 2 * len(names) or any(parts[2 * index] != name for index, name in enumerate(names)):
        return None
    values = dict(zip(names, parts[1::2], strict=True))
    return values if parse_uuid(values["subscriptions"]) else None


@dataclass(frozen=True)
class FaultInForce:
    """A fault of `kind` is in force on the item's project, target region or test network (then only
    while its test VM exists)."""

    kind: str
    scope: str  # "project", "targetRegion" or "testNetwork"

    def scope_of(self, item) -> str | None:
        if self.scope == "project":
            return fault_effects.project_scope(item.project)
        if self.scope == "targetRegion":
            return fault_effects.item_region_scope(item)
        if item.test_network is None or item.test_migrate_state not in TEST_VM_STATES:
            return None
        return fault_effects.network_scope(item.test_network)

    def fault_for(self, item, now):
        in_force = _faults_in_force(self.kind, now)
        if not in_force:  # the usual case: no query for the item's project, region or network
            return None
        scope = self.scope_of(item)
        return in_force.get(scope) if scope else None

    def holds(self, item, now) -> bool:
        return self.fault_for(item, now) is not None

    def q(self, now, policies) -> Q:
        condition = NEVER
        for scope in _faults_in_force(self.kind, now):
            condition |= self._q_of(scope)
        return condition

    def _q_of(self, scope: str) -> Q:
        if self.scope == "targetRegion":
            ids = _segments(scope, "subscriptions", "locations")
            if ids is None:
                return NEVER
            return Q(
                target_resource_group__subscription_id=ids["subscriptions"],
                project__target_region__iexact=ids["locations"],
            )
        names = ("subscriptions", "resourcegroups", "providers")
        if self.scope == "project":
            ids = _segments(scope, *names, "migrateprojects")
            prefix = "project__"
        else:
            ids = _segments(scope, *names, "virtualnetworks")
            prefix = "test_network__"
        if ids is None:
            return NEVER
        last = "migrateprojects" if self.scope == "project" else "virtualnetworks"
        matched = Q(
            **{
                f"{prefix}resource_group__subscription_id": ids["subscriptions"],
                f"{prefix}resource_group__name__iexact": ids["resourcegroups"],
                f"{prefix}name__iexact": ids[last],
            }
        )
        return matched if self.scope == "project" else matched & Q(test_migrate_state__in=TEST_VM_STATES)


class FaultHealthRule(HealthRule):
    """An injected fault's error: its words are the rule's, its moment the fault's start."""

    condition: FaultInForce
    summary: str
    causes: str
    action: str

    def error_of(self, item, now):
        fault = self.condition.fault_for(item, now)
        names = {"server": item.server.name, "vm": item.target_vm_name, "region": item.project.target_region}
        if item.test_network is not None:
            names["network"] = item.test_network.name
        return self.error(
            self.summary.format(**names),
            self.causes.format(**names),
            self.action.format(**names),
            fault.starts_at if fault else None,
            str(item.pk),
        )


class KeyVaultAccessRevoked(FaultHealthRule):
    code, level = "78601", "Error"
    condition = FaultInForce("keyVaultAccessRevoked", "project")
    summary = "Replication of {server} is blocked: the project's Key Vault denies the replication key operations."
    causes = (
        "The access policy or role assignment that lets Azure Migrate wrap and unwrap keys with the project's Key "
        "Vault key was removed, or the key was disabled: the process server's uploads cannot be encrypted or read."
    )
    action = (
        "Give the Azure Migrate application back the keys get, wrapKey and unwrapKey permissions on the Key Vault "
        "(or the Key Vault Crypto Service Encryption User role). Replication resumes by itself: the data waits on "
        "the source server."
    )


class CacheStorageFull(FaultHealthRule):
    code, level = "78602", "Error"
    condition = FaultInForce("cacheStorageFull", "project")
    summary = "Replication of {server} is blocked: the project's cache storage account is full."
    causes = "The cache storage account reached its capacity: the process server's uploads are refused."
    action = (
        "Free space in the cache storage account or raise its capacity. Replication resumes by itself: the data "
        "waits on the source server."
    )


class CacheStorageThrottled(FaultHealthRule):
    code, level = "78603", "Warning"
    condition = FaultInForce("cacheStorageThrottled", "project")
    summary = "Uploads of {server} are throttled by the project's cache storage account (503 Server Busy)."
    causes = (
        "The cache storage account is over its ingress or request-rate target, so Azure Storage answers some "
        "uploads with 503 Server Busy: replication slows and the RPO grows."
    )
    action = (
        "Use a storage account that no other workload shares, or spread replication over time. Refused uploads "
        "are retried with backoff; nothing is lost."
    )


class TargetQuotaExceeded(FaultHealthRule):
    code, level = "78604", "Warning"
    condition = FaultInForce("targetQuotaExceeded", "targetRegion")
    summary = "Test migration and migration of {server} will fail: the vCPU quota in {region} is used up."
    causes = "The target subscription's vCPU quota for the VM's size family in {region} cannot take the VM {vm}."
    action = (
        "Request a quota increase for the size family in {region} (Subscriptions > Usage + quotas), or choose a "
        "VM size of another family, before you test migrate or migrate."
    )


class TestNetworkRoutesToProduction(FaultHealthRule):
    __test__ = False  # not a test class, whatever pytest thinks of its name

    code, level = "78605", "Warning"
    states = (MigrationState.REPLICATING,)
    condition = FaultInForce("networkRoutesToProduction", "testNetwork")
    summary = "The test VM {vm}-Test runs in {network}, which has a route to production."
    causes = (
        "The test virtual network {network} is peered with, or routes to, a production network: the test VM is not "
        "isolated and may reach production servers under the source server's name."
    )
    action = "Clean up the test migration, and test again in an isolated virtual network."


FAULT_RULES = (
    KeyVaultAccessRevoked(),
    CacheStorageFull(),
    CacheStorageThrottled(),
    TargetQuotaExceeded(),
    TestNetworkRoutesToProduction(),
)
RULES = RULES + FAULT_RULES


# Faults in the processes (issue 15): what the appliance and its agents report going wrong, each problem a
# health error code with its details (replication.fault_wire keeps them on the appliance and the server),
# and the recovery-point rules that churn beyond the link trips. Ids are Azure's where its documentation
# gives one: 153007 (no crash-consistent recovery point, Site Recovery's troubleshooting), 78188 (source
# with high churn), EP0864 and EP0867 (the Mobility service's version, and its registration to a different
# configuration server, as the push installation reports them). Azure names none for a process server's
# upload cap, a flapping link or a source disk's read errors: those ids are the emulator's own, in words.
NO_POINT_WARNING_AFTER = timedelta(minutes=15)
NO_POINT_CRITICAL_AFTER = timedelta(minutes=60)


@dataclass(frozen=True)
class SilentBetween:
    """`path`'s moment is older than `low` but not older than `high` (None: no upper bound); unset never."""

    path: str
    low: timedelta
    high: timedelta | None = None

    def holds(self, item, now) -> bool:
        moment = _read(item, self.path)
        return moment is not None and now - moment > self.low and (self.high is None or now - moment <= self.high)

    def q(self, now, policies) -> Q:
        older = Q(**{f"{self.path}__lt": now - self.low})
        return older if self.high is None else older & Q(**{f"{self.path}__gte": now - self.high})


class NoRecentRecoveryPoint(HealthRule):
    """No crash-consistent recovery point for 15 minutes is a warning, for 60 minutes critical (the
    warning then gives way to it)."""

    code = "153007"
    states = (MigrationState.REPLICATING,)

    def __init__(self, level: str, limit: timedelta, until: timedelta | None = None):
        self.level, self.limit = level, limit
        self.condition = SilentBetween("last_recovery_point_at", limit, until)

    def error_of(self, item, now):
        minutes = int(self.limit.total_seconds() // 60)
        return self.error(
            f"No crash consistent recovery point available for {item.server.name} in the last {minutes} minutes.",
            "The source writes more than the process server can upload (high churn, a capped or unstable link), "
            "or replication is interrupted: the Mobility service, the appliance or its connection.",
            "Check the server's other health errors and the appliance's upload bandwidth; reduce the churn or "
            "raise the bandwidth. Pending data is uploaded and a recovery point made once it catches up.",
            item.last_recovery_point_at,
            str(item.pk),
        )


@dataclass(frozen=True)
class HasProblem:
    """The process reported this problem code (`path`: the JSON field of problems, from the item)."""

    path: str
    code: str

    def holds(self, item, now) -> bool:
        return self.code in (_read(item, self.path) or {})

    def q(self, now, policies) -> Q:
        return Q(**{f"{self.path}__has_key": self.code})


@dataclass(frozen=True)
class ProblemWords:
    level: str
    summary: str  # formatted with the problem's details, and {name}: the server or appliance
    causes: str
    action: str
    source: str  # "agent": the server's agent reports it; "appliance": the process server does


PROBLEM_WORDS = {
    "EP0864": ProblemWords(
        "Error",
        "The appliance refuses the Mobility service on {name}: it reports version {agentVersion}, a different "
        "version from the appliance's ({supportedVersion}). Replication is paused.",
        "A different version of the Mobility service is installed on the source machine than the one the "
        "appliance's process server works with.",
        "Uninstall the Mobility service from the source machine, install the version from the appliance's agent "
        "folder and register it again (UnifiedAgentConfigurator.sh -i <appliance IP> -P <passphrase file>).",
        "agent",
    ),
    "EP0867": ProblemWords(
        "Error",
        "The Mobility service on {name} is registered to a different configuration server ({configurationServer}). "
        "The appliance refuses its data: replication is paused.",
        "The Mobility service is already installed on the source machine and registered to a different "
        "configuration server.",
        "Uninstall the Mobility service manually on the source machine, install it again and register it with "
        "this appliance's configuration server.",
        "agent",
    ),
    "78188": ProblemWords(
        "Warning",
        "The source {name} writes {mbPerSecond} MB/s to its disks: more data changes than replication uploads.",
        "The data change rate (write bytes per second) on the server's disks is above what the process server's "
        "link carries, or a sudden spike in churn left much data pending for upload.",
        "Wait for the pending data to be uploaded if the churn is temporary; otherwise raise the upload "
        "bandwidth, add a scale-out process server, or exclude disks with temporary data.",
        "agent",
    ),
    "SourceDiskReadFailed": ProblemWords(
        "Error",
        "The Mobility service on {name} cannot read source disk {diskId} (disk {diskIndex}): {message}",
        "The source disk has bad sectors or a failing controller, or the volume went offline.",
        "Check the disk's health and the system log on the source machine and repair the disk. Replication "
        "resumes from where it stopped once the disk reads again.",
        "agent",
    ),
    "ProcessServerUploadCapped": ProblemWords(
        "Warning",
        "The process server on {name} uploads at most {mbps} Mbps: replication may fall behind its churn.",
        "Bandwidth throttling, or a link to Azure slower than the data the servers change.",
        "Raise the upload bandwidth to Azure or lift the throttle; plan the bandwidth with the deployment "
        "planner for the servers' churn.",
        "appliance",
    ),
    "ProcessServerLinkFlapping": ProblemWords(
        "Warning",
        "The process server on {name} keeps losing its link to Azure ({failedUploads} uploads failed): uploads "
        "are retried when it comes back.",
        "An unstable network between the appliance and Azure: a flapping link, a proxy or firewall dropping "
        "connections.",
        "Check the appliance's network connection to Azure. Replication catches up by itself once the link is stable.",
        "appliance",
    ),
}


def problem_summary(code: str, details: dict, name: str) -> str:
    words = PROBLEM_WORDS.get(code)
    if words is None:
        return f"{name}: {details.get('message') or code}"

    class Lenient(dict):
        def __missing__(self, key):
            return "?"

    return words.summary.format_map(Lenient(details, name=name))


class ReportedProblem(HealthRule):
    """A server's error for a problem its agent, or its process server, reports."""

    def __init__(self, code: str):
        self.code, self.words = code, PROBLEM_WORDS[code]
        self.level = self.words.level
        path = "server__agent_problems" if self.words.source == "agent" else "appliance__problems"
        self.condition = HasProblem(path, code)

    def error_of(self, item, now):
        reporter = item.server if self.words.source == "agent" else item.appliance
        problems = item.server.agent_problems if self.words.source == "agent" else item.appliance.problems
        return self.error(
            problem_summary(self.code, problems.get(self.code) or {}, reporter.name),
            self.words.causes,
            self.words.action,
            None,
            str(reporter.pk),
        )


RULES = (
    *RULES,
    NoRecentRecoveryPoint("Warning", NO_POINT_WARNING_AFTER, NO_POINT_CRITICAL_AFTER),
    NoRecentRecoveryPoint("Error", NO_POINT_CRITICAL_AFTER),
    *(ReportedProblem(code) for code in PROBLEM_WORDS),
)


def _problem_error(code: str, details: dict, name: str, entity) -> dict:
    words = PROBLEM_WORDS.get(code)
    summary = problem_summary(code, details, name)
    return {
        "errorSource": "ServerMigration",
        "errorType": "ProcessServerHealth" if words and words.source == "appliance" else "AgentHealth",
        "errorLevel": words.level if words else "Warning",
        "errorCategory": "Replication",
        "errorCode": code,
        "summaryMessage": summary,
        "errorMessage": summary,
        "possibleCauses": words.causes if words else "",
        "recommendedAction": words.action if words else "",
        "creationTimeUtc": None,
        "entityId": str(entity),
        "customerResolvability": "Allowed",
        "innerHealthErrors": [],
    }


def reported_problem_errors(appliance: Appliance) -> list[dict]:
    """The problems the appliance reports of itself and of its agents, as its health errors."""
    own = appliance.problems.items()
    errors = [_problem_error(code, details, appliance.name, appliance.pk) for code, details in own]
    servers = appliance.servers.exclude(agent_problems={}).values_list("pk", "name", "agent_problems")[:50]
    for server_id, name, problems in servers:
        errors += [_problem_error(code, details, name, server_id) for code, details in problems.items()]
    return errors
