"""ARM read latency on the PostgreSQL + Redis hub.

Creates one Azure Migrate project, then GETs the resource group and the project 1,000 times each,
one after another over one keep-alive connection (after 50 warm-up requests each). Reports the
hub's own time (the `Server-Timing: app;dur=` header) and the round trip the client saw.

Target (from the issue): p95 server latency under 20 ms. Measured, not asserted.

    .venv/bin/python bench/arm_latency.py [--requests 1000] [--warmup 50] [--json out.json]
"""

from __future__ import annotations

import sys
import time

import requests
from harness.hub import ADMIN, resource_group_path, server_ms
from harness.machine import CpuWatch, wait_for_quiet
from harness.options import Bounded, bench_main
from harness.report import format_cpu, format_row, summary, target_line

TARGET_P95_SERVER_MS = 20.0
API_VERSIONS = {"resource_group": "2025-04-01", "project": "2018-09-01-preview"}
TIME_LIMIT_SECONDS = 600  # for the whole measurement, whatever the request count


def paths() -> dict[str, str]:
    group = resource_group_path()
    return {
        "resource_group": group,
        "project": f"{group}/providers/Microsoft.Migrate/migrateProjects/bench-project",
    }


def measure(session: requests.Session, url: str, api_version: str, count: int, deadline: float) -> dict:
    server, client = [], []
    for _ in range(count):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Time limit reached after {len(server)} requests to {url}")
        started = time.perf_counter()
        response = session.get(url, params={"api-version": api_version}, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}: {response.text[:500]}")
        hub_ms = server_ms(response.headers)
        if hub_ms is None:
            raise RuntimeError(f"No Server-Timing app;dur= in {dict(response.headers)}")
        server.append(hub_ms)
        client.append(elapsed)
    return {"server": server, "client": client}


def run(hub, *, count: int, warmup: int) -> dict:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {hub.token(ADMIN)}"
    targets = paths()
    created = session.put(
        hub.url + targets["project"],
        params={"api-version": API_VERSIONS["project"]},
        json={"location": "westeurope"},
        timeout=30,
    )
    if created.status_code not in (200, 201):
        raise RuntimeError(f"PUT project answered {created.status_code}: {created.text[:500]}")

    quiet = wait_for_quiet()
    deadline = time.monotonic() + TIME_LIMIT_SECONDS
    watch = CpuWatch(hub.process.pid)
    results = {}
    for name, path in targets.items():
        url = hub.url + path
        measure(session, url, API_VERSIONS[name], warmup, deadline)
        samples = measure(session, url, API_VERSIONS[name], count, deadline)
        results[name] = {
            "path": path,
            "api_version": API_VERSIONS[name],
            "server_ms": summary(samples["server"]),
            "client_ms": summary(samples["client"]),
        }
    cpu = watch.stop()
    session.close()
    worst_p95 = max(result["server_ms"]["p95"] for result in results.values())
    return {
        "benchmark": "arm_latency",
        "requests_per_resource": count,
        "warmup_per_resource": warmup,
        "debug": hub.env["DEBUG"],
        "target_p95_server_ms": TARGET_P95_SERVER_MS,
        "worst_p95_server_ms": worst_p95,
        "target_met": worst_p95 < TARGET_P95_SERVER_MS,
        "resources": results,
        "cpu": cpu,
        "quiet_wait": quiet,
    }


def report(result: dict) -> str:
    lines = [
        f"ARM GET latency, {result['requests_per_resource']} sequential GETs per resource after "
        f"{result['warmup_per_resource']} warm-up (DEBUG={result['debug']}):"
    ]
    for name, data in result["resources"].items():
        lines.append(f" {name}: GET {data['path']}?api-version={data['api_version']}")
        lines.append(format_row("server (Server-Timing app;dur)", data["server_ms"]))
        lines.append(format_row("client round trip", data["client_ms"]))
    lines.append(format_cpu(result["cpu"]))
    target = f"p95 server latency < {result['target_p95_server_ms']:.0f} ms"
    lines.append(target_line(target, result["target_met"], f"worst p95 {result['worst_p95_server_ms']:.2f} ms"))
    return "\n".join(lines)


OPTIONS = [
    Bounded("--requests", 1000, 1, 10_000, "measured GETs per resource (max 10000)", keyword="count"),
    Bounded("--warmup", 50, 0, 1000, "unmeasured GETs per resource first"),
]

if __name__ == "__main__":
    sys.exit(bench_main(__doc__, run, report, OPTIONS))
