"""What a replicating server's state means, in Azure's words: the status the portal shows, the
operations allowed next (ARM-API.md 4.3), and health (replication.health) with each error's possible
causes and recommended action. Read at request time against the hub clock, so moving the clock moves health."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from replication.health import health, health_errors
from replication.models import MigrationItem, MigrationState, TestMigrateState

THROUGHPUT_STALE_AFTER = timedelta(seconds=20)

INITIAL_REPLICATION_PENDING = "Available after initial replication completes."
CLEAN_UP_FIRST = "Clean up the test migration first."

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


def unavailable_reason(item: MigrationItem, operation: str) -> str:
    """Why the item's state does not allow the operation now, in words a person can act on; "" when
    allowed_operations allows it. The portal shows it beside each command it cannot offer."""
    if operation in allowed_operations(item):
        return ""
    state, test = item.migration_state, item.test_migrate_state
    if operation == "TestMigrateCleanup" and test == TestMigrateState.NONE and item.replication_stopped_at is None:
        if state == MigrationState.REPLICATING:
            return "There is no test migration to clean up: run Test migrate first."
        return "There is no test migration to clean up."
    if item.replication_stopped_at is not None:
        if state == MigrationState.MIGRATION_SUCCEEDED:
            return "Replication was stopped: the migration is complete."
        return "Replication is being stopped."
    if state in (MigrationState.ENABLE_MIGRATION_IN_PROGRESS, MigrationState.INITIAL_SEEDING_IN_PROGRESS):
        return INITIAL_REPLICATION_PENDING
    if state == MigrationState.ENABLE_MIGRATION_FAILED:
        return "Enabling replication failed: replicate the server again."
    if state == MigrationState.MIGRATION_IN_PROGRESS:
        return "A migration is in progress."
    if state == MigrationState.DISABLE_MIGRATION_IN_PROGRESS:
        return "Replication is being stopped."
    if state in (MigrationState.MIGRATION_SUCCEEDED, MigrationState.MIGRATION_FAILED):
        return "The server has been migrated. Select Stop migration to complete the migration."
    # Replicating: the test migration decides.
    if test == TestMigrateState.IN_PROGRESS:
        return {
            "TestMigrate": "A test migration is in progress.",
            "TestMigrateCleanup": "Available after the test migration finishes.",
            "Migrate": "A test migration is in progress: wait for it, then clean it up.",
            "DisableMigration": "A test migration is in progress: wait for it to finish.",
        }.get(operation, "A test migration is in progress.")
    if test in (TestMigrateState.SUCCEEDED, TestMigrateState.FAILED):
        return CLEAN_UP_FIRST
    if test == TestMigrateState.CLEANUP_IN_PROGRESS:
        return "The test migration is being cleaned up."
    return "Not available in the server's current state."


def item_status(item: MigrationItem, now) -> ItemStatus:
    disks = [disk for disk in item.disks.all() if disk.included]
    errors = health_errors(item, disks, now)
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
        health=health(state, errors),
        health_errors=errors,
        allowed_operations=allowed_operations(item),
        initial_progress_percent=progress,
        rpo_seconds=rpo,
        transferred_bytes=sum(disk.transferred_bytes for disk in disks),
        processed_bytes=sum(disk.scanned_bytes for disk in disks),
        throughput_bytes_per_second=throughput,
    )
