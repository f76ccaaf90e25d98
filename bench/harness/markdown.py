"""The summary's Markdown tables, in the shape of BENCHMARKS.md: the latency table (ARM, notifications,
discovery), then the replication table, then a line of the machine's facts."""

from __future__ import annotations


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def stats_cells(s: dict) -> str:
    """The n, median, p95, p99 and max cells of a row of the latency table."""
    return f"{s['n']} | {s['median']:.1f} ms | {s['p95']:.1f} ms | {s['p99']:.1f} ms | {s['max']:.1f} ms"


def listed(values: list[float], digits: int) -> str:
    return ", ".join(f"{value:.{digits}f}" for value in values)


def replication_row(measurement: str, figure: str, target: str, met: bool) -> str:
    return f"| {measurement} | {figure} | {target} | {verdict(met)} |"


def _throughput_row(throughput: dict) -> str:
    best = throughput["runs"][throughput["best_run"] - 1]
    all_runs = ", ".join(f"{run['seconds']['to_recovery_point']:.1f}" for run in throughput["runs"])
    return replication_row(
        f"Initial replication, {throughput['image_bytes'] // 2**20} MiB image: Replicate -> verified recovery point",
        f"{best['seconds']['to_recovery_point']:.1f} s = {best['mb_per_second']['to_recovery_point']:.0f} MB/s "
        f"(runs: {all_runs} s); zstd -1 -T1 {throughput['zstd']['mb_per_second']:.0f} MB/s; "
        f"ratio **{throughput['ratio']:.2f}** (to the last batch stored {throughput['upload_ratio']:.2f})",
        f"ratio >= {throughput['target_ratio']}",
        throughput["target_met"],
    )


def _delta_row(delta: dict) -> str:
    ours = ", ".join(
        f"{run['ratio']['agent_to_process_server']:.3f} / {run['ratio']['process_server_to_hub']:.3f}"
        for run in delta["rounds"]
    )
    rsync = delta["rounds"][0]["rsync"]
    return replication_row(
        f"Delta cycle, {delta['changed_percent']}% of 4 KiB blocks changed: wire bytes / bytes changed "
        "(agent -> process server / process server -> hub)",
        f"{ours} (per round); rsync default blocks {rsync[0]['batch_and_checksums_ratio']:.2f}, "
        f"rsync 4 KiB blocks {rsync[1]['batch_and_checksums_ratio']:.2f}",
        f"<= {delta['target_ratio']}",
        delta["target_met"],
    )


def _page_row(page: dict) -> str:
    spread = listed(page["worst_p95_ms_per_round"], 0)
    measurement = (
        f"Replicating servers page and Server Migration overview, {page['servers']:,} servers: "
        "worst variant's p95, server time"
    )
    figure = f"{max(page['worst_p95_ms_per_round']):.0f} ms, the worst round (per round: {spread} ms)"
    return replication_row(measurement, figure, f"p95 < {page['target_p95_ms']:.0f} ms", page["target_met"])


def _downtime_row(downtime: dict) -> str:
    spread = listed(downtime["downtime_seconds"], 1)
    best = downtime["runs"][downtime["best_run"] - 1]
    return (
        f"| Migrate with shutdown, {downtime['churn_bytes'] / 2**30:.2f} GiB changed since the last cycle: "
        f"request -> VM started | {min(downtime['downtime_seconds']):.1f} s (runs: {spread} s); final sync "
        f"{best['final_sync']['process_server_to_hub_bytes']:,} B; VM disk SHA-256 = source's: "
        f"{downtime['all_vm_disks_match']} | (none) | |"
    )


# The replication table's rows, in order: each benchmark's row, from its figures.
REPLICATION_ROWS = {
    "replication_throughput": _throughput_row,
    "delta_efficiency": _delta_row,
    "replicating_page": _page_row,
    "migration_downtime": _downtime_row,
}


def replication_markdown(results: dict[str, dict | None]) -> str:
    """The replication benchmarks' figures: one row each, the best run with the others' spread."""
    rows = ["| Measurement | Figure | Target | |", "|---|---|---|---|"]
    rows += [row(results[name]) for name, row in REPLICATION_ROWS.items() if results.get(name)]
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
                rows.append(f"| GET {label}, {what} | {stats_cells(s)} | {target} | {met} |")
    if notify:
        s = notify["latency_ms"]
        rows.append(
            f"| Job finished -> notification in the browser | {stats_cells(s)} | "
            f"p95 < {notify['target_p95_ms']:.0f} ms | "
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
                    f"| {label} during discovery, server (Server-Timing) | {stats_cells(s)} | "
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
