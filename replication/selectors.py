from __future__ import annotations

from django.db.models import Count, Q

from replication.models import MigrationState

REPLICATING_STATES = (
    MigrationState.ENABLE_MIGRATION_IN_PROGRESS,
    MigrationState.INITIAL_SEEDING_IN_PROGRESS,
    MigrationState.REPLICATING,
    MigrationState.MIGRATION_IN_PROGRESS,
)


def server_migration_counts(project, now) -> dict:
    """What the Azure Migrate: Server Migration tool card counts."""
    # The three item counts in one pass over the project's items, not three.
    counts = project.migration_items.aggregate(
        replicating=Count("pk", filter=Q(migration_state__in=REPLICATING_STATES, replication_stopped_at__isnull=True)),
        # A test migration counts once it was cleaned up (the tutorial's rule).
        test_migrated=Count("pk", filter=Q(last_test_migration_status="Succeeded")),
        migrated=Count("pk", filter=Q(migration_state=MigrationState.MIGRATION_SUCCEEDED)),
    )
    return {"discovered": project.discovered_servers.discovered(now).count(), **counts}
