"""Run every benchmark, each in its own process with a hub of its own, and print a summary.

    .venv/bin/python bench/run_all.py [--json results.json]      (or: make bench)

Each benchmark is also runnable alone: bench/arm_latency.py, bench/notify_latency.py. The summary
ends with a Markdown table in the shape of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import benchhub

BENCH_DIR = Path(__file__).resolve().parent
SCRIPTS = ["arm_latency.py", "notify_latency.py"]
SCRIPT_TIMEOUT_SECONDS = 900


def run_script(script: str, out: Path) -> dict | None:
    print(f"\n=== {script} ===", flush=True)
    process = subprocess.Popen([sys.executable, str(BENCH_DIR / script), "--json", str(out)], cwd=BENCH_DIR.parent)
    try:
        returncode = process.wait(timeout=SCRIPT_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        print(f"{script} did not finish within {SCRIPT_TIMEOUT_SECONDS} s; stopping it", flush=True)
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


def markdown(facts: dict, arm: dict | None, notify: dict | None) -> str:
    def verdict(met: bool) -> str:
        return "met" if met else "**missed**"

    rows = ["| Measurement | n | median | p95 | p99 | max | Target | |", "|---|---|---|---|---|---|---|---|"]
    if arm:
        for name, label in (("resource_group", "resource group"), ("project", "Migrate project")):
            data = arm["resources"][name]
            for kind, what in (("server_ms", "server (Server-Timing)"), ("client_ms", "client round trip")):
                s = data[kind]
                target = f"p95 < {arm['target_p95_server_ms']:.0f} ms" if kind == "server_ms" else ""
                met = verdict(s["p95"] < arm["target_p95_server_ms"]) if kind == "server_ms" else ""
                rows.append(
                    f"| GET {label}, {what} | {s['n']} | {s['median']:.1f} ms | {s['p95']:.1f} ms | "
                    f"{s['p99']:.1f} ms | {s['max']:.1f} ms | {target} | {met} |"
                )
    if notify:
        s = notify["latency_ms"]
        rows.append(
            f"| Job finished -> notification in the browser | {s['n']} | {s['median']:.1f} ms | {s['p95']:.1f} ms | "
            f"{s['p99']:.1f} ms | {s['max']:.1f} ms | p95 < {notify['target_p95_ms']:.0f} ms | "
            f"{verdict(notify['target_met'])} |"
        )
    machine = (
        f"Machine: {facts['nproc']} CPUs ({facts['cpu']}), {facts['memory']} memory, Python {facts['python']}, "
        f"PostgreSQL {facts['postgresql']}, Redis {facts['redis']}, {facts['chromium']}; commit {facts['commit']}; "
        f"{facts['date']}."
    )
    return "\n".join(rows) + "\n\n" + machine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run all benchmarks and summarise them.")
    parser.add_argument("--json", help="also write every figure and the machine's facts to this file")
    args = parser.parse_args(argv)

    benchhub.service_urls()  # refuse early anything but loopback and the test suite's Redis DB
    facts = benchhub.machine_facts()
    with tempfile.TemporaryDirectory(prefix="migratehub-bench-results-") as directory:
        arm = run_script("arm_latency.py", Path(directory) / "arm.json")
        notify = run_script("notify_latency.py", Path(directory) / "notify.json")

    print("\n=== Summary ===")
    if arm:
        from arm_latency import report as arm_report

        print(arm_report(arm))
    if notify:
        from notify_latency import report as notify_report

        print(notify_report(notify))
    print()
    print(markdown(facts, arm, notify))
    benchhub.write_json(args.json, {"machine": facts, "arm_latency": arm, "notify_latency": notify})
    return 0 if arm and notify else 1


if __name__ == "__main__":
    sys.exit(main())
