"""The database half of a snapshot (hub/snapshots.py): a consistent copy of every row, and putting it back.

PostgreSQL: `pg_dump --data-only` (one transaction: a consistent view, sequences included) into plain
SQL; restoring truncates every table and loads that SQL with psql, in one transaction, so a reader sees
the old rows or the new ones, never a mix. The schema stays: a snapshot holds data only, and is
restored only into a database with the same migrations applied (hub/snapshots.py checks). Django's
foreign keys are deferrable, so the load needs no superuser to switch triggers off.

SQLite (the embedded default): the online backup API, both ways; it copies pages, so the database file
after a restore holds what the snapshot holds.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.db import connection

DUMP_NAMES = {"postgresql": "database.sql", "sqlite": "database.sqlite3"}
# A restore waits this long for another session's lock on a table, then fails rather than hang.
LOCK_TIMEOUT = "30s"
COMMAND_TIMEOUT_SECONDS = 1800
PG_DUMP_OPTIONS = ("--data-only", "--no-owner", "--no-privileges")
RESTRICT_LINES = ("\\restrict ", "\\unrestrict ")


class DatabaseCopyFailed(RuntimeError):
    """pg_dump, psql or SQLite's backup refused; the message says which and why (no password)."""


def vendor() -> str:
    return connection.vendor


def dump_name() -> str:
    try:
        return DUMP_NAMES[connection.vendor]
    except KeyError as unknown:
        raise DatabaseCopyFailed(f"Snapshots support PostgreSQL and SQLite, not {connection.vendor}.") from unknown


def dump(target: Path) -> None:
    """Write a consistent copy of every row to `target`."""
    if connection.vendor == "postgresql":
        _run([_tool("pg_dump"), *PG_DUMP_OPTIONS, "--file", str(target)])
    else:
        connection.ensure_connection()
        copy = sqlite3.connect(target)
        try:
            connection.connection.backup(copy)
        finally:
            copy.close()


def load(source: Path) -> None:
    """Replace every row with the snapshot's, in one transaction. The caller holds no transaction."""
    if connection.in_atomic_block:
        raise DatabaseCopyFailed("A restore cannot run inside a transaction: its own must replace every table.")
    if connection.vendor == "postgresql":
        connection.close()  # this process's session must hold no lock the truncation waits for
        tables, triggered = _postgres_tables(), _postgres_tables_with_triggers()
        # The rows come back as they were saved, sums kept by triggers included: the tables' own triggers
        # (not the foreign keys') must not run again over them, and are switched back on in the same
        # transaction. A table's owner may do this; no superuser is needed.
        truncate, enable = source.with_name("truncate.sql"), source.with_name("enable.sql")
        truncate.write_text(
            ("TRUNCATE " + ", ".join(f'public."{table}"' for table in tables) + ";\n" if tables else "SELECT 1;\n")
            + "".join(f'ALTER TABLE public."{table}" DISABLE TRIGGER USER;\n' for table in triggered)
        )
        # The foreign keys' checks, deferred to the commit, are made first: a table with checks pending
        # cannot be altered.
        enable.write_text(
            "SET CONSTRAINTS ALL IMMEDIATE;\n"
            + "".join(f'ALTER TABLE public."{table}" ENABLE TRIGGER USER;\n' for table in triggered)
        )
        try:
            _run(
                [_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
                + ["-f", str(truncate), "-f", str(source), "-f", str(enable)]
            )
        finally:
            truncate.unlink(missing_ok=True)
            enable.unlink(missing_ok=True)
    else:
        connection.ensure_connection()
        snapshot = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            snapshot.backup(connection.connection)
        except sqlite3.Error as error:
            raise DatabaseCopyFailed(f"SQLite could not restore the snapshot's database: {error}") from error
        finally:
            snapshot.close()


def data_text(source: Path | None = None) -> str:
    """Every row as text, for comparing two states: pg_dump's data-only SQL, or SQLite's dump. The live
    database when `source` is None, else a snapshot's copy."""
    if connection.vendor == "postgresql":
        text = source.read_text() if source is not None else _run([_tool("pg_dump"), *PG_DUMP_OPTIONS])
        # pg_dump 15.14+ brackets its output with \restrict KEY / \unrestrict KEY, a random key per run
        # (it keeps a hostile server from slipping psql commands into the dump): not data.
        return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(RESTRICT_LINES))
    if source is None:
        connection.ensure_connection()
        return "\n".join(connection.connection.iterdump())
    copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        return "\n".join(copy.iterdump())
    finally:
        copy.close()


def applied_migrations() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        return [f"{app}.{name}" for app, name in cursor.fetchall()]


def _postgres_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [row[0] for row in cursor.fetchall()]
    connection.close()
    return tables


def _postgres_tables_with_triggers() -> list[str]:
    """The public tables with triggers of their own (replication's transferred totals), not counting
    the triggers PostgreSQL makes for foreign keys."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT t.tgisinternal "
            "ORDER BY c.relname"
        )
        tables = [row[0] for row in cursor.fetchall()]
    connection.close()
    return tables


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise DatabaseCopyFailed(f"{name} is not installed: snapshots of a PostgreSQL hub need the PostgreSQL client.")
    return found


def _run(command: list[str]) -> str:
    """Run a PostgreSQL client against this hub's database; its output, or the error it printed."""
    settings = connection.settings_dict
    environment = {
        **os.environ,
        "PGDATABASE": str(settings["NAME"]),
        "PGHOST": str(settings.get("HOST") or "127.0.0.1"),
        "PGPORT": str(settings.get("PORT") or 5432),
        "PGUSER": str(settings.get("USER") or ""),
        "PGOPTIONS": f"-c lock_timeout={LOCK_TIMEOUT}",
    }
    if settings.get("PASSWORD"):
        environment["PGPASSWORD"] = str(settings["PASSWORD"])
    try:
        finished = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as slow:
        raise DatabaseCopyFailed(f"{Path(command[0]).name} ran over {COMMAND_TIMEOUT_SECONDS} s.") from slow
    if finished.returncode != 0:
        message = (finished.stderr or "").strip().splitlines()
        raise DatabaseCopyFailed(f"{Path(command[0]).name} failed: {' '.join(message[-3:])[:500]}")
    return finished.stdout
