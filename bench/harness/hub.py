"""A hub of the benchmark's own, and running one benchmark on it.

The hub is started the way tests/hubs.py starts the test suite's production hub (PostgreSQL + Redis,
uvicorn + a separate Celery worker), but on its own database and Redis DB, so that a test suite
running at the same time on this machine is not disturbed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from harness.report import write_json
from tests import conftest, hubs
from tests.test_isolation import create_resources

# The test suite uses database `migratehub_live` and Redis DB 9; the benchmarks stay clear of both.
DEFAULT_BENCH_DATABASE = "migratehub_bench"
TEST_DATABASE = "migratehub_live"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/migratehub"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
TEST_REDIS_DB = "9"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ADMIN = "admin@contoso.com"
SUBSCRIPTION = hubs.CONTOSO
RESOURCE_GROUP = "rg-migrate"
CHROMIUM_ARGS = conftest.CHROMIUM_ARGS  # the same Chromium as the browser tests
DEFAULT_ANNOUNCEMENT = "Starting a hub (PostgreSQL + Redis, uvicorn + Celery worker)..."
SERVER_TIMING = re.compile(r"\bapp;dur=([0-9.]+)")


def service_urls() -> tuple[str, str]:
    """The PostgreSQL server (its database name is only a base: the bench makes its own) and the Redis DB."""
    database_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
    for url in (database_url, redis_url):
        if urlsplit(url).hostname not in LOOPBACK:
            raise SystemExit(f"The benchmarks only talk to this machine; refusing {url!r}.")
    if urlsplit(redis_url).path.strip("/") == TEST_REDIS_DB:
        raise SystemExit(f"Redis DB {TEST_REDIS_DB} is the test suite's; use another (default {DEFAULT_REDIS_URL}).")
    return database_url, redis_url


def bench_database() -> str:
    """The database the bench recreates for each hub: BENCH_DATABASE, or migratehub_bench."""
    name = os.environ.get("BENCH_DATABASE") or DEFAULT_BENCH_DATABASE
    if name == TEST_DATABASE:
        raise SystemExit(
            f"Database {TEST_DATABASE} is the test suite's; use another (default {DEFAULT_BENCH_DATABASE})"
        )
    return name


def debug_requested() -> bool:
    return os.environ.get("BENCH_DEBUG", "").lower() in ("1", "true", "yes", "on")


def start_hub(
    *,
    debug: bool = False,
    extra_env: dict[str, str] | None = None,
    web_processes: int = 1,
    separate_worker: bool = False,
) -> hubs.Hub:
    """A fresh hub on PostgreSQL + Redis: new database `migratehub_bench`, flushed Redis DB, demo data.

    DEBUG defaults to false, as in docker-compose.yml (the production topology); BENCH_DEBUG=true
    runs it as the test suite does. extra_env adds to (or overrides) the hub's environment, e.g.
    DISCOVERY_DELAY_SECONDS. One web process unless asked, so that hub.process is the one serving.
    separate_worker: `serve --no-worker` and a Celery worker the bench starts and kills itself
    (hubs.Hub.start_worker), as docker-compose runs them; else serve's own worker.
    """
    import redis

    database_url, redis_url = service_urls()
    redis.Redis.from_url(redis_url).flushdb()
    data_dir = Path(tempfile.mkdtemp(prefix="migratehub-bench-"))
    env = hubs.base_env(data_dir)
    env.update(
        {
            "DATABASE_URL": hubs.recreate_database(database_url, bench_database()),
            "REDIS_URL": redis_url,
            "DEBUG": "true" if debug else "false",
            "CHANNEL_PREFIX": "migratehub-bench",
            **(extra_env or {}),
        }
    )
    hub = hubs.Hub(
        url=f"http://127.0.0.1:{hubs.free_port()}",
        env=env,
        web_processes=web_processes,
        separate_worker=separate_worker,
    )
    try:
        hub.manage("migrate", "--noinput", "-v0")
        hub.manage("seed_demo")
        hub.start()
    except BaseException:
        stop_hub(hub, failed=True)
        raise
    return hub


def stop_hub(hub: hubs.Hub, *, failed: bool = False) -> None:
    """Stop the hub's processes and remove its data directory, showing its log first if something failed."""
    hub.stop()
    if failed and hub.log_path and hub.log_path.exists():
        print(f"--- the hub's log ({hub.log_path}), last lines:", file=sys.stderr)
        print("\n".join(hub.log_path.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)
    shutil.rmtree(hub.env["DATA_DIR"], ignore_errors=True)


def run_on_fresh_hub(
    run: Callable[..., dict],
    report: Callable[[dict], str],
    json_path: str | None,
    *,
    announcement: str = DEFAULT_ANNOUNCEMENT,
    extra_env: dict[str, str] | None = None,
    workdir_prefix: str | None = None,
    separate_worker: bool = False,
    **options,
) -> int:
    """Start a hub, call run(hub, **options) on it, stop the hub whatever happens, print and save the figures.

    With workdir_prefix, run also gets workdir=, a temporary directory removed afterwards.
    """
    # A SIGTERM (run_all's time limit, say) unwinds through the `finally` below, which stops the hub.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix=workdir_prefix)) if workdir_prefix else None
    if workdir is not None:
        options["workdir"] = workdir
    hub = None
    failed = True
    try:
        print(announcement, flush=True)
        hub = start_hub(debug=debug_requested(), extra_env=extra_env, separate_worker=separate_worker)
        result = run(hub, **options)
        failed = False
    finally:
        if hub is not None:
            stop_hub(hub, failed=failed)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report(result))
    write_json(json_path, result)
    return 0


# The demo data every benchmark starts from


def resource_group_path() -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{RESOURCE_GROUP}"


def project_path(name: str) -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
        f"/providers/Microsoft.Migrate/migrateProjects/{name}"
    )


def create_server_migration_project(hub: hubs.Hub, name: str) -> str:
    """An Azure Migrate project with Server Migration and its resources (Create resources), as a user
    makes it over ARM and the portal. Returns its ARM path."""
    path = project_path(name)
    for method, url, body in (
        ("PUT", path, {"location": "westeurope"}),
        ("POST", f"{path}/registerTool", {"tool": "ServerMigration"}),
    ):
        answer = hub.api(method, url, json=body)
        if answer.status_code not in (200, 201, 202):
            raise RuntimeError(f"{method} {url} answered {answer.status_code}: {answer.text[:300]}")
    create_resources(hub, path)
    return path


def server_ms(headers) -> float | None:
    """The hub's own time for a request, from its `Server-Timing: app;dur=` header, or None without one."""
    match = SERVER_TIMING.search(headers.get("Server-Timing", "") or "")
    return float(match.group(1)) if match else None
