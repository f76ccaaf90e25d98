"""What a replicating server's state means, in Azure's words: the status the portal shows, the
operations allowed next (ARM-API.md 4.3), and health with each error's possible causes and
recommended action. Read at request time against the hub clock, so moving the clock moves health."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from replication.models import Appliance, MigrationItem, MigrationState, TestMigrateState

AGENT_SILENT_AFTER = timedelta(minutes=15)
NO_PROGRESS_AFTER = timedelta(minutes=30)
THROUGHPUT_STALE_AFTER = timedelta(seconds=20)

TEST_STATE_DESCRIPTIONS = {
    TestMigrateState.NONE: "None",
    TestMigrateState.IN_PROGRESS: "Test migration in progress",
    TestMigrateState.SUCCEEDED: "Test clean up pending",
    TestMigrateState.FAILED: "Test migration failed",
    TestMigrateState.CLEANUP_IN_PROGRESS: "Test migration cleanup in progress",
}


@dataclass
class ItemStatus:
    migration_state_description: str  # the portal's Status column: "Initial replication 37%", "Ready to migrate"
    replication_status: str  # ASR's replicationStatus: "Initial replication", "Delta sync"
    test_migrate_state_description: str
    health: str  # Normal | Warning | Critical
    health_errors: list[dict] = field(default_factory=list)
    allowed_operations: list[str] = field(default_factory=list)
    initial_progress_percent: int = 0
    rpo_seconds: int | None = None
    transferred_bytes: int = 0
    processed_bytes: int = 0
    throughput_bytes_per_second: float = 0.0


def initial_progress_percent(item: MigrationItem, disks) -> int:
    if item.initial_replication_completed_at is not None:
        return 100
    total = sum(disk.size_bytes for disk in disks) or 1
    return min(99, int(100 * sum(disk.scanned_bytes for disk in disks) / total))


def allowed_operations(item: MigrationItem) -> list[str]:
    if item.replication_stopped_at is not None:
        return []
    if item.migration_state == MigrationState.INITIAL_SEEDING_IN_PROGRESS:
        return ["DisableMigration"]
    if item.migration_state == MigrationState.REPLICATING:
        if item.test_migrate_state == TestMigrateState.NONE:
            return ["DisableMigration", "TestMigrate", "Migrate", "StartResync"]
        if item.test_migrate_state in (TestMigrateState.SUCCEEDED, TestMigrateState.FAILED):
            return ["DisableMigration", "TestMigrateCleanup"]
        return []
    if item.migration_state in (MigrationState.MIGRATION_SUCCEEDED, MigrationState.MIGRATION_FAILED):
        return ["DisableMigration"]
    return []


def _error(code: str, level: str, summary: str, causes: str, action: str, since, entity: str) -> dict:
    """An ASR HealthError."""
    return {
        "errorSource": "ServerMigration",
        "errorType": "ReplicationHealth",
        "errorLevel": level,
        "errorCategory": "Replication",
        "errorCode": code,
        "summaryMessage": summary,
        "errorMessage": summary,
        "possibleCauses": causes,
        "recommendedAction": action,
        "creationTimeUtc": since.isoformat() if since else None,
        "entityId": entity,
        "customerResolvability": "Allowed",
        "innerHealthErrors": [],
    }


def health_errors(item: MigrationItem, disks, now) -> list[dict]:
    errors = []
    server, appliance = item.server, item.appliance
    active = item.migration_state in (MigrationState.INITIAL_SEEDING_IN_PROGRESS, MigrationState.REPLICATING)
    if not active:
        return errors
    heartbeat = server.agent_last_heartbeat_at
    if not server.agent_connected or heartbeat is None or now - heartbeat > AGENT_SILENT_AFTER:
        errors.append(
            _error(
                "78027",
                "Error",
                f"The Mobility service on {server.name} is not sending heartbeats to the appliance.",
                server.agent_status
                or "The source server is shut down or disconnected, the Mobility service (svagents) stopped, or it "
                "cannot reach the appliance.",
                "Start the server and its Mobility service, check it reaches the appliance on port 9443, and "
                "register it again if the appliance's passphrase was regenerated.",
                heartbeat,
                str(server.pk),
            )
        )
    if appliance.health(now) != Appliance.Health.NORMAL:
        errors.append(
            _error(
                "78013",
                "Error",
                f"The process server on appliance {appliance.name} has not sent a heartbeat for more than 15 minutes.",
                "The appliance is stopped, or it cannot reach the hub.",
                "Start the appliance and check its connection to the hub.",
                appliance.last_heartbeat_at,
                str(appliance.pk),
            )
        )
    for disk in disks:
        if disk.resync_required:
            errors.append(
                _error(
                    "78186",
                    "Warning",
                    f"Disk {disk.disk_id} of {server.name} is being resynchronized.",
                    disk.resync_reason or "The replica diverged from the source disk.",
                    "No action is needed: the disk is being sent again in full. If it recurs, check the source "
                    "disk and the appliance's storage.",
                    item.last_upload_at,
                    disk.disk_id,
                )
            )
    if item.migration_state == MigrationState.REPLICATING and item.last_recovery_point_at:
        threshold = timedelta(minutes=item.policy.rpo_threshold_minutes)
        if now - item.last_recovery_point_at > threshold:
            errors.append(
                _error(
                    "78052",
                    "Warning",
                    f"The RPO of {server.name} is over {item.policy.rpo_threshold_minutes} minutes: its latest "
                    "recovery point is older than the threshold.",
                    "The source writes more than the network or the process server can carry, or replication is "
                    "interrupted (agent, appliance or hub).",
                    "Check the appliance's health and bandwidth to Azure, and the Mobility service on the server.",
                    item.last_recovery_point_at,
                    str(item.pk),
                )
            )
    if item.migration_state == MigrationState.INITIAL_SEEDING_IN_PROGRESS:
        since = item.last_upload_at or item.created_at
        if now - since > NO_PROGRESS_AFTER:
            errors.append(
                _error(
                    "78160",
                    "Warning",
                    f"Initial replication of {server.name} has made no progress for over 30 minutes.",
                    "The Mobility service is not sending data: it may be stopped, or unable to read the disks.",
                    "Check the Mobility service log (var/svagents.log) on the server and the appliance's health.",
                    since,
                    str(item.pk),
                )
            )
    return errors


def item_status(item: MigrationItem, now) -> ItemStatus:
    disks = [disk for disk in item.disks.all() if disk.included]
    errors = health_errors(item, disks, now)
    levels = {error["errorLevel"] for error in errors}
    health = "Critical" if "Error" in levels else "Warning" if levels else "Normal"
    progress = initial_progress_percent(item, disks)
    state = item.migration_state
    replication_status = ""
    if state == MigrationState.ENABLE_MIGRATION_IN_PROGRESS:
        description = "Enabling replication"
    elif state == MigrationState.INITIAL_SEEDING_IN_PROGRESS:
        replication_status = "Initial replication"
        description = (
            f"Initial replication {progress}%" if item.replication_started_at else "Initial replication pending"
        )
    elif state == MigrationState.REPLICATING:
        replication_status = "Delta sync"
        description = "Ready to migrate"
    else:
        description = MigrationState(state).label if state in MigrationState.values else state
    rpo = None
    if item.last_recovery_point_at and state in (MigrationState.REPLICATING, MigrationState.MIGRATION_IN_PROGRESS):
        rpo = max(0, int((now - item.last_recovery_point_at).total_seconds()))
    throughput = item.throughput_bytes_per_second
    if not item.last_upload_at or now - item.last_upload_at > THROUGHPUT_STALE_AFTER:
        throughput = 0.0
    return ItemStatus(
        migration_state_description=description,
        replication_status=replication_status,
        test_migrate_state_description=TEST_STATE_DESCRIPTIONS.get(item.test_migrate_state, item.test_migrate_state),
        health=health if state != MigrationState.ENABLE_MIGRATION_IN_PROGRESS else "None",
        health_errors=errors,
        allowed_operations=allowed_operations(item),
        initial_progress_percent=progress,
        rpo_seconds=rpo,
        transferred_bytes=sum(disk.transferred_bytes for disk in disks),
        processed_bytes=sum(disk.scanned_bytes for disk in disks),
        throughput_bytes_per_second=throughput,
    )
