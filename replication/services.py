"""Appliance workflows: register with a key, heartbeat, finalize registration."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from hub import clock
from hub.arm.errors import ArmError
from hub.ids import sha256_hex
from jobs import outbox
from jobs.models import Job
from projects import access
from projects.services import job_start_in_group
from replication import push
from replication.keys import registration_key_verify
from replication.models import Appliance, DiscoveredServer, MigrationItem


def appliance_register(
    *,
    key_text: str,
    name: str,
    fqdn: str = "",
    ip_addresses=None,
    listen: str = "",
    version: str = "",
    host: dict | None = None,
) -> tuple[Appliance, str]:
    """Register (or re-register, by name) an appliance with the key's project. Returns the appliance and
    the credential it authenticates with from now on; the hub keeps only the credential's hash."""
    key = registration_key_verify(key_text)
    if not name or len(name) > 80:
        raise ArmError(400, "InvalidParameter", "The appliance needs a name of 1 to 80 characters (--name).", "name")
    owner = key.created_by
    if owner is None or not owner.is_active or not access.can_register_applications(owner):
        raise ArmError(
            403,
            "AuthorizationFailed",
            "The user who downloaded this key may no longer register applications in the directory. Ask a Global "
            "administrator to set App registrations to Yes, then download a new key.",
        )
    credential = secrets.token_urlsafe(32)
    now = clock.now()
    with transaction.atomic():
        # Lock the project: two first registrations of one name must not both insert.
        type(key.project).objects.select_for_update().filter(pk=key.project_id).first()
        appliance = Appliance.objects.select_for_update().filter(project=key.project, name=name).first()
        if appliance is None:
            appliance = Appliance(project=key.project, name=name, registered_at=now)
        appliance.registration_key = key
        appliance.fqdn, appliance.ip_addresses, appliance.listen = fqdn, list(ip_addresses or []), listen
        appliance.version, appliance.host = version, host or {}
        appliance.credential_hash, appliance.last_heartbeat_at = sha256_hex(credential), now
        appliance.state = Appliance.State.REGISTERED
        appliance.save()
        # Discover lists it under Select Configuration Server at once.
        push.appliances_changed(appliance.project_id)
    return appliance, credential


def appliance_authenticate(authorization: str, appliance_id) -> Appliance:
    scheme, _, credential = (authorization or "").partition(" ")
    appliance = None
    if scheme.lower() == "appliance" and credential:
        appliance = Appliance.objects.filter(credential_hash=sha256_hex(credential.strip())).first()
    if appliance is None or str(appliance.pk) != str(appliance_id):
        raise ArmError(
            401,
            "ApplianceNotRegistered",
            "The hub does not know this appliance's credential (it was registered again, or removed). Run setup again "
            "with a new registration key.",
        )
    return appliance


def appliance_heartbeat(
    appliance: Appliance, *, version: str, components: dict, listen: str = "", load: dict | None = None
) -> Appliance:
    """`load`: what the process server reports of its churn (replication.health.ApplianceLoad), kept as
    the appliance's capacity rules read it."""
    reported = {}
    if load is not None:
        reported = {
            "changed_bytes_per_day": load["changed_bytes_per_day"],
            "peak_machine_bytes_per_second": load["peak_machine_bytes_per_second"],
        }
        if "upload_cap_bytes_per_second" in load:
            reported["upload_cap_bytes_per_second"] = load["upload_cap_bytes_per_second"]
    Appliance.objects.filter(pk=appliance.pk).update(
        last_heartbeat_at=clock.now(),
        version=str(version)[:40],
        components=components or {},
        listen=listen[:120],
        **reported,
    )
    appliance.refresh_from_db()
    return appliance


def appliance_finalize_start(*, user, appliance: Appliance, link: str = "") -> Job:
    group = appliance.project.resource_group
    access.authorize(user, access.REGISTER_APPLIANCE, group.subscription, group.name)
    with transaction.atomic():
        claimed = Appliance.objects.filter(pk=appliance.pk, state=Appliance.State.REGISTERED).update(
            state=Appliance.State.FINALIZING
        )
        if not claimed:
            raise ArmError(
                409,
                "AlreadyFinalized" if appliance.state == Appliance.State.FINALIZED else "FinalizationInProgress",
                f"Appliance {appliance.name} is {Appliance.State(appliance.state).label.lower()}: only a newly "
                "registered appliance can be finalized.",
            )
        push.appliances_changed(appliance.project_id)
        return job_start_in_group(
            user=user,
            group=group,
            scenario_name="FinalizeApplianceRegistration",
            target_object_id=f"{appliance.project.arm_id}/appliances/{appliance.pk}",
            target_object_name=appliance.name,
            target_instance_type="ReplicationAppliance",
            job_input={"appliance_id": str(appliance.pk)},
            link=link,
        )


# Discovery: machines reported by agents through an appliance

AGENT_STATUS_PASSPHRASE_CHANGED = (
    "The appliance's passphrase was regenerated: register the agent again with the new passphrase "
    "(UnifiedAgentConfigurator.sh -i <appliance IP> -P <passphrase file>)."
)
AGENT_STATUS_SILENT = (
    "No heartbeat from the agent: check the Mobility service (svagents) runs and reaches the appliance."
)


