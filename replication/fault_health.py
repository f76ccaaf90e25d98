"""The health errors of injected faults (issue 15), each rule defined once, as a row of data.

- Faults the hub acts on (replication/fault_effects.py): FAULT_RULES, one FaultRule each (its fault kind,
  where the fault is scoped, its level and words). Each raises its error on the servers it holds for as
  long as it is in force and clears itself when it ends or is cleared; those of the project's uploads
  (cache storage, Key Vault) show on its appliances too. Their ids are the emulator's own (786xx).
- Faults in the processes: what the appliance and its agents report going wrong, each problem a health
  error code with its details (replication.fault_wire keeps them on the appliance and the server):
  PROBLEM_WORDS, one ReportedProblem rule each, and the recovery-point rules that churn beyond the link
  trips. Ids are Azure's where its documentation gives one: 153007 (no crash-consistent recovery point,
  Site Recovery's troubleshooting), 78188 (source with high churn), EP0864 and EP0867 (the Mobility
  service's version, and its registration to a different configuration server, as the push installation
  reports them). Azure names none for a process server's upload cap, a flapping link or a source disk's
  read errors: those ids are the emulator's own, in words.

The faults in force are read once a second (faults.services.in_force_by_kind), so a list of servers costs
one query per rule, not one per server. replication.health lists these rules after its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q

from faults import services as faults
from hub.ids import parse_uuid
from replication import fault_scopes
from replication.health_conditions import (
    ACTIVE_STATES,
    NEVER,
    HasProblem,
    HealthRule,
    SilentBetween,
)
from replication.models import Appliance, MigrationState, TestMigrateState

TEST_VM_STATES = (TestMigrateState.IN_PROGRESS, TestMigrateState.SUCCEEDED, TestMigrateState.CLEANUP_IN_PROGRESS)


def _faults_in_force(kind: str, now) -> dict:
    """{scope: fault} of the faults of `kind` in force at `now`."""
    return faults.in_force_by_kind(now).get(kind, {})


def segments(scope: str, *names: str) -> dict | None:
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
            return fault_scopes.project_scope(item.project)
        if self.scope == "targetRegion":
            return fault_scopes.item_region_scope(item)
        if item.test_network is None or item.test_migrate_state not in TEST_VM_STATES:
            return None
        return fault_scopes.network_scope(item.test_network)

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
            ids = segments(scope, "subscriptions", "locations")
            if ids is None:
                return NEVER
            return Q(
                target_resource_group__subscription_id=ids["subscriptions"],
                project__target_region__iexact=ids["locations"],
            )
        names = ("subscriptions", "resourcegroups", "providers")
        if self.scope == "project":
            ids = segments(scope, *names, "migrateprojects")
            prefix = "project__"
        else:
            ids = segments(scope, *names, "virtualnetworks")
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


@dataclass(frozen=True)
class Words:
    """A health error's level and words; {placeholders} are filled from what the error is about."""

    level: str  # "Error" or "Warning"
    summary: str
    causes: str
    action: str


class _Lenient(dict):
    def __missing__(self, key):
        return "?"


def fill(text: str, names: dict) -> str:
    return text.format_map(_Lenient(names))


class FaultRule(HealthRule):
    """An injected fault's error on the servers it holds: its words are the rule's, its moment the fault's
    start. `on_appliance`: the summary shown on the project's appliances too ("" for servers only)."""

    def __init__(self, code: str, condition: FaultInForce, words: Words, *, states=ACTIVE_STATES, on_appliance=""):
        self.code, self.level, self.condition, self.words = code, words.level, condition, words
        self.states, self.on_appliance = states, on_appliance

    def error_of(self, item, now):
        fault = self.condition.fault_for(item, now)
        names = {"server": item.server.name, "vm": item.target_vm_name, "region": item.project.target_region}
        if item.test_network is not None:
            names["network"] = item.test_network.name
        texts = (self.words.summary, self.words.causes, self.words.action)
        since = fault.starts_at if fault else None
        return self.error(*(fill(text, names) for text in texts), since, str(item.pk))

    def appliance_error(self, appliance: Appliance, now) -> dict | None:
        """The error on `appliance` while the fault holds its project's uploads; None otherwise."""
        in_force = _faults_in_force(self.condition.kind, now) if self.on_appliance else {}
        fault = in_force.get(fault_scopes.project_scope(appliance.project)) if in_force else None
        if fault is None:
            return None
        names = {"name": appliance.name}
        texts = (self.on_appliance, self.words.causes, self.words.action)
        error = self.error(*(fill(text, names) for text in texts), fault.starts_at, str(appliance.pk))
        return {**error, "errorType": "ProcessServerHealth"}


