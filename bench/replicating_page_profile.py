"""Not a benchmark: the load-independent cost of each variant, measured inside the hub's code.

replicating_page.py runs this file with `manage.py shell -c` in the hub's environment (the seeded bench
database), with BENCH_PROFILE_VARIANTS (a JSON list of [label, path, params]), BENCH_PROFILE_PROJECT (the
project's ARM path) and BENCH_PROFILE_REQUESTS set. Each variant's page is served by Django's test client
in this process, through the whole middleware stack as the web process serves it (a signed-in session,
DEBUG=false), so the figures are those of one request:

- `cpu_ms`: this thread's CPU time (time.thread_time) per request, median of the requests: Python,
  template rendering, the database driver. It moves with the machine's load far less than wall time
  does (though a loaded machine's cores do less per CPU second: shared caches, hyperthreads).
  `cpu_best_ms`, the least of the requests, is the least disturbed.
- `queries`: SQL statements per request (django.test.utils.CaptureQueriesContext).
- `sql_ms`: PostgreSQL's own time for those statements, the sum of the planning and execution times that
  EXPLAIN (ANALYZE) reports for each SELECT of one request (best of the requests, so the least disturbed
  by other processes).

It prints one JSON object on its last line: {label: {cpu_ms, queries, sql_ms, statements}}.

With BENCH_PROFILE_CPROFILE=N set (a developer's tool, not the bench's), each variant's requests also
run under cProfile and its N most costly functions (own time, then cumulative) are printed before the
JSON line: where a variant's CPU goes.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import time

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from projects.models import User

VARIANTS = json.loads(os.environ["BENCH_PROFILE_VARIANTS"])
PROJECT = os.environ["BENCH_PROFILE_PROJECT"]
REQUESTS = int(os.environ.get("BENCH_PROFILE_REQUESTS", "5"))
WARMUP = 2
CPROFILE_TOP = int(os.environ.get("BENCH_PROFILE_CPROFILE", "0"))

settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
client = Client()
client.force_login(User.objects.get(email="admin@contoso.com"))


def sql_time_ms(statements: list[dict]) -> float:
    """PostgreSQL's planning + execution time of the SELECTs, as EXPLAIN ANALYZE reports them."""
    total = 0.0
    with connection.cursor() as cursor:
        for statement in statements:
            sql = statement["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            (plan,) = cursor.fetchone()
            plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
            total += plan["Planning Time"] + plan["Execution Time"]
    return total


def get(path: str, params: dict):
    response = client.get(path, {"project": PROJECT, **params})
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} {params} answered {response.status_code}")
    return response


results = {}
for label, path, params in VARIANTS:
    for _ in range(WARMUP):
        get(path, params)
    cpu, sql, queries = [], [], set()
    for _ in range(REQUESTS):
        with CaptureQueriesContext(connection) as captured:
            started = time.thread_time()
            get(path, params)
            cpu.append((time.thread_time() - started) * 1000)
        queries.add(len(captured.captured_queries))
        sql.append(sql_time_ms(captured.captured_queries))
    if CPROFILE_TOP:
        profiler = cProfile.Profile(time.thread_time)  # CPU, not the wait for PostgreSQL
        for _ in range(REQUESTS):
            profiler.runcall(get, path, params)
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(CPROFILE_TOP)
            print(f"== {label} ({REQUESTS} requests), by {order}\n{out.getvalue()}")
    results[label] = {
        "cpu_ms": round(statistics.median(cpu), 2),
        "cpu_best_ms": round(min(cpu), 2),
        "queries": max(queries),
        "sql_ms": round(min(sql), 2),
    }
print(json.dumps(results))
