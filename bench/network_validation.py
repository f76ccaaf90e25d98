"""Virtual network PUTs with thousands of address prefixes and subnets: answered, or refused with a 400
naming Azure's limit, well within a second.

Each request goes to a fresh hub (PostgreSQL + Redis) through the ARM API, timed by the client and by
the hub (`Server-Timing: app;dur=`):
  - 10,000 address prefixes (beyond the limit of 3,000: refused, naming it);
  - 10,000 subnets in one /15 (beyond Azure's 3,000 subnets per network: refused, naming it);
  - 3,000 address prefixes, in shuffled order (at the limit: the overlap check runs on all of them);
  - 3,000 subnets of a /12, in shuffled order (created, then PUT again unchanged, which rewrites them).
Before the sweep in projects/addresses.py, the 10,000-prefix PUT took 99 s (the check was quadratic).

Target (from the issue): every request answered or refused in under 1 s. Measured, not asserted.

    .venv/bin/python bench/network_validation.py [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import ipaddress
import random
import sys
import time

import requests
from harness.hub import ADMIN, resource_group_path, server_ms
from harness.options import Bounded, bench_main
from harness.report import verdict

TARGET_SECONDS = 1.0
API_VERSION = "2024-05-01"


def prefixes(count: int, new_prefix: int, within_block: str) -> list[str]:
    """`count` disjoint blocks of length new_prefix inside within_block, in shuffled order."""
    blocks = ipaddress.ip_network(within_block).subnets(new_prefix=new_prefix)
    chosen = [str(next(blocks)) for _ in range(count)]
    random.Random(count).shuffle(chosen)
    return chosen


def vnet_body(address_prefixes: list[str], subnet_prefixes: list[str] | None = None) -> dict:
    properties: dict = {"addressSpace": {"addressPrefixes": address_prefixes}}
    if subnet_prefixes is not None:
        properties["subnets"] = [
            {"name": f"s{index}", "properties": {"addressPrefix": prefix}}
            for index, prefix in enumerate(subnet_prefixes)
        ]
    return {"location": "westeurope", "properties": properties}


def bodies() -> dict[str, tuple[dict, int]]:
    """Each case: the body and the status it must get."""
    return {
        "10,000 prefixes": (vnet_body(prefixes(10_000, 24, "10.0.0.0/8")), 400),
        "10,000 subnets": (vnet_body(["10.0.0.0/8"], prefixes(10_000, 29, "10.0.0.0/15")), 400),
        "3,000 prefixes": (vnet_body(prefixes(3000, 24, "10.0.0.0/8")), 201),
        "3,000 subnets": (vnet_body(["10.0.0.0/12"], prefixes(3000, 24, "10.0.0.0/12")), 201),
    }


def run(hub, *, repeat: int) -> dict:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {hub.token(ADMIN)}"
    results = {}
    for case, (body, expected) in bodies().items():
        rounds = []
        for round_number in range(repeat):
            # A new network each round, so every created case creates; then the same PUT again (an update).
            name = f"bench-{case.split()[1]}-{case.split()[0].replace(',', '')}-{round_number}"
            url = f"{hub.url}{resource_group_path()}/providers/Microsoft.Network/virtualNetworks/{name}"
            for attempt, want in (("first", expected), ("again", 200 if expected == 201 else expected)):
                started = time.perf_counter()
                response = session.put(url, params={"api-version": API_VERSION}, json=body, timeout=120)
                elapsed = time.perf_counter() - started
                if response.status_code != want:
                    raise RuntimeError(
                        f"{case}: PUT answered {response.status_code}, not {want}: {response.text[:300]}"
                    )
                message = response.json()["error"]["message"] if response.status_code == 400 else ""
                rounds.append(
                    {
                        "attempt": attempt,
                        "status": response.status_code,
                        "client_s": round(elapsed, 3),
                        "server_s": round((server_ms(response.headers) or 0) / 1000, 3),
                        "message": message,
                    }
                )
        results[case] = {"expected": expected, "rounds": rounds, "worst_client_s": max(r["client_s"] for r in rounds)}
    session.close()
    worst = max(result["worst_client_s"] for result in results.values())
    return {
        "benchmark": "network_validation",
        "repeat": repeat,
        "debug": hub.env["DEBUG"],
        "target_seconds": TARGET_SECONDS,
        "worst_client_s": worst,
        "target_met": worst < TARGET_SECONDS,
        "cases": results,
    }


def report(result: dict) -> str:
    lines = [f"Virtual network PUT validation, {result['repeat']} round(s) per case (DEBUG={result['debug']}):"]
    for case, data in result["cases"].items():
        for entry in data["rounds"]:
            lines.append(
                f" {case:<16} {entry['attempt']:<5} {entry['status']}  client {entry['client_s']:.3f} s  "
                f"hub {entry['server_s']:.3f} s"
            )
        refusal = next((entry["message"] for entry in data["rounds"] if entry["message"]), "")
        if refusal:
            lines.append(f"   refused: {refusal}")
    lines.append(
        f" Target every request < {result['target_seconds']:.0f} s: {verdict(result['target_met'])} "
        f"(worst {result['worst_client_s']:.3f} s)"
    )
    return "\n".join(lines)


OPTIONS = (Bounded("--repeat", 3, 1, 20, "rounds per case (max 20)"),)

if __name__ == "__main__":
    sys.exit(bench_main(__doc__, run, report, OPTIONS))
