"""Run every benchmark, each in its own process with a hub of its own, and print a summary.

    .venv/bin/python bench/run_all.py [--json results.json]      (or: make bench)

Each benchmark is also runnable alone: bench/arm_latency.py, bench/notify_latency.py,
bench/discovery_scale.py. The summary ends with a Markdown table in the shape of BENCHMARKS.md.
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
SCRIPTS = ["arm_latency.py", "notify_latency.py", "discovery_scale.py"]
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


def markdown(facts: dict, arm: dict | None, notify: dict | None, discovery: dict | None = None) -> str:
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
    if discovery:
        n, delay = discovery["agents"], discovery["discovery_delay_seconds"]
        after = discovery["seconds_to_all_discovered_after_delay"]
        rows.append(
            f"| {n} agents: fleet start -> all discovered, minus the {delay} s delay | {n} | | | | "
            f"{'-' if after is None else f'{after:.1f} s'} | "
            f"<= {discovery['target_discovery_after_delay_seconds']:.0f} s | "
            f"{verdict(discovery['discovery_target_met'])} |"
        )
        window = discovery["latency"]["fleet_start_to_all_discovered"]
        labelled = [("ARM GET resource group", window["arm_get_resource_group"]["server_ms"])]
        if "appliance_api" in window:
            labelled.append(("appliance API machines POST", window["appliance_api"]["machines"]["server_ms"]))
        labelled.append(("all sampled hub requests", discovery["all_hub_requests_in_load_window_server_ms"]))
        for label, s in labelled:
            if s:
                rows.append(
                    f"| {label} during discovery, server (Server-Timing) | {s['n']} | {s['median']:.1f} ms | "
                    f"{s['p95']:.1f} ms | {s['p99']:.1f} ms | {s['max']:.1f} ms | "
                    f"p95 < {discovery['target_p95_ms']:.0f} ms | "
                    f"{verdict(s['p95'] < discovery['target_p95_ms'])} |"
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
        discovery = run_script("discovery_scale.py", Path(directory) / "discovery.json")

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
    print()
    print(markdown(facts, arm, notify, discovery))
    benchhub.write_json(
        args.json, {"machine": facts, "arm_latency": arm, "notify_latency": notify, "discovery_scale": discovery}
    )
    return 0 if arm and notify and discovery else 1


if __name__ == "__main__":
    sys.exit(main())
