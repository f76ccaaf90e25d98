"""The process-side faults on the wire: the hub tells each appliance, in its heartbeat answer, the faults
in force on it, its process server and its servers; the appliance acts on its own and passes each agent
its own (replication/appliance/faults.py, replication/agent/agent/faults.py). What goes wrong in those
processes comes back as "problems" (health error code -> details), kept on the appliance and on the
server for replication.health's rules; a problem that appears or goes away notifies the people who
replicate through it and adds (or ends) a task on their servers' latest jobs. An appliance cut off by
applianceOffline reports nothing: the hub notes it from the probe it sends instead (probe_answer).

A fault's scope is a resource id, as the ARM API names the resource (lowercased by faults.services):
- an appliance: its provider in the vault's fabric,
  `{vault}/replicationFabrics/migrate-fabric/replicationRecoveryServicesProviders/{appliance id}`;
- a process server (the appliance's own, or a scale-out one): that provider id, or
  `{vault}/replicationFabrics/migrate-fabric/processServers/{appliance id}` (its id in the fabric's
  customDetails.processServers); a scale-out one also takes the faults on the appliance it was added to;
- a project (every process server of it): the Migrate project's id;
- a server: its discovered machine's id (the migration item's fabricDiscoveryMachineId),
  `{vault}/replicationFabrics/migrate-fabric/replicationProtectionContainers/migrate-container/
  replicationProtectableItems/{server id}`."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from faults import services as faults_service
from faults.models import Fault
from jobs import push as job_push
from jobs.models import Notification
from projects.services.migration_resources import project_vault
from replication import fault_scopes, fault_tasks, push
from replication.fault_health import PROBLEM_WORDS, problem_summary
from replication.models import Appliance, DiscoveredServer, MigrationItem

# The families each process acts on; the others (cache storage, Key Vault, quota...) the hub acts on.
APPLIANCE_KINDS = ("applianceOffline", "uploadBandwidthCap", "linkFlapping")
AGENT_KINDS = ("sourceChurn", "agentVersionMismatch", "agentOtherConfigurationServer", "diskReadErrors")

MAX_PROBLEMS = 8
MAX_TEXT = 400
OFFLINE = "ApplianceOffline"  # noted by the hub (probe_answer), never reported by the appliance itself


def _vault_ids(project) -> tuple[str, str] | None:
    """(fabric id, protection container id) of the project's vault, lowercased; None without a vault."""
    resource = project_vault(project)
    if resource is None:
        return None
    fabric = f"{resource.arm_id}/replicationFabrics/migrate-fabric".lower()
    return fabric, f"{fabric}/replicationprotectioncontainers/migrate-container"


def appliance_scopes(appliance: Appliance) -> list[str]:
    ids = _vault_ids(appliance.project)
    if ids is None:
        return []
    fabric = ids[0]
    return [f"{fabric}/replicationrecoveryservicesproviders/{appliance.pk}", f"{fabric}/processservers/{appliance.pk}"]


def server_scope(server: DiscoveredServer) -> str:
    ids = _vault_ids(server.project)
    return f"{ids[1]}/replicationprotectableitems/{server.pk}" if ids else ""


def _wire(fault: Fault) -> dict:
    return {
        "id": str(fault.pk),
        "kind": fault.kind,
        "parameters": fault.parameters,
        "probability": fault.probability,
        "startsAt": fault.starts_at.timestamp(),
        "endsAt": fault.ends_at.timestamp() if fault.ends_at else None,
    }


