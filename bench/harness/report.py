"""The figures' shape: percentile summaries and their printed rows, the CPU line, verdicts, the JSON file."""

from __future__ import annotations

import json
import math
import os
import statistics
from pathlib import Path


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "min": min(values),
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values),
    }


def summary_or_none(values: list[float]) -> dict | None:
    """summary(values), or None when nothing was sampled (a window with no requests in it, say)."""
    return summary(values) if values else None


def format_row(label: str, stats: dict | None) -> str:
    if not stats:
        return f"  {label:<34} (no samples)"
    return (
        f"  {label:<34} n={stats['n']:<5} median {stats['median']:8.2f}  p95 {stats['p95']:8.2f}  "
        f"p99 {stats['p99']:8.2f}  min {stats['min']:7.2f}  max {stats['max']:8.2f}  (ms)"
    )


def format_cpu(cpu: dict) -> str:
    """One line of machine.CpuWatch's figures."""
    return (
        f"  machine CPU during the measurement (of {os.cpu_count()} cores): {cpu['machine_busy_percent']}% busy: "
        f"{cpu['bench_and_hub_percent']}% bench + hub, {cpu['postgres_and_redis_percent']}% PostgreSQL + Redis, "
        f"{cpu['others_percent']}% other processes; 1-min load average "
        f"{cpu['loadavg_1min_before_after'][0]} -> {cpu['loadavg_1min_before_after'][1]}"
    )


def verdict(met: bool) -> str:
    """How a script's printed report says whether the issue's target was met."""
    return "met" if met else "MISSED"


def write_json(path: str | None, data: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=str))


def target_line(target: str, met: bool, detail: str) -> str:
    """A report's closing line: the issue's target, whether it was met, and the figure that decides it."""
    return f" Target {target}: {verdict(met)} ({detail})"
