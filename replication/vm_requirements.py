"""Azure's requirements for a VM that agent-based migration creates, each refusal naming its rule.

From Azure Migrate's support matrix for physical servers and Azure's naming rules for compute: a
64-bit supported OS, exactly one OS disk of at most 2,048 GB, at most 64 data disks of at most 32 TB
each, and a VM name Azure accepts (15 characters at most for Windows host names)."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_OS_DISK_GB = 2048
MAX_DATA_DISKS = 64
MAX_DATA_DISK_GB = 32 * 1024
GIB = 1024**3

# Supported guest operating systems (64-bit only), by name prefix; kept as data to extend.
SUPPORTED_OS = {
    "Windows": (
        "Windows Server 2008 R2",
        "Windows Server 2012",
        "Windows Server 2016",
        "Windows Server 2019",
        "Windows Server 2022",
        "Windows 10",
        "Windows 11",
    ),
    "Linux": (
        "Red Hat Enterprise Linux",
        "CentOS",
        "Ubuntu",
        "Debian",
        "SUSE Linux Enterprise Server",
        "Oracle Linux",
        "Rocky Linux",
        "AlmaLinux",
    ),
}
_VM_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Problem:
    rule: str  # a short name of the rule, for grouping
    message: str  # what is wrong and what to do


def check_vm_name(name: str, os_type: str) -> list[Problem]:
    problems = []
    if not _VM_NAME.fullmatch(name or ""):
        problems.append(
            Problem(
                "VmName",
                f"VM name '{name}' is not valid: use 1 to 63 letters, digits and hyphens, starting and ending "
                "with a letter or digit.",
            )
        )
    if os_type == "Windows" and len(name or "") > 15:
        problems.append(
            Problem(
                "WindowsHostName",
                f"VM name '{name}' is longer than 15 characters, the limit for a Windows computer name.",
            )
        )
    return problems


def check_os(os_type: str, os_name: str, architecture: str = "x86_64") -> list[Problem]:
    problems = []
    if architecture and architecture.lower() not in ("x86_64", "amd64", "x64"):
        problems.append(
            Problem("Os64Bit", f"The server runs on {architecture}: Azure VMs need a 64-bit x86 operating system.")
        )
    if not any((os_name or "").startswith(prefix) for prefix in SUPPORTED_OS.get(os_type, ())):
        problems.append(
            Problem(
                "OsNotSupported",
                f"{os_name or 'The operating system'} is not in the supported operating systems for migration to "
                "Azure. Upgrade the server's OS, or migrate it another way.",
            )
        )
    return problems


def check_disks(disks: list[dict]) -> list[Problem]:
    """`disks`: the disks selected for replication, each {"diskId", "sizeBytes", "isOsDisk"}."""
    problems = []
    os_disks = [disk for disk in disks if disk.get("isOsDisk")]
    if len(os_disks) != 1:
        problems.append(Problem("OneOsDisk", f"Exactly one OS disk must be selected; {len(os_disks)} are."))
    for disk in os_disks:
        if disk["sizeBytes"] > MAX_OS_DISK_GB * GIB:
            problems.append(
                Problem(
                    "OsDiskSize",
                    f"OS disk {disk['diskId']} is {disk['sizeBytes'] // GIB} GB; "
                    f"Azure allows {MAX_OS_DISK_GB} GB at most.",
                )
            )
    data_disks = [disk for disk in disks if not disk.get("isOsDisk")]
    if len(data_disks) > MAX_DATA_DISKS:
        problems.append(
            Problem(
                "DataDiskCount", f"{len(data_disks)} data disks are selected; Azure allows {MAX_DATA_DISKS} at most."
            )
        )
    for disk in data_disks:
        if disk["sizeBytes"] > MAX_DATA_DISK_GB * GIB:
            problems.append(
                Problem(
                    "DataDiskSize",
                    f"Data disk {disk['diskId']} is {disk['sizeBytes'] // GIB} GB; Azure allows 32 TB at most.",
                )
            )
    return problems