def server_report(*, appliance: Appliance, machine_id: str, agent_version: str, machine: dict) -> DiscoveredServer:
    """Record a machine an agent registered. The same machine identity is the same server, so an agent
    registering again updates it instead of adding a duplicate."""
    now = clock.now()
    fields = {
        "appliance": appliance,
        "name": machine["hostName"],
        "os_type": machine["osType"],
        "os_name": machine["osName"],
        "os_version": machine.get("osVersion", ""),
        "architecture": machine.get("architecture", ""),
        "cores": machine["cores"],
        "memory_mb": machine["memoryMB"],
        "firmware": machine.get("firmware", "BIOS"),
        "nics": machine.get("nics", []),
        "disks": machine["disks"],
        "agent_version": agent_version[:40],
        "agent_connected": True,
        "agent_status": "",
        "agent_last_heartbeat_at": now,
    }
    with transaction.atomic():
        server, created = DiscoveredServer.objects.select_for_update().update_or_create(
            project=appliance.project,
            machine_id=machine_id,
            defaults=fields,
            create_defaults={**fields, "reported_at": now},
        )
        if created:
            outbox.send(DISCOVER_SERVER_TASK, [server.pk], countdown=settings.DISCOVERY_DELAY_SECONDS)
    if server.discovered_at is not None:  # an agent registering again: its row changes
        push.discovered_servers_changed(appliance.project, [server])
    return server


# By name: the task module calls into this one, so importing it here would make a circle
# (replication.tasks registers the task under this name).
DISCOVER_SERVER_TASK = "replication.tasks.discover_server"


def server_discover(server_id) -> None:
    """The discovery delay has passed: the server counts as discovered. Idempotent."""
    marked = DiscoveredServer.objects.filter(pk=server_id, discovered_at__isnull=True).update(discovered_at=clock.now())
    if marked:
        server = DiscoveredServer.objects.select_related("project__resource_group", "appliance").get(pk=server_id)
        push.discovered_servers_changed(server.project, [server])


HEARTBEAT_RECORD_EVERY = timedelta(seconds=30)


def servers_locked(servers) -> list:
    """The pks of these servers, their rows locked in pk order, in the caller's transaction. Two heartbeats
    of one appliance may run at once, each writing many of its servers' rows (here and in
    fault_wire.record_agent_problems). A plain UPDATE locks rows in whatever order its scan meets them,
    which moves as rows are rewritten, and the model's ordering (by name) is not unique: two statements
    could each hold a row the other waits for (a deadlock). So every path that locks several servers
    locks them in the one order of their pks."""
    return list(servers.order_by("pk").select_for_update().values_list("pk", flat=True))


def agents_report(appliance: Appliance, statuses: list) -> None:
    """Agent connectivity as the appliance sees it, sent with each of its heartbeats. The statements do
    not grow with the fleet: servers whose status changed are written by one conditional update per
    status (connected, silent, passphrase changed), the others' last heartbeat is refreshed by one
    statement at most every 30 seconds, and the changed rows are pushed together."""
    now = clock.now()
    reported = {
        str(status["machineId"])[:128]: status
        for status in statuses[:10_000]
        if isinstance(status, dict) and status.get("machineId")
    }
    by_status: dict[tuple[bool, str], list[str]] = {}
    for machine_id, status in reported.items():
        connected = bool(status.get("connected"))
        reason = ""
        if not connected:
            reason = (
                AGENT_STATUS_PASSPHRASE_CHANGED if status.get("passphraseCurrent") is False else AGENT_STATUS_SILENT
            )
        by_status.setdefault((connected, reason), []).append(machine_id)
    servers = DiscoveredServer.objects.filter(appliance=appliance)
    changed_ids: list = []
    for (connected, reason), machine_ids in by_status.items():
        # Conditional: only rows whose status differs are written, and their ids come back to be pushed.
        update = {"agent_connected": connected, "agent_status": reason}
        if connected:
            update["agent_last_heartbeat_at"] = now
        differing = servers.filter(machine_id__in=machine_ids).exclude(agent_connected=connected, agent_status=reason)
        if not differing.exists():  # the usual heartbeat: one read, no transaction
            continue
        with transaction.atomic():
            ids = servers_locked(differing)
            DiscoveredServer.objects.filter(pk__in=ids).update(**update)
        changed_ids += ids
    connected_ids = by_status.get((True, ""), [])
    stale = servers.filter(
        machine_id__in=connected_ids, agent_connected=True, agent_last_heartbeat_at__lt=now - HEARTBEAT_RECORD_EVERY
    )
    if stale.exists():  # the usual heartbeat: this one read, no transaction
        with transaction.atomic():
            DiscoveredServer.objects.filter(pk__in=servers_locked(stale)).update(agent_last_heartbeat_at=now)
    if changed_ids:
        visible = list(servers.filter(pk__in=changed_ids, discovered_at__isnull=False).select_related("appliance"))
        if visible:
            push.discovered_servers_changed(appliance.project, visible)
        # A replicating server's health follows its agent's connection.
        replicating = list(MigrationItem.objects.filter(server__in=[server.pk for server in visible]))
        if replicating:
            push.replicating_servers_changed(appliance.project, replicating)
