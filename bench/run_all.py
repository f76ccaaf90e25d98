"""Run every benchmark, each in its own process with a hub of its own, and print a summary.

    .venv/bin/python bench/run_all.py [--json results.json] [--quick]      (or: make bench)

--quick runs each benchmark at its smallest size (QUICK_OPTIONS below): a check that they all still
work, in a few minutes, not figures to record.

Each benchmark is also runnable alone: bench/arm_latency.py, bench/notify_latency.py,
bench/discovery_scale.py, bench/replication_throughput.py, bench/delta_efficiency.py,
bench/replicating_page.py, bench/migration_downtime.py, bench/web_throughput.py. The summary ends with
Markdown tables in the shape of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.hub import service_urls
from harness.machine import machine_facts
from harness.markdown import markdown
from harness.report import write_json

BENCH_DIR = Path(__file__).resolve().parent
SCRIPTS = [
    "arm_latency.py",
    "notify_latency.py",
    "discovery_scale.py",
    "replication_throughput.py",
    "delta_efficiency.py",
    "replicating_page.py",
    "migration_downtime.py",
    "web_throughput.py",
]
# Each with a hub of its own, after the first three (whose results have their own table).
REPLICATION_SCRIPTS = SCRIPTS[3:-1]
SCRIPT_TIMEOUT_SECONDS = 900
# Two replications of a 2 GiB image each, with waits for a quiet machine, take longer.
REPLICATION_SCRIPT_TIMEOUT_SECONDS = 1500
QUICK_OPTIONS = {
    "arm_latency.py": ["--requests", "5", "--warmup", "1"],
    "notify_latency.py": ["--jobs", "2", "--warmup", "0"],
    "discovery_scale.py": ["--count", "5", "--max-seconds", "60", "--steady-seconds", "0"],
    "replication_throughput.py": ["--size-mib", "64", "--runs", "1"],
    "delta_efficiency.py": ["--size-mib", "64", "--rounds", "1"],
    "replicating_page.py": ["--servers", "100", "--requests", "1", "--rounds", "1"],
    "migration_downtime.py": ["--size-mib", "256", "--churn-mib", "16", "--runs", "1"],
    "web_throughput.py": ["--clients", "4", "--seconds", "3"],
}


def run_script(script: str, out: Path, *, quick: bool = False) -> dict | None:
    print(f"\n=== {script} ===", flush=True)
    timeout = REPLICATION_SCRIPT_TIMEOUT_SECONDS if script in REPLICATION_SCRIPTS else SCRIPT_TIMEOUT_SECONDS
    command = [sys.executable, str(BENCH_DIR / script), "--json", str(out), *(QUICK_OPTIONS[script] if quick else [])]
    process = subprocess.Popen(command, cwd=BENCH_DIR.parent)
    try:
        returncode = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"{script} did not finish within {timeout} s; stopping it", flush=True)
        process.terminate()  # it stops its hub on SIGTERM
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return None
    if returncode != 0 or not out.exists():
        print(f"{script} failed (exit {returncode})", flush=True)
        return None
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run all benchmarks and summarise them.")
    parser.add_argument("--json", help="also write every figure and the machine's facts to this file")
    parser.add_argument("--quick", action="store_true", help="each benchmark at its smallest size (a check)")
    args = parser.parse_args(argv)

    service_urls()  # refuse early anything but loopback and the test suite's Redis DB
    facts = machine_facts()
    with tempfile.TemporaryDirectory(prefix="migratehub-bench-results-") as directory:
        arm = run_script("arm_latency.py", Path(directory) / "arm.json", quick=args.quick)
        notify = run_script("notify_latency.py", Path(directory) / "notify.json", quick=args.quick)
        discovery = run_script("discovery_scale.py", Path(directory) / "discovery.json", quick=args.quick)
        replication = {
            script.removesuffix(".py"): run_script(
                script, Path(directory) / script.replace(".py", ".json"), quick=args.quick
            )
            for script in REPLICATION_SCRIPTS
        }
        web = run_script("web_throughput.py", Path(directory) / "web.json", quick=args.quick)

    print("\n=== Summary ===")
    if arm:
        from arm_latency import report as arm_report

        print(arm_report(arm))
    if notify:
        from notify_latency import report as notify_report

        print(notify_report(notify))
    if discovery:
        from discovery_scale import report as discovery_report

        print(discovery_report(discovery))
    for name, result in replication.items():
        if result:
            print(importlib.import_module(name).report(result))
    if web:
        from web_throughput import report as web_report

        print(web_report(web))
    print()
    print(markdown(facts, arm, notify, discovery, replication))
    write_json(
        args.json,
        {
            "machine": facts,
            "arm_latency": arm,
            "notify_latency": notify,
            "discovery_scale": discovery,
            **replication,
            "web_throughput": web,
        },
    )
    return 0 if arm and notify and discovery and all(replication.values()) and web else 1


if __name__ == "__main__":
    sys.exit(main())
