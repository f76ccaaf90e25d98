"""Two pytest-xdist workers on one machine (scripts/run-tests runs them: the live tests mostly wait on
hubs, appliances and browsers, so two files at once nearly halve the suite's time on two cores).

Every live hub's database name derives from DATABASE_URL and its broker from REDIS_URL (tests.hubs),
and the in-process tests' settings read REDIS_URL too. So the first worker keeps them and every other
worker gets database names of its own (the suffix `_gw1`) and a Redis server of its own. Loaded as a
plugin (`-p tests.parallel`), this runs before Django reads its settings; imported by tests/conftest.py
it is a no-op the second time, and still separates the live hubs when the plugin was not given."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time

from tests.child_processes import die_with_parent, free_port


def _own_redis_url(redis_url: str) -> str:
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed: make test installs it (scripts/ensure-services.sh)")
    port = free_port()
    directory = tempfile.mkdtemp(prefix="migratehub-redis-")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    atexit.register(process.terminate)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    database = redis_url.rpartition("/")[2] or "0"
    return f"redis://127.0.0.1:{port}/{database}"


def isolate_this_worker() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or worker == "gw0" or os.environ.get("MIGRATEHUB_WORKER_ISOLATED"):
        return
    os.environ["MIGRATEHUB_WORKER_ISOLATED"] = worker
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        base, _, rest = database_url.rpartition("/")
        name, query_mark, query = rest.partition("?")
        os.environ["DATABASE_URL"] = f"{base}/{name}_{worker}{query_mark}{query}"
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        os.environ["REDIS_URL"] = _own_redis_url(redis_url)


isolate_this_worker()
