"""Run every benchmark, each in its own process with a hub of its own, and print a summary.

    .venv/bin/python bench/run_all.py [--json results.json]      (or: make bench)

Each benchmark is also runnable alone: bench/arm_latency.py, bench/notify_latency.py,
bench/discovery_scale.py, bench/replication_throughput.py, bench/delta_efficiency.py,
bench/replicating_page.py, bench/migration_downtime.py. The summary ends with Markdown tables in the
shape of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import benchhub

BENCH_DIR = Path(__file__).resolve().parent
SCRIPTS = [
    "arm_latency.py",
    "notify_latency.py",
    "discovery_scale.py",
    "replication_throughput.py",
    "delta_efficiency.py",
    "replicating_page.py",
    "migration_downtime.py",
]
# Each with a hub of its own, after the first three (whose results have their own table).
REPLICATION_SCRIPTS = SCRIPTS[3:]
SCRIPT_TIMEOUT_SECONDS = 900
# Two replications of a 2 GiB image each, with waits for a quiet machine, take longer.
REPLICATION_SCRIPT_TIMEOUT_SECONDS = 1500


def run_script(script: str, out: Path) -> dict | None:
    print(f"\n=== {script} ===", flush=True)
    timeout = REPLICATION_SCRIPT_TIMEOUT_SECONDS if script in REPLICATION_SCRIPTS else SCRIPT_TIMEOUT_SECONDS
    process = subprocess.Popen([sys.executable, str(BENCH_DIR / script), "--json", str(out)], cwd=BENCH_DIR.parent)
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


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def replication_markdown(results: dict[str, dict | None]) -> str:
    """The replication benchmarks' figures: one row each, the best run with the others' spread."""
    rows = ["| Measurement | Figure | Target | |", "|---|---|---|---|"]
    throughput = results.get("replication_throughput")
    if throughput:
        best = throughput["runs"][throughput["best_run"] - 1]
        all_runs = ", ".join(f"{run['seconds']['to_recovery_point']:.1f}" for run in throughput["runs"])
        rows.append(
            f"| Initial replication, {throughput['image_bytes'] // 2**20} MiB image: Replicate -> verified "
            f"recovery point | {best['seconds']['to_recovery_point']:.1f} s = "
            f"{best['mb_per_second']['to_recovery_point']:.0f} MB/s (runs: {all_runs} s); zstd -1 -T1 "
            f"{throughput['zstd']['mb_per_second']:.0f} MB/s; ratio **{throughput['ratio']:.2f}** "
            f"(to the last batch stored {throughput['upload_ratio']:.2f}) | ratio >= {throughput['target_ratio']} | "
            f"{verdict(throughput['target_met'])} |"
        )
    delta = results.get("delta_efficiency")
    if delta:
        ours = ", ".join(
            f"{run['ratio']['agent_to_process_server']:.3f} / {run['ratio']['process_server_to_hub']:.3f}"
            for run in delta["rounds"]
        )
        rsync = delta["rounds"][0]["rsync"]
        rows.append(
            f"| Delta cycle, {delta['changed_percent']}% of 4 KiB blocks changed: wire bytes / bytes changed "
            f"(agent -> process server / process server -> hub) | {ours} (per round); rsync default blocks "
            f"{rsync[0]['batch_and_checksums_ratio']:.2f}, rsync 4 KiB blocks "
            f"{rsync[1]['batch_and_checksums_ratio']:.2f} "
            f"| <= {delta['target_ratio']} | {verdict(delta['target_met'])} |"
        )
    page = results.get("replicating_page")
    if page:
        spread = ", ".join(f"{value:.0f}" for value in page["worst_p95_ms_per_round"])
        rows.append(
            f"| Replicating servers page, {page['servers']:,} servers: worst variant's p95, server time | "
            f"{min(page['worst_p95_ms_per_round']):.0f} ms (per round: {spread} ms) | p95 < "
            f"{page['target_p95_ms']:.0f} ms | {verdict(page['target_met'])} |"
        )
    downtime = results.get("migration_downtime")
    if downtime:
        spread = ", ".join(f"{value:.1f}" for value in downtime["downtime_seconds"])
        best = downtime["runs"][downtime["best_run"] - 1]
        rows.append(
            f"| Migrate with shutdown, {downtime['churn_bytes'] / 2**30:.2f} GiB changed since the last cycle: "
            f"request -> VM started | {min(downtime['downtime_seconds']):.1f} s (runs: {spread} s); final sync "
            f"{best['final_sync']['process_server_to_hub_bytes']:,} B; VM disk SHA-256 = source's: "
            f"{downtime['all_vm_disks_match']} | (none) | |"
        )
    return "\n".join(rows) if len(rows) > 2 else ""


def markdown(
    facts: dict,
    arm: dict | None,
    notify: dict | None,
    discovery: dict | None = None,
    replication: dict[str, dict | None] | None = None,
) -> str:
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
    tables = "\n".join(rows)
    replication_table = replication_markdown(replication or {})
    if replication_table:
        tables += "\n\n" + replication_table
    return tables + "\n\n" + machine


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
        replication = {
            script.removesuffix(".py"): run_script(script, Path(directory) / script.replace(".py", ".json"))
            for script in REPLICATION_SCRIPTS
        }

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
    print()
    print(markdown(facts, arm, notify, discovery, replication))
    benchhub.write_json(
        args.json,
        {"machine": facts, "arm_latency": arm, "notify_latency": notify, "discovery_scale": discovery, **replication},
    )
    return 0 if arm and notify and discovery and all(replication.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
