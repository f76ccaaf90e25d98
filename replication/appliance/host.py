"""What the appliance's host offers, checked against the appliance requirements before setup.

The tutorial's appliance is a Windows Server 2016 machine sized for production (8 vCPUs, 16 GB of
memory, 600 GB of disk for the cache). Ours runs on any Linux with Python 3; the minimums below are
what it needs to rehearse, and setup also names where the host is below Azure's recommendation."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
from dataclasses import dataclass

from appliance import process_server

MINIMUM = {"cores": 1, "memory_gib": 1.0, "free_disk_gib": 1.0}
AZURE_RECOMMENDED = {"cores": 8, "memory_gib": 16.0, "free_disk_gib": 600.0}


@dataclass
class Host:
    name: str
    os: str
    cores: int
    memory_gib: float
    free_disk_gib: float
    python: str
    ip_addresses: list[str]


def memory_gib() -> float:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def ip_addresses() -> list[str]:
    addresses = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addresses.add(info[4][0])
    except OSError:
        pass
    return sorted(addresses) or ["127.0.0.1"]


def inspect(home: str) -> Host:
    os.makedirs(home, exist_ok=True)
    return Host(
        name=socket.gethostname(),
        os=f"{platform.system()} {platform.release()}",
        cores=os.cpu_count() or 1,
        memory_gib=round(memory_gib(), 1),
        free_disk_gib=round(shutil.disk_usage(home).free / 1024**3, 1),
        python=sys.version.split()[0],
        ip_addresses=ip_addresses(),
    )


def shortfalls(host: Host, minimum: dict | None = None) -> tuple[list[str], list[str]]:
    """(blocking problems, warnings) in words a person can act on."""
    minimum = minimum or MINIMUM
    problems, warnings = [], []
    if sys.version_info < (3, 9):  # noqa: UP036 (the appliance host, not the hub, runs this)
        problems.append(f"Python {host.python} is too old: the appliance needs Python 3.9 or later.")
    for field, unit in (("cores", "CPU cores"), ("memory_gib", "GiB of memory"), ("free_disk_gib", "GiB of free disk")):
        have = getattr(host, field)
        if have < minimum[field]:
            problems.append(f"The host has {have} {unit}; the appliance needs at least {minimum[field]}.")
        elif have < AZURE_RECOMMENDED[field]:
            warnings.append(
                f"The host has {have} {unit}; Azure recommends {AZURE_RECOMMENDED[field]} for a production appliance."
            )
    if process_server.libraries_missing():
        warnings.append(
            f"Replication will not run: {process_server.MISSING_LIBRARIES}, for this Python ({sys.executable}); "
            "or run the appliance with APPLIANCE_PYTHON set to a Python that has them."
        )
    return problems, warnings
