"""Not a benchmark to assert on: the hub-side cost of one appliance heartbeat as the agent count grows,
measured in-process (issue 14, item 5: the appliance's heartbeats timed out at ~200 agents).

Run as a pytest module against your own database (it builds its data with the test fixtures):

    DATABASE_URL=... ./scripts/run-tests -p no:cacheprovider -s bench/appliance_capacity_profile.py

For 50, 100 and 200 replicating servers on one appliance it posts the appliance's heartbeat (every
agent's status, as the appliance sends it) through Django's test client and prints, per count:
SQL statements and this thread's CPU ms of a heartbeat where nothing changed and of one where every
agent's status changed (median of 5), then cProfile's top functions of a heartbeat where nothing
changed, at the largest count (also written to $BENCH_PROFILE_OUT when set)."""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from replication.tests.test_heartbeat_cost import heartbeat, registered, statuses  # noqa: F401 (fixture)
from replication.tests.test_monitor import make_item

pytestmark = pytest.mark.django_db
COUNTS = (50, 100, 200)
REPEATS = 5


def measure(appliance, credential, agents) -> tuple[int, float]:
    cpu = []
    for _ in range(REPEATS):
        connection.queries_log.clear()  # Django keeps the last 9,000: a full log counts none
        with CaptureQueriesContext(connection) as captured:
            started = time.thread_time()
            heartbeat(appliance, credential, agents)
            cpu.append((time.thread_time() - started) * 1000)
    return len(captured.captured_queries), round(statistics.median(cpu), 1)


def test_profile_the_heartbeat(registered):  # noqa: F811 (the fixture)
    project, appliance, credential = registered
    names, figures = [], {}
    for count in COUNTS:
        for index in range(len(names), count):
            names.append(f"s{index:04}")
            make_item(project, names[-1], agent_connected=False)
        steady = statuses(names)
        heartbeat(appliance, credential, steady)
        queries, cpu_ms = measure(appliance, credential, steady)
        flipping = []
        for repeat in range(REPEATS):  # every agent's status changes at each heartbeat
            agents = statuses(names, connected=repeat % 2 == 0, problems={"EP1": {"n": repeat}})
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as captured:
                started = time.thread_time()
                heartbeat(appliance, credential, agents)
                flipping.append((time.thread_time() - started) * 1000)
        figures[count] = {
            "steady": {"queries": queries, "cpu_ms": cpu_ms},
            "all_changed": {"queries": len(captured.captured_queries), "cpu_ms": round(statistics.median(flipping), 1)},
        }
    heartbeat(appliance, credential, statuses(names))  # settled: the profiled one changes nothing
    profile = cProfile.Profile()
    profile.enable()
    heartbeat(appliance, credential, statuses(names))
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
    report = f"{out.getvalue()}\n{json.dumps(figures)}\n"
    print(report)
    if os.environ.get("BENCH_PROFILE_OUT"):  # pytest-xdist keeps a worker's output to itself
        Path(os.environ["BENCH_PROFILE_OUT"]).write_text(report)
