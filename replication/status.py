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
    processed_bytes: int = 0  # of the data to send (data_progress), in the current full cycle
    bytes_to_send: int = 0
    # Of the whole disks, as Azure's initialReplicationProcessedBytes counts them (bytes sent plus bytes
    # matched, over every selected disk), in the current full cycle.
    disk_bytes_processed: int = 0
    throughput_bytes_per_second: float = 0.0


def data_progress(disk) -> tuple[int, int]:
    """(read, to send) of a disk's current full cycle: its data extents, the blocks that hold data, once
    the agent has said how much that is; the whole disk before (and from agents that do not say)."""
    if disk.data_total_bytes > 0:
        return min(disk.data_scanned_bytes, disk.data_total_bytes), disk.data_total_bytes
    return min(disk.scanned_bytes, disk.size_bytes), disk.size_bytes


def initial_progress_percent(item: MigrationItem, disks) -> int:
    """Of the data to send, not of the disks' size: a 2 TB disk holding 40 GB is 50% done at 20 GB.
    99 at most until the first recovery point completes initial replication."""
    if item.initial_replication_completed_at is not None:
        return 100
    progress = [data_progress(disk) for disk in disks]
    to_send = sum(total for _, total in progress)
    if not to_send:
        return 0
    return min(99, int(100 * sum(read for read, _ in progress) / to_send))


def current_throughput(item: MigrationItem, now) -> float:
    """Bytes per second arriving from the item's agent: the last closed measuring window's rate, or,
    until the first window of a run of uploads closes, the open window's (counted from its first batch),
    so the first seconds of replication do not read 0 B/s while data moves. 0 once uploads stop."""
    last = item.last_upload_at
    if last is None or now - last > THROUGHPUT_STALE_AFTER:
        return 0.0
    if item.throughput_bytes_per_second > 0:
        return item.throughput_bytes_per_second
    started = item.throughput_window_started_at
    if started is None or last <= started or not item.throughput_window_bytes:
        return 0.0
    return item.throughput_window_bytes / (last - started).total_seconds()


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


def item_status(item: MigrationItem, now, *, health_of=None) -> ItemStatus:
    """`health_of(item, disks)`, from a caller that shows the health but not its errors (the rows of
    Replicating machines, replication.monitoring_rows): the health alone, instead of every rule's errors."""
    disks = [disk for disk in item.disks.all() if disk.included]
    errors = [] if health_of else health_errors(item, disks, now)
    progress = initial_progress_percent(item, disks)
    progress_by_disk = [data_progress(disk) for disk in disks]
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
    return ItemStatus(
        migration_state_description=description,
        replication_status=replication_status,
        test_migrate_state_description=TEST_STATE_DESCRIPTIONS.get(item.test_migrate_state, item.test_migrate_state),
        health=health_of(item, disks) if health_of else health(state, errors),
        health_errors=errors,
        allowed_operations=allowed_operations(item),
        initial_progress_percent=progress,
        rpo_seconds=rpo,
        transferred_bytes=sum(disk.transferred_bytes for disk in disks),
        processed_bytes=sum(read for read, _ in progress_by_disk),
        bytes_to_send=sum(total for _, total in progress_by_disk),
        disk_bytes_processed=sum(min(disk.scanned_bytes, disk.size_bytes) for disk in disks),
        throughput_bytes_per_second=current_throughput(item, now),
    )
