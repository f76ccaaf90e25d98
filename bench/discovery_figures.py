"""Not a benchmark: how bench/discovery_scale.py turns what it saw (its instruments, the hub's database)
into figures, and its printed report.

Times are monotonic seconds; t0 is when the fleet started.
"""

from __future__ import annotations

import re

from harness.processes import ProcessMonitor, command_line
from harness.report import format_cpu, format_row, summary_or_none, verdict
from harness.timing import RequestSampler, TimingProxy

HEARTBEAT_LINE = re.compile(r"Heartbeats: (\d+) of (\d+) connected")


def rounded(value, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def fleet_figures(fleet, reader, command: list[str], heartbeat_seconds: float, workers: int, registered, t0) -> dict:
    """The fleet's command, its "Registered" line (registered: its figures and when it came), failures, output."""
    registered, registered_at = registered
    lines = reader.lines
    return {
        "command": " ".join(command[1:]),
        "heartbeat_seconds": heartbeat_seconds,
        "workers": workers,
        "registered_line": None if registered is None else f"{registered[0]} of {registered[1]} in {registered[2]} s",
        "registered_line_after_seconds": None if registered_at is None else round(registered_at - t0, 2),
        "failures": [line for _, line in lines if line.strip().startswith("failed:")][:5],
        "heartbeat_lines": [line for _, line in lines if HEARTBEAT_LINE.search(line)][:5],
        "exit_code": fleet.poll(),
        "output_tail": [f"{at - t0:7.2f} s  {line}" for at, line in lines[-25:]],
    }


def database_figures(database, appliance_id: str, fleet_started_wall: float) -> dict:
    """The appliance's servers in the hub's database: how many, and the spans between reported and discovered."""
    final = database.execute(
        """SELECT count(*), count(discovered_at),
                  extract(epoch FROM max(reported_at) - min(reported_at)),
                  extract(epoch FROM max(discovered_at) - min(reported_at)),
                  extract(epoch FROM max(discovered_at) - max(reported_at)),
                  extract(epoch FROM min(reported_at)) - %s
           FROM replication_discoveredserver WHERE appliance_id = %s""",
        (fleet_started_wall, appliance_id),
    ).fetchone()
    lags = [
        float(row[0])
        for row in database.execute(
            "SELECT extract(epoch FROM discovered_at - reported_at) FROM replication_discoveredserver "
            "WHERE appliance_id = %s AND discovered_at IS NOT NULL",
            (appliance_id,),
        )
    ]
    return {
        "servers": final[0],
        "discovered": final[1],
        "first_reported_after_fleet_start_seconds": rounded(final[5]),
        "reported_span_seconds": rounded(final[2]),
        "first_reported_to_last_discovered_seconds": rounded(final[3]),
        "last_reported_to_last_discovered_seconds": rounded(final[4]),
        "discovered_minus_reported_seconds": summary_or_none(lags),
    }


def latency_figures(sampler: RequestSampler, proxy: TimingProxy | None, windows: dict[str, tuple]) -> dict:
    """The hub's request times in each window: the ARM sampler's, and the appliance's calls through the proxy."""
    latency = {name: {"arm_get_resource_group": sampler.window(*span)} for name, span in windows.items()}
    if proxy:
        for name, span in windows.items():
            latency[name]["appliance_api"] = {kind: proxy.window(kind, *span) for kind in ("machines", "heartbeat")}
    return latency


def all_requests_in(sampler: RequestSampler, proxy: TimingProxy | None, start: float, stop: float) -> dict | None:
    """Every hub request in a window, whoever sent it: ARM samples and the appliance's calls."""
    server = [s[1] for s in sampler.samples if start <= s[0] < stop]
    if proxy:
        server += [r[3] for r in proxy.records if start <= r[0] < stop and r[3] is not None]
    return summary_or_none(server)


def process_figures(monitor: ProcessMonitor, t0: float, load_end: float, end: float, all_reported_at) -> dict:
    processes = {}
    for name, pid in monitor.pids.items():
        processes[name] = {
            "pid": pid,
            "command": command_line(pid)[:160],
            "load_window": monitor.window(name, t0, load_end),
            "whole_run": monitor.window(name, t0, end),
            "registering": None if all_reported_at is None else monitor.window(name, t0, all_reported_at),
            "after_all_reported": None if all_reported_at is None else monitor.window(name, all_reported_at, load_end),
            "vmhwm_mb": round(monitor.hwm.get(name, 0) / 1024, 1),
            "exited_after_seconds": round(monitor.gone[name] - t0, 1) if name in monitor.gone else None,
        }
    return processes


def report(result: dict) -> str:
    n = result["agents"]
    seconds = result["seconds_to_all_discovered"]
    lines = [
        f"Discovery at scale: {n} simulated agents through one appliance (DEBUG={result['debug']}, "
        f"DISCOVERY_DELAY_SECONDS={result['discovery_delay_seconds']}, appliance heartbeat "
        f"{result['appliance_heartbeat_seconds']} s, fleet heartbeat {result['fleet']['heartbeat_seconds']} s, "
        f"{result['fleet']['workers']} fleet workers, appliance API via recording proxy: {result['proxy']}):",
        f" fleet: Registered {result['fleet']['registered_line']} (line seen at "
        f"{result['fleet']['registered_line_after_seconds']} s)",
        f" all {n} in the hub's database (reported): {result['seconds_to_all_reported_in_hub']} s after fleet start",
        f" all {n} discovered: {seconds} s after fleet start = "
        f"{result['seconds_to_all_discovered_after_delay']} s after the {result['discovery_delay_seconds']} s delay",
    ]
    db = result["database"]
    lines.append(
        f" database: {db['servers']} servers, {db['discovered']} discovered; "
        f"reported over {db['reported_span_seconds']} s; "
        f"last reported -> last discovered {db['last_reported_to_last_discovered_seconds']} s"
    )
    lines.append(f" hub connections to PostgreSQL, most seen while polling: {result['hub_database_connections_max']}")
    lines.append(
        format_row("discovered_at - reported_at (s)", db["discovered_minus_reported_seconds"]).replace("(ms)", "(s)")
    )
    for failure in result["fleet"]["failures"]:
        lines.append(f"  fleet {failure.strip()}")
    if result["fleet"]["exit_code"] is not None:
        lines.append(f" The fleet exited early (exit {result['fleet']['exit_code']}); its last output:")
        lines += [f"   {line}" for line in result["fleet"]["output_tail"][-12:]]
    page = result["discovered_servers_page"]
    lines.append(f" Discovered servers page afterwards: {page['rows']} rows ({page['status']}, {page['client_ms']} ms)")
    for window, data in result["latency"].items():
        lines.append(f" {window.replace('_', ' ')}:")
        lines.append(format_row("ARM GET RG, server", data["arm_get_resource_group"]["server_ms"]))
        lines.append(format_row("ARM GET RG, client", data["arm_get_resource_group"]["client_ms"]))
        for kind, label in (("machines", "appliance machines POST"), ("heartbeat", "appliance heartbeat POST")):
            if "appliance_api" in data:
                stats = data["appliance_api"][kind]
                lines.append(format_row(f"{label}, server", stats["server_ms"]))
                if stats["non_2xx"]:
                    lines.append(f"    {stats['non_2xx']} answers were not 2xx")
    lines.append(" fleet start to all discovered, every hub request sampled (ARM and appliance API):")
    lines.append(format_row("all sampled hub requests, server", result["all_hub_requests_in_load_window_server_ms"]))
    lines.append(
        " processes, CPU seconds (% of one core): fleet start -> all discovered [registering | after all reported]"
        " | whole run incl. heartbeating after; memory:"
    )

    def cpu(window: dict | None) -> str:
        return "-" if window is None else f"{window['cpu_seconds']:.1f} s ({window['cpu_percent_of_one_core']:.0f}%)"

    for name, data in result["processes"].items():
        lines.append(
            f"  {name:<32} {cpu(data['load_window'])} [{cpu(data.get('registering'))} | "
            f"{cpu(data.get('after_all_reported'))}] | {cpu(data['whole_run'])}; "
            f"peak RSS {data['whole_run']['peak_rss_mb']} MB, VmHWM {data['vmhwm_mb']} MB"
            + (f"; exited at {data['exited_after_seconds']} s" if data["exited_after_seconds"] is not None else "")
        )
    lines.append(format_cpu(result["cpu"]))
    lines.append(
        f" Target all discovered <= {result['target_discovery_after_delay_seconds']:.0f} s after the delay: "
        f"{verdict(result['discovery_target_met'])}; hub p95 < {result['target_p95_ms']:.0f} ms while it happens: "
        f"{verdict(result['latency_target_met'])} (all sampled requests; ARM samples alone: "
        f"{verdict(result['arm_p95_target_met'])})"
    )
    return "\n".join(lines)