HELD_UPLOADS = "Replication resumes by itself: the data waits on the source server."
FAULT_RULES = (
    FaultRule(
        "78601",
        FaultInForce("keyVaultAccessRevoked", "project"),
        Words(
            "Error",
            "Replication of {server} is blocked: the project's Key Vault denies the replication key operations.",
            "The access policy or role assignment that lets Azure Migrate wrap and unwrap keys with the project's "
            "Key Vault key was removed, or the key was disabled: the process server's uploads cannot be encrypted "
            "or read.",
            "Give the Azure Migrate application back the keys get, wrapKey and unwrapKey permissions on the Key "
            "Vault (or the Key Vault Crypto Service Encryption User role). " + HELD_UPLOADS,
        ),
        on_appliance="The process server on {name} cannot upload: the project's Key Vault denies the replication "
        "key operations.",
    ),
    FaultRule(
        "78602",
        FaultInForce("cacheStorageFull", "project"),
        Words(
            "Error",
            "Replication of {server} is blocked: the project's cache storage account is full.",
            "The cache storage account reached its capacity: the process server's uploads are refused.",
            "Free space in the cache storage account or raise its capacity. " + HELD_UPLOADS,
        ),
        on_appliance="The process server on {name} cannot upload: the project's cache storage account is full.",
    ),
    FaultRule(
        "78603",
        FaultInForce("cacheStorageThrottled", "project"),
        Words(
            "Warning",
            "Uploads of {server} are throttled by the project's cache storage account (503 Server Busy).",
            "The cache storage account is over its ingress or request-rate target, so Azure Storage answers some "
            "uploads with 503 Server Busy: replication slows and the RPO grows.",
            "Use a storage account that no other workload shares, or spread replication over time. Refused uploads "
            "are retried with backoff; nothing is lost.",
        ),
        on_appliance="The process server on {name} is throttled by the project's cache storage account (503 "
        "Server Busy).",
    ),
    FaultRule(
        "78604",
        FaultInForce("targetQuotaExceeded", "targetRegion"),
        Words(
            "Warning",
            "Test migration and migration of {server} will fail: the vCPU quota in {region} is used up.",
            "The target subscription's vCPU quota for the VM's size family in {region} cannot take the VM {vm}.",
            "Request a quota increase for the size family in {region} (Subscriptions > Usage + quotas), or choose "
            "a VM size of another family, before you test migrate or migrate.",
        ),
    ),
    FaultRule(
        "78605",
        FaultInForce("networkRoutesToProduction", "testNetwork"),
        Words(
            "Warning",
            "The test VM {vm}-Test runs in {network}, which has a route to production.",
            "The test virtual network {network} is peered with, or routes to, a production network: the test VM is "
            "not isolated and may reach production servers under the source server's name.",
            "Clean up the test migration, and test again in an isolated virtual network.",
        ),
        states=(MigrationState.REPLICATING,),
    ),
)


def appliance_fault_errors(appliance: Appliance, now=None) -> list[dict]:
    """The errors on the appliance of faults that hold its project's uploads (cache storage, Key Vault)."""
    return [error for rule in FAULT_RULES if (error := rule.appliance_error(appliance, now)) is not None]


# Faults in the processes.
NO_POINT_WARNING_AFTER = timedelta(minutes=15)
NO_POINT_CRITICAL_AFTER = timedelta(minutes=60)


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
class ProblemWords(Words):
    """A reported problem's words: the summary is formatted with its details and {name} (the server or
    appliance). `source`: "agent" (the server's agent reports it), "appliance" (its process server does)
    or "hub" (the hub notes it; no health error: Azure's heartbeat rules tell, in their own time)."""

    source: str = "agent"


