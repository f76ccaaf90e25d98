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
        "replicating": items.filter(
            migration_state__in=REPLICATING_STATES, replication_stopped_at__isnull=True
        ).count(),
        # A test migration counts once it was cleaned up (the tutorial's rule).
        "test_migrated": items.filter(last_test_migration_status="Succeeded").count(),
        "migrated": items.filter(migration_state=MigrationState.MIGRATION_SUCCEEDED).count(),
    }
