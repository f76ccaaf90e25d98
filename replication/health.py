"""Azure's replication health errors on a replicating server, each rule defined once.

A rule is one small class: the migration states it watches, its level, its error's words, and its
condition in the two forms the hub needs, next to each other: `errors` for one item in Python (the
ARM API and the blades show each error's details) and `where` for a whole list in SQL (Replicating
machines filters, sorts and counts 10,000 servers by health without computing every server's status).
Which states a rule watches, what its level makes the health, and the order health sorts in are
read by both forms from here. test_monitor checks that the two forms agree."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Case, IntegerField, Q, Value, When

from replication.models import APPLIANCE_WARNING_AFTER, MigrationItem, MigrationState, ProtectedDisk

AGENT_SILENT_AFTER = timedelta(minutes=15)
NO_PROGRESS_AFTER = timedelta(minutes=30)

ACTIVE_STATES = (MigrationState.INITIAL_SEEDING_IN_PROGRESS, MigrationState.REPLICATING)

# Health as a sortable number; the order is the portal's "worst first".
HEALTH_RANKS = {"Critical": 0, "Warning": 1, "Normal": 2, "None": 3}
HEALTH_BY_RANK = {rank: health for health, rank in HEALTH_RANKS.items()}
# What an error of each level makes the server's health, worst first.
HEALTH_OF_LEVEL = {"Error": "Critical", "Warning": "Warning"}

NEVER = Q(pk__in=[])  # a condition no row meets: the start of an "any of" built in a loop


def _silent(moment, now, limit: timedelta) -> bool:
    return moment is None or now - moment > limit


def _silent_q(field: str, now, limit: timedelta) -> Q:
    """_silent() in SQL, for a time field (a lookup path from the item)."""
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now - limit})


class HealthRule:
    code: str
    level: str  # "Error" or "Warning": see HEALTH_OF_LEVEL
    states: tuple[str, ...] = ACTIVE_STATES  # the migration states in which the rule is checked

    def errors(self, item: MigrationItem, disks, now) -> list[dict]:
        """The rule's errors on one item (its included disks given), in ASR's HealthError shape."""
        raise NotImplementedError

    def where(self, now, policies) -> Q:
        """The same condition for any item of a project with these replication policies."""
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

    def errors(self, item, disks, now):
        server = item.server
        heartbeat = server.agent_last_heartbeat_at
        if server.agent_connected and not _silent(heartbeat, now, AGENT_SILENT_AFTER):
            return []
        return [
            self.error(
                f"The Mobility service on {server.name} is not sending heartbeats to the appliance.",
                server.agent_status
                or "The source server is shut down or disconnected, the Mobility service (svagents) stopped, or it "
                "cannot reach the appliance.",
                "Start the server and its Mobility service, check it reaches the appliance on port 9443, and "
                "register it again if the appliance's passphrase was regenerated.",
                heartbeat,
                str(server.pk),
            )
        ]

    def where(self, now, policies):
        return Q(server__agent_connected=False) | _silent_q("server__agent_last_heartbeat_at", now, AGENT_SILENT_AFTER)


class ApplianceSilent(HealthRule):
    """The appliance's own health (Appliance.health) is anything but Normal."""

    code, level = "78013", "Error"

    def errors(self, item, disks, now):
        appliance = item.appliance
        if not _silent(appliance.last_heartbeat_at, now, APPLIANCE_WARNING_AFTER):
            return []
        return [
            self.error(
                f"The process server on appliance {appliance.name} has not sent a heartbeat for more than 15 minutes.",
                "The appliance is stopped, or it cannot reach the hub.",
                "Start the appliance and check its connection to the hub.",
                appliance.last_heartbeat_at,
                str(appliance.pk),
            )
        ]

    def where(self, now, policies):
        return _silent_q("appliance__last_heartbeat_at", now, APPLIANCE_WARNING_AFTER)


class DiskResyncing(HealthRule):
    """One error per included disk being sent again in full."""

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

    def errors(self, item, disks, now):
        point_at, threshold = item.last_recovery_point_at, item.policy.rpo_threshold_minutes
        if point_at is None or now - point_at <= timedelta(minutes=threshold):
            return []
        return [
            self.error(
                f"The RPO of {item.server.name} is over {threshold} minutes: its latest recovery point is older "
                "than the threshold.",
                "The source writes more than the network or the process server can carry, or replication is "
                "interrupted (agent, appliance or hub).",
                "Check the appliance's health and bandwidth to Azure, and the Mobility service on the server.",
                point_at,
                str(item.pk),
            )
        ]

    def where(self, now, policies):
        # Each policy has its own threshold; a project has one or a few policies.
        late = NEVER
        for policy in policies:
            cut = now - timedelta(minutes=policy.rpo_threshold_minutes)
            late |= Q(policy=policy, last_recovery_point_at__lt=cut)
        return late


class InitialReplicationStalled(HealthRule):
    """Nothing uploaded for a while: measured from the last upload, or from Replicate before any."""

    code, level = "78160", "Warning"
    states = (MigrationState.INITIAL_SEEDING_IN_PROGRESS,)

    def errors(self, item, disks, now):
        since = item.last_upload_at or item.created_at
        if now - since <= NO_PROGRESS_AFTER:
            return []
        return [
            self.error(
                f"Initial replication of {item.server.name} has made no progress for over 30 minutes.",
                "The Mobility service is not sending data: it may be stopped, or unable to read the disks.",
                "Check the Mobility service log (var/svagents.log) on the server and the appliance's health.",
                since,
                str(item.pk),
            )
        ]

    def where(self, now, policies):
        cut = now - NO_PROGRESS_AFTER
        return Q(last_upload_at__lt=cut) | Q(last_upload_at__isnull=True, created_at__lt=cut)


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
