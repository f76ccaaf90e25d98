# A holder with nothing left to apply asks, on every pass, whether another item's apply is queued and not
# yet taken (replication.apply_lease.others_waiting: no owner, apply_lease_until ahead). Nearly every
# row has no mark, so with no index the question read the whole table, and its usual answer, no, meant
# every row: on 10,000 items (PostgreSQL 15, EXPLAIN ANALYZE) a sequential scan of 371 pages, 1.4 ms.
# This index holds only the marked rows (queued applies; a holder's lease has an owner and is not in
# it), so the same question reads 2 pages, 0.01 ms, with none or 100 queued. The predicate names no
# now(), as a partial index requires; the query's `apply_lease_until > now` implies `IS NOT NULL`, which
# the planner proves. Its price: the lease's updates now change an indexed column, so they are no
# longer HOT updates (take, release and renewals: one per holder every 3 s, and one per wake-up of a
# lingering holder, about one per batch). Plain SQL that SQLite accepts too, kept outside the models'
# state as 0016's index is (replication/models.py is not touched).

from django.db import migrations

INDEX = "migrationitem_apply_queued"


class Migration(migrations.Migration):
    dependencies = [("replication", "0016_mends_server_name_trigram")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON replication_migrationitem (apply_lease_until) "
            "WHERE apply_lease_owner = '' AND apply_lease_until IS NOT NULL",
            f"DROP INDEX IF EXISTS {INDEX}",
            elidable=False,
        )
    ]
