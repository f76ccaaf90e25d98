from __future__ import annotations

from replication.models import MigrationState

REPLICATING_STATES = (
    MigrationState.ENABLE_MIGRATION_IN_PROGRESS,
    MigrationState.INITIAL_SEEDING_IN_PROGRESS,
    MigrationState.REPLICATING,
    MigrationState.MIGRATION_IN_PROGRESS,
)


def server_migration_counts(project, now) -> dict:
    """What the Azure Migrate: Server Migration tool card counts."""
    items = project.migration_items.all()
    return {
        "discovered": project.discovered_servers.discovered(now).count(),
        "replicating": items.filter(migration_state__in=REPLICATING_STATES).count(),
        "test_migrated": items.filter(test_migrate_state="TestMigrationSucceeded").count(),
        "migrated": items.filter(migration_state=MigrationState.MIGRATION_SUCCEEDED).count(),
    }