def heartbeat_faults(appliance: Appliance) -> dict:
    """The heartbeat answer's `faults`: {"appliance": [...], "agents": {machine id: [...]}}. The faults in
    force are read at most once a second for the whole hub (faults.services.in_force_by_kind) and matched
    here, whatever the fleet's size. A process server gets those on itself, on its appliance (a scale-out
    one: the appliance it was added to) and on its project."""
    answer: dict = {"appliance": [], "agents": {}}
    ids = _vault_ids(appliance.project)
    if ids is None:
        return answer
    by_kind = faults_service.in_force_by_kind()
    if not by_kind:
        return answer
    own = set(appliance_scopes(appliance))
    if appliance.scale_out_of_id:
        own.add(f"{ids[0]}/replicationrecoveryservicesproviders/{appliance.scale_out_of_id}")
    if any(by_kind.get(kind) for kind in APPLIANCE_KINDS):
        own.add(fault_scopes.project_scope(appliance.project))
    answer["appliance"] = [
        _wire(fault) for kind in APPLIANCE_KINDS for scope, fault in by_kind.get(kind, {}).items() if scope in own
    ]
    prefix = f"{ids[1]}/replicationprotectableitems/"
    by_server: dict[str, list[Fault]] = {}
    for kind in AGENT_KINDS:
        for scope, fault in by_kind.get(kind, {}).items():
            if scope.startswith(prefix):
                by_server.setdefault(scope.removeprefix(prefix), []).append(fault)
    if by_server and not appliance.scale_out_of_id:  # agents heartbeat with their configuration server
        servers = DiscoveredServer.objects.filter(appliance=appliance, pk__in=_uuids(by_server))
        for server_id, machine_id in servers.values_list("pk", "machine_id"):
            answer["agents"][machine_id] = [_wire(f) for f in by_server[str(server_id)]]
    return answer


def _offline_in_force(appliance: Appliance) -> bool:
    return any(fault["kind"] == "applianceOffline" for fault in heartbeat_faults(appliance)["appliance"])


def probe_answer(appliance: Appliance) -> dict:
    """The answer to the probe an appliance cut off by applianceOffline sends instead of its heartbeat:
    its faults. The hub records no heartbeat (its heartbeat-lost health shows in its own time), but notes
    the appliance offline once: a notification and a task on its servers' jobs, resolved by its next
    heartbeat (record_appliance_problems)."""
    answer = heartbeat_faults(appliance)
    offline = any(fault["kind"] == "applianceOffline" for fault in answer["appliance"])
    if offline and OFFLINE not in (appliance.problems or {}):
        record_appliance_problems(appliance, {**(appliance.problems or {}), OFFLINE: {}})
    return answer


def _uuids(texts) -> list[str]:
    import uuid

    found = []
    for text in texts:
        try:
            found.append(str(uuid.UUID(text)))
        except ValueError:
            continue
    return found


def cleaned_problems(raw) -> dict:
    """A report's problems, bounded: up to 8 codes, each with short text and number details."""
    if not isinstance(raw, dict):
        return {}
    problems = {}
    for code, details in list(raw.items())[:MAX_PROBLEMS]:
        if not isinstance(details, dict):
            continue
        kept = {}
        for name, value in list(details.items())[:8]:
            if isinstance(value, str):
                kept[str(name)[:40]] = value[:MAX_TEXT]
            elif isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e15:
                kept[str(name)[:40]] = value
        problems[str(code)[:40]] = kept
    return problems


def record_appliance_problems(appliance: Appliance, raw) -> None:
    """The appliance's own problems from its heartbeat; a change is pushed and notified."""
    problems = cleaned_problems(raw)
    if OFFLINE in (appliance.problems or {}) and _offline_in_force(appliance):
        # Heartbeating between probes: an applianceOffline fault with a probability spared this round.
        # It stays noted until the fault ends, not flipping (and notifying) with every roll.
        problems[OFFLINE] = appliance.problems[OFFLINE]
    if problems == appliance.problems:
        return
    previous = appliance.problems or {}
    with transaction.atomic():
        Appliance.objects.filter(pk=appliance.pk).update(problems=problems)
    appliance.problems = problems
    items = list(appliance.migration_items.filter(replication_stopped_at__isnull=True).select_related("created_by"))
    if items:
        push.replicating_servers_changed(appliance.project, items)
    _notify_changes(previous, problems, appliance.name, items)


