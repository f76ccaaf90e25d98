"""The process-side faults on the wire: the hub tells each appliance, in its heartbeat answer, the faults
in force on it, its process server and its servers; the appliance acts on its own and passes each agent
its own (replication/appliance/faults.py, replication/agent/agent/faults.py). What goes wrong in those
processes comes back as "problems" (health error code -> details), kept on the appliance and on the
server for replication.health's rules; a problem that appears or goes away notifies the people who
replicate through it.

A fault's scope is a resource id, as the ARM API names the resource (lowercased by faults.services):
- an appliance: its provider in the vault's fabric,
  `{vault}/replicationFabrics/migrate-fabric/replicationRecoveryServicesProviders/{appliance id}`;
- a process server (the appliance's own, or a scale-out one): that provider id, or
  `{vault}/replicationFabrics/migrate-fabric/processServers/{appliance id}` (its id in the fabric's
  customDetails.processServers);
- a server: its discovered machine's id (the migration item's fabricDiscoveryMachineId),
  `{vault}/replicationFabrics/migrate-fabric/replicationProtectionContainers/migrate-container/
  replicationProtectableItems/{server id}`."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from faults.models import Fault
from hub import clock
from jobs import push as job_push
from jobs.models import Notification
from projects.services.migration_resources import project_vault
from replication import push
from replication.models import Appliance, DiscoveredServer, MigrationItem

# The families each process acts on; the others (cache storage, Key Vault, quota...) the hub acts on.
APPLIANCE_KINDS = ("applianceOffline", "uploadBandwidthCap", "linkFlapping")
AGENT_KINDS = ("sourceChurn", "agentVersionMismatch", "agentOtherConfigurationServer", "diskReadErrors")

MAX_PROBLEMS = 8
MAX_TEXT = 400


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
    """The heartbeat answer's `faults`: {"appliance": [...], "agents": {machine id: [...]}}. Faults are
    few, so all of the vault's in force are read in one query and matched here, whatever the fleet's size."""
    answer: dict = {"appliance": [], "agents": {}}
    ids = _vault_ids(appliance.project)
    if ids is None:
        return answer
    faults = list(Fault.objects.in_force(clock.now()).filter(scope__startswith=ids[0] + "/"))
    if not faults:
        return answer
    own = set(appliance_scopes(appliance))
    answer["appliance"] = [_wire(f) for f in faults if f.kind in APPLIANCE_KINDS and f.scope in own]
    prefix = f"{ids[1]}/replicationprotectableitems/"
    by_server: dict[str, list[Fault]] = {}
    for fault in faults:
        if fault.kind in AGENT_KINDS and fault.scope.startswith(prefix):
            by_server.setdefault(fault.scope.removeprefix(prefix), []).append(fault)
    if by_server and not appliance.scale_out_of_id:  # agents heartbeat with their configuration server
        servers = DiscoveredServer.objects.filter(appliance=appliance, pk__in=_uuids(by_server))
        for server_id, machine_id in servers.values_list("pk", "machine_id"):
            answer["agents"][machine_id] = [_wire(f) for f in by_server[str(server_id)]]
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
    if problems == appliance.problems:
        return
    previous = appliance.problems or {}
    with transaction.atomic():
        Appliance.objects.filter(pk=appliance.pk).update(problems=problems)
    appliance.problems = problems
    items = list(appliance.migration_items.filter(replication_stopped_at__isnull=True).select_related("created_by"))
    if items:
        push.replicating_servers_changed(appliance.project, items)
    _notify_changes(previous, problems, appliance.name, {item.created_by for item in items}, _monitor_link(items))


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
    # and notified together, in statements that do not grow with the number of servers that changed.
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
        changed = changed_of(servers.select_for_update())  # read again under the rows' locks
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
    notifications = []
    for server, previous in changed:
        item = items.get(server.pk)
        owners = {item.created_by} if item is not None else set()
        link = _monitor_link([item] if item else [])
        notifications += _changes_notified(previous, server.agent_problems, server.name, owners, link)
    _notify(notifications)


def _monitor_link(items) -> str:
    if len(items) == 1:
        return reverse("replication:replicating-server", args=[items[0].pk])
    return ""


def _notify_changes(previous: dict, current: dict, name: str, users, link: str) -> None:
    _notify(_changes_notified(previous, current, name, users, link))


def _changes_notified(previous: dict, current: dict, name: str, users, link: str) -> list[Notification]:
    """A notification per health error that appeared (Failed) or went away (Succeeded), not yet saved."""
    from replication.health import problem_summary

    changes = [(code, Notification.Level.FAILED) for code in current if code not in previous]
    changes += [(code, Notification.Level.SUCCEEDED) for code in previous if code not in current]
    notifications = []
    for code, level in changes:
        appeared = level == Notification.Level.FAILED
        summary = problem_summary(code, (current if appeared else previous)[code], name)
        title = f"Health error {code} on {name}" if appeared else f"Health error {code} on {name} resolved"
        notifications += [
            Notification(user=user, title=title[:120], message=summary[:400], level=level, link=link)
            for user in users
            if user is not None
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
