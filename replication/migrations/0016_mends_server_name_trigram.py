# The Faults tab's scope search looks for a case-insensitive substring of a server's name (faults.scopes
# ScopeQuery.narrow: UPPER(name) LIKE '%TEXT%'), which no b-tree serves: on 10,000 servers a rare name
# scanned them all (7-10 ms of PostgreSQL CPU per keystroke). A trigram index on UPPER(name) serves it
# (0.1-0.3 ms). PostgreSQL only, outside the models' state (SQLite has no GIN); pg_trgm is a trusted
# extension (PostgreSQL 13+: a database owner may create it), and where it cannot be created the index is
# left out and the search scans as before.

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

INDEX = "discoveredserver_name_trigram"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {INDEX} ON replication_discoveredserver "
                "USING gin (UPPER(name::text) gin_trgm_ops)"
            )
    except DatabaseError as error:
        logger.warning("No trigram index for the Faults tab's server search (%s): it scans the servers", error)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("replication", "0015_monitor_transferred_total")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
