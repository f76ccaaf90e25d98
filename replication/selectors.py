from __future__ import annotations


def server_migration_counts(project, now) -> dict:
    """What the Azure Migrate: Server Migration tool card counts. Replication arrives with a later
    issue; until then only discovery counts."""
    return {
        "discovered": project.discovered_servers.discovered(now).count(),
        "replicating": 0,
        "test_migrated": 0,
        "migrated": 0,
    }
