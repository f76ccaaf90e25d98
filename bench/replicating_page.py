"""The Replicating servers page with 10,000 replicating servers: server time per filter, sort and page.

Starts a hub (PostgreSQL + Redis, uvicorn + Celery worker, DEBUG=false), creates a project with
Server Migration through ARM and the portal (Create resources), then seeds it in the hub's own process
(`manage.py shell`, the hub's environment): three finalized appliances (one silent for two hours),
one server replicated through the hub's Replicate service (which makes the replication policy), then
9,999 more cloned from it with bulk_create: their discovered servers, migration items in every
migration state, 1 to 3 protected disks each, agents connected, silent or disconnected, recovery
points from minutes to hours old, throughput, test migration states, and a running job for 1% of
them; then ANALYZE, as autovacuum would after such an insert. The seeding is set-up, not measured.

A signed-in portal session (CSRF sign-in, as tests/test_isolation.portal_session) then GETs
/migrate/replicating-servers/?project=... for a matrix of requests: the first, a middle and the last
page, every sortable column in both directions, every Health and Status filter, searches, and a
filter with a sort on its last page. Each variant gets 3 warm-up requests, then 20 measured ones per
round, the variants interleaved. Reported per variant: the hub's own time (`Server-Timing: app;dur=`,
which hub/arm/middleware.py adds to the portal's /migrate/ pages too) and the round trip seen here.

The Server Migration overview (/migrate/server-migration/?project=...: counts, health summary, the hour's
transfer chart, jobs) of the same project is one more variant of the matrix.

Wall time on a shared machine measures the queue for the CPU as much as the page. So after the rounds,
every variant is served again inside the hub's code (replicating_page_profile.py: Django's test client
in a `manage.py shell` on the seeded database), and its CPU time, SQL statements and PostgreSQL time
(EXPLAIN ANALYZE) per request are recorded, with the load average before and after, as for each round.

Target (issue 14, item 4): p95 < 100 ms for any filter, sort, page or search, and for the overview, in
every round. Measured, not asserted.

    .venv/bin/python bench/replicating_page.py [--servers 10000] [--requests 20] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from harness import ROOT
from harness.hub import ADMIN, create_server_migration_project, server_ms
from harness.machine import CpuWatch, wait_for_quiet
from harness.options import Bounded, bench_main
from harness.report import format_cpu, summary, target_line

from tests.test_isolation import portal_session

TARGET_P95_MS = 100.0
PROJECT = "bench-replicating"
PAGE_SIZE = 50  # replication.portal.monitor.PAGE_SIZE
WARMUP_REQUESTS = 3
ROW = re.compile(r'<tr id="replicating-[0-9a-f-]{36}"')
SORTS = ["name", "status", "health", "recovery-point", "rpo", "transferred", "throughput", "test"]
HEALTH_FILTERS = ["Normal", "Warning", "Critical"]
STATUS_FILTERS = ["enabling", "initial", "ready", "migrating", "migrated", "failed", "stopping"]
SEED_SECONDS = 900
SEED_SCRIPT = Path(__file__).resolve().with_name("replicating_page_seed.py")
PROFILE_SCRIPT = Path(__file__).resolve().with_name("replicating_page_profile.py")
PROFILE_REQUESTS = 5
LIST_PATH = "/migrate/replicating-servers/"
OVERVIEW_PATH = "/migrate/server-migration/"
OVERVIEW = "Server Migration overview"


def hub_shell(hub, script: Path, env: dict) -> dict:
    """Run a script with `manage.py shell -c` in the hub's environment; its last line of output, as JSON."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script.read_text()],
        cwd=ROOT,
        env={**hub.env, **env},
        capture_output=True,
        text=True,
        timeout=SEED_SECONDS,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script.name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def seed(hub, count: int) -> dict:
    """The project, then replicating_page_seed.py run by the hub's own code (`manage.py shell`)."""
    path = create_server_migration_project(hub, PROJECT)
    started = time.monotonic()
    seeded = hub_shell(hub, SEED_SCRIPT, {"BENCH_SEED_COUNT": str(int(count)), "BENCH_SEED_PROJECT": PROJECT})
    seeded["seconds"] = round(time.monotonic() - started, 1)
    seeded["project"] = path
    return seeded