def record_agent_problems(appliance: Appliance, statuses) -> None:
    """Each agent's problems as the appliance reports them with its heartbeat (only changed rows written)."""
    if not isinstance(statuses, list):
        return
    reported = {
        str(status["machineId"])[:128]: cleaned_problems(status.get("problems"))
        for status in statuses[:10_000]
        if isinstance(status, dict) and status.get("machineId")
    }
    # Only servers with problems, reported or recorded, are read: a healthy fleet of thousands costs one
    # query that finds none (an agent no longer reported loses its problems). Changes are written, pushed
    # and notified together, in statements that do not grow with the number of servers that changed; only
    # the job tasks (rare: a fault starting or ending) are noted server by server.
    with_problems = [machine_id for machine_id, problems in reported.items() if problems]
    servers = DiscoveredServer.objects.filter(appliance=appliance).only("pk", "machine_id", "name", "agent_problems")
    servers = servers.filter(Q(machine_id__in=with_problems) | ~Q(agent_problems={}))

    def changed_of(rows) -> list:
        return [
            (server, server.agent_problems or {})
            for server in rows
            if (server.agent_problems or {}) != reported.get(server.machine_id, {})
        ]

    if not changed_of(servers):  # the usual heartbeat: one read, no transaction
        return
    with transaction.atomic():
        # Read again under the rows' locks, taken in pk order as every path writing several servers does
        # (services.servers_locked): two heartbeats of one appliance at once then never deadlock.
        changed = changed_of(servers.order_by("pk").select_for_update())
        for server, _ in changed:
            server.agent_problems = reported.get(server.machine_id, {})
        DiscoveredServer.objects.bulk_update([server for server, _ in changed], ["agent_problems"])
    if not changed:
        return
    items = {
        item.server_id: item
        for item in MigrationItem.objects.filter(server_id__in=[server.pk for server, _ in changed]).select_related(
            "created_by"
        )
    }
    if items:
        push.replicating_servers_changed(appliance.project, list(items.values()))
    latest_jobs = fault_tasks.latest_jobs(list(items.values()))  # one read for every server that changed
    notifications = []
    for server, previous in changed:
        item = items.get(server.pk)
        server_items = [item] if item is not None else []
        notifications += _changes_notified(previous, server.agent_problems, server.name, server_items)
        if item is not None and str(item.pk) in latest_jobs:
            _note_job_tasks(previous, server.agent_problems, server.name, [latest_jobs[str(item.pk)]])
    _notify(notifications)


def _monitor_link(items) -> str:
    if len(items) == 1:
        return reverse("replication:replicating-server", args=[items[0].pk])
    return ""


def _changes(previous: dict, current: dict) -> list[tuple[str, bool]]:
    """Each health error that appeared (True) or went away (False)."""
    return [(code, True) for code in current if code not in previous] + [
        (code, False) for code in previous if code not in current
    ]


def _notify_changes(previous: dict, current: dict, name: str, items) -> None:
    _notify(_changes_notified(previous, current, name, items))
    if _changes(previous, current):
        _note_job_tasks(previous, current, name, list(fault_tasks.latest_jobs(items).values()))


def _changes_notified(previous: dict, current: dict, name: str, items) -> list[Notification]:
    """A notification, not yet saved, per health error that appeared (Failed) or went away (Succeeded), to
    whoever replicates the servers `items`."""
    users = {item.created_by for item in items if item.created_by is not None}
    link = _monitor_link(items)
    notifications = []
    for code, appeared in _changes(previous, current):
        summary = problem_summary(code, (current if appeared else previous)[code], name)
        title = f"Health error {code} on {name}" if appeared else f"Health error {code} on {name} resolved"
        level = Notification.Level.FAILED if appeared else Notification.Level.SUCCEEDED
        notifications += [
            Notification(user=user, title=title[:120], message=summary[:400], level=level, link=link) for user in users
        ]
    return notifications


def _notify(notifications: list[Notification]) -> None:
    """Saved in one statement; each user's browser is sent the latest as a toast, once the transaction
    commits, with the bell's count of them all (a fleet's agents changing at once would otherwise toast
    each, and count the unread each time)."""
    if not notifications:
        return
    created = Notification.objects.bulk_create(notifications)
    latest = {notification.user_id: notification for notification in created}
    for notification in latest.values():
        transaction.on_commit(lambda notification=notification: job_push.notification_changed(notification))


def _note_job_tasks(previous: dict, current: dict, name: str, jobs_noted: list) -> None:
    """A task on each of these jobs (the servers' latest ended ones) per health error that appeared, open
    until the error goes away."""
    for code, appeared in _changes(previous, current):
        if not appeared:
            fault_tasks.resolve(jobs_noted, code)
            continue
        words = PROBLEM_WORDS.get(code)
        error = fault_tasks.job_error(
            code,
            problem_summary(code, current[code], name),
            causes=words.causes if words else "",
            action=words.action if words else "",
            level=words.level if words else "Warning",
        )
        fault_tasks.note(jobs_noted, code, name, error)