PROBLEM_WORDS = {
    "EP0864": ProblemWords(
        "Error",
        "The appliance refuses the Mobility service on {name}: it reports version {agentVersion}, a different "
        "version from the appliance's ({supportedVersion}). Replication is paused.",
        "A different version of the Mobility service is installed on the source machine than the one the "
        "appliance's process server works with.",
        "Uninstall the Mobility service from the source machine, install the version from the appliance's agent "
        "folder and register it again (UnifiedAgentConfigurator.sh -i <appliance IP> -P <passphrase file>).",
    ),
    "EP0867": ProblemWords(
        "Error",
        "The Mobility service on {name} is registered to a different configuration server ({configurationServer}). "
        "The appliance refuses its data: replication is paused.",
        "The Mobility service is already installed on the source machine and registered to a different "
        "configuration server.",
        "Uninstall the Mobility service manually on the source machine, install it again and register it with "
        "this appliance's configuration server.",
    ),
    "78188": ProblemWords(
        "Warning",
        "The source {name} writes {mbPerSecond} MB/s to its disks: more data changes than replication uploads.",
        "The data change rate (write bytes per second) on the server's disks is above what the process server's "
        "link carries, or a sudden spike in churn left much data pending for upload.",
        "Wait for the pending data to be uploaded if the churn is temporary; otherwise raise the upload "
        "bandwidth, add a scale-out process server, or exclude disks with temporary data.",
    ),
    "SourceDiskReadFailed": ProblemWords(
        "Error",
        "The Mobility service on {name} cannot read source disk {diskId} (disk {diskIndex}): {message}",
        "The source disk has bad sectors or a failing controller, or the volume went offline.",
        "Check the disk's health and the system log on the source machine and repair the disk. Replication "
        "resumes from where it stopped once the disk reads again.",
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
    "ApplianceOffline": ProblemWords(
        "Error",
        "Appliance {name} is cut off from the hub: discovery and replication stop, and its agents queue their "
        "changed data.",
        "The appliance is stopped, or its network, a proxy or a firewall keeps it from reaching the hub.",
        "Start the appliance and check it reaches the hub. Its servers show the heartbeat-lost error (78013) after "
        "15 minutes; replication catches up by itself once the appliance is back.",
        "hub",
    ),
}
SHOWN_SOURCES = ("agent", "appliance")  # the problems that are health errors


def problem_summary(code: str, details: dict, name: str) -> str:
    words = PROBLEM_WORDS.get(code)
    if words is None:
        return f"{name}: {details.get('message') or code}"
    return fill(words.summary, {**details, "name": name})


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


PROCESS_RULES = (
    NoRecentRecoveryPoint("Warning", NO_POINT_WARNING_AFTER, NO_POINT_CRITICAL_AFTER),
    NoRecentRecoveryPoint("Error", NO_POINT_CRITICAL_AFTER),
    *(ReportedProblem(code) for code, words in PROBLEM_WORDS.items() if words.source in SHOWN_SOURCES),
)


def problem_error(code: str, details: dict, name: str, entity) -> dict:
    """A reported problem as an ASR HealthError (unknown codes, from another release, as warnings)."""
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


HUB_NOTED = {code for code, words in PROBLEM_WORDS.items() if words.source not in SHOWN_SOURCES}


def _shown(problems: dict):
    return [(code, details) for code, details in (problems or {}).items() if code not in HUB_NOTED]


def reported_problem_errors(appliance: Appliance) -> list[dict]:
    """The problems the appliance reports of itself and of its agents, as its health errors."""
    own = _shown(appliance.problems)
    errors = [problem_error(code, details, appliance.name, appliance.pk) for code, details in own]
    servers = appliance.servers.exclude(agent_problems={}).values_list("pk", "name", "agent_problems")[:50]
    for server_id, name, problems in servers:
        errors += [problem_error(code, details, name, server_id) for code, details in _shown(problems)]
    return errors