def variants(count: int) -> list[tuple[str, dict]]:
    last_page = -(-count // PAGE_SIZE)
    matrix = [
        ("first page (sort by name)", {}),
        ("middle page", {"page": last_page // 2}),
        ("last page", {"page": last_page}),
    ]
    for key in SORTS:
        matrix.append((f"sort {key}, ascending", {"sort": key}))
        matrix.append((f"sort {key}, descending", {"sort": f"-{key}"}))
    matrix.append(("sort health descending, last page", {"sort": "-health", "page": last_page}))
    for health in HEALTH_FILTERS:
        matrix.append((f"health {health}", {"health": health}))
    for status in STATUS_FILTERS:
        matrix.append((f"status {status}", {"status": status}))
    matrix += [
        ("search 'db' (many matches)", {"q": "db"}),
        ("search '-0042' (10 matches)", {"q": "-0042"}),
        ("search 'nothing-matches'", {"q": "nothing-matches"}),
        ("health Warning, sort RPO descending, page 3", {"health": "Warning", "sort": "-rpo", "page": 3}),
        ("status ready, sort transferred, last page", {"status": "ready", "sort": "transferred", "page": 9999}),
        ("search 'app', sort throughput descending", {"q": "app", "sort": "-throughput"}),
        (OVERVIEW, {}),
    ]
    return matrix


def profile(hub, project_path: str, count: int) -> dict:
    """Each variant's CPU time, SQL statements and PostgreSQL time per request, served in one process
    (replicating_page_profile.py): figures that the machine's load hardly moves, beside the load."""
    matrix = [[label, OVERVIEW_PATH if label == OVERVIEW else LIST_PATH, params] for label, params in variants(count)]
    load_before = os.getloadavg()
    watch = CpuWatch()
    per_variant = hub_shell(
        hub,
        PROFILE_SCRIPT,
        {
            "BENCH_PROFILE_VARIANTS": json.dumps(matrix),
            "BENCH_PROFILE_PROJECT": project_path,
            "BENCH_PROFILE_REQUESTS": str(PROFILE_REQUESTS),
        },
    )
    return {
        "requests_per_variant": PROFILE_REQUESTS,
        "variants": per_variant,
        "loadavg_before": [round(value, 2) for value in load_before],
        "loadavg_after": [round(value, 2) for value in os.getloadavg()],
        "cpu": watch.stop(),
    }


def measure(hub, project_path: str, count: int, requests_per_variant: int, rounds: int) -> dict:
    session = portal_session(hub, ADMIN)
    matrix = variants(count)
    paths = {label: OVERVIEW_PATH if label == OVERVIEW else LIST_PATH for label, _ in matrix}

    def get(label: str, params: dict) -> tuple[float | None, float, int]:
        started = time.perf_counter()
        response = session.get(f"{hub.url}{paths[label]}", params={"project": project_path, **params}, timeout=60)
        client = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {response.url} answered {response.status_code}: {response.text[:300]}")
        return server_ms(response.headers), client, len(ROW.findall(response.text))

    rows_seen = {}
    for label, params in matrix:
        for _ in range(WARMUP_REQUESTS):
            rows_seen[label] = get(label, params)[2]
    results = []
    for round_index in range(rounds):
        quiet = wait_for_quiet()
        load_before = os.getloadavg()
        watch = CpuWatch(hub.process.pid)
        samples = {label: {"server": [], "client": []} for label, _ in matrix}
        for _ in range(requests_per_variant):
            for label, params in matrix:  # interleaved, so a noisy moment spreads over every variant
                server, client, _ = get(label, params)
                if server is not None:
                    samples[label]["server"].append(server)
                samples[label]["client"].append(client)
        cpu = watch.stop()
        per_variant = {
            label: {
                "params": params,
                "rows": rows_seen[label],
                "server_ms": summary(samples[label]["server"]) if samples[label]["server"] else None,
                "client_ms": summary(samples[label]["client"]),
            }
            for label, params in matrix
        }
        timed = [data["server_ms"] or data["client_ms"] for data in per_variant.values()]
        worst = max(timed, key=lambda stats: stats["p95"])
        results.append(
            {
                "round": round_index + 1,
                "server_timing": all(data["server_ms"] for data in per_variant.values()),
                "worst_p95_ms": worst["p95"],
                "variants": per_variant,
                "cpu": cpu,
                "loadavg_before": [round(value, 2) for value in load_before],
                "loadavg_after": [round(value, 2) for value in os.getloadavg()],
                "quiet_wait": quiet,
            }
        )
        print(f"  round {round_index + 1}: worst p95 {worst['p95']:.1f} ms", flush=True)
    session.close()
    return {"rounds": results}


def run(hub, *, count: int, requests_per_variant: int, rounds: int) -> dict:
    print(f"Seeding {count:,} replicating servers (set-up, not measured)...", flush=True)
    seeded = seed(hub, count)
    print(f"  {seeded['items']:,} items, {seeded['disks']:,} disks in {seeded['seconds']} s", flush=True)
    measured = measure(hub, seeded["project"], seeded["items"], requests_per_variant, rounds)
    print("Profiling each variant in one process (CPU, SQL statements, PostgreSQL time)...", flush=True)
    profiled = profile(hub, seeded["project"], seeded["items"])
    best = min(measured["rounds"], key=lambda result: result["worst_p95_ms"])
    worst = max(measured["rounds"], key=lambda result: result["worst_p95_ms"])
    return {
        "benchmark": "replicating_page",
        "servers": seeded["items"],
        "seeded": seeded,
        "requests_per_variant_per_round": requests_per_variant,
        "warmup_per_variant": WARMUP_REQUESTS,
        "debug": hub.env["DEBUG"],
        **measured,
        "profile": profiled,
        "best_round": best["round"],
        "worst_p95_ms_per_round": [result["worst_p95_ms"] for result in measured["rounds"]],
        "target_p95_ms": TARGET_P95_MS,
        # The issue asks for every round under the target, not the better one.
        "target_met": worst["worst_p95_ms"] < TARGET_P95_MS,
    }


def report(result: dict) -> str:
    lines = [
        f"Replicating servers page, {result['servers']:,} servers in one project "
        f"(seeded in {result['seeded']['seconds']} s; DEBUG={result['debug']}), "
        f"{result['requests_per_variant_per_round']} requests per variant per round after "
        f"{result['warmup_per_variant']} warm-up:"
    ]
    for round_result in result["rounds"]:
        timing = "server (Server-Timing)" if round_result["server_timing"] else "client round trip (no Server-Timing)"
        lines.append(f" round {round_result['round']}, {timing} ms and client ms:")
        for label, data in round_result["variants"].items():
            server, client = data["server_ms"], data["client_ms"]
            shown = f"median {server['median']:7.1f}  p95 {server['p95']:7.1f}" if server else "-"
            lines.append(
                f"  {label:<46} rows {data['rows']:>3}  server {shown}  | client p95 {client['p95']:7.1f}  "
                f"max {client['max']:7.1f}"
            )
        lines.append(format_cpu(round_result["cpu"]))
    profiled = result["profile"]
    lines.append(
        f" per request, served in one process ({profiled['requests_per_variant']} requests per variant; load average "
        f"{' '.join(map(str, profiled['loadavg_before']))} -> {' '.join(map(str, profiled['loadavg_after']))}):"
    )
    for label, data in profiled["variants"].items():
        lines.append(
            f"  {label:<46} CPU {data['cpu_ms']:6.1f} ms  PostgreSQL {data['sql_ms']:6.1f} ms  "
            f"statements {data['queries']:>3}"
        )
    lines.append(format_cpu(profiled["cpu"]))
    spread = ", ".join(f"{value:.1f}" for value in result["worst_p95_ms_per_round"])
    target = f"p95 < {result['target_p95_ms']:.0f} ms for every variant, in every round"
    lines.append(target_line(target, result["target_met"], f"worst variant's p95 per round: {spread} ms"))
    return "\n".join(lines)


OPTIONS = [
    Bounded("--servers", 10_000, 100, 50_000, "replicating servers seeded (100 to 50000)", keyword="count"),
    Bounded("--requests", 20, 1, 200, "measured requests per variant per round", keyword="requests_per_variant"),
    Bounded("--rounds", 2, 1, 5, "rounds of the whole matrix (1 to 5)"),
]

if __name__ == "__main__":
    sys.exit(bench_main(__doc__, run, report, OPTIONS))
