"""What the agent reports about its machine: the real one, or a machine profile (JSON) for simulated
machines. Every field the hub shows comes from here."""

from __future__ import annotations

import json
import os
import platform
import socket
import uuid


def _os_release() -> dict:
    values = {}
    try:
        with open("/etc/os-release") as handle:
            for line in handle:
                key, _, value = line.strip().partition("=")
                values[key] = value.strip('"')
    except OSError:
        pass
    return values


def _memory_mb() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _disks() -> list[dict]:
    disks = []
    try:
        names = sorted(os.listdir("/sys/block"))
    except OSError:
        names = []
    for name in names:
        if name.startswith(("loop", "ram", "zram", "sr", "dm-")):
            continue
        try:
            with open(f"/sys/block/{name}/size") as handle:
                size_bytes = int(handle.read().strip()) * 512
        except (OSError, ValueError):
            continue
        if size_bytes:
            disks.append({"diskId": name, "name": f"/dev/{name}", "sizeBytes": size_bytes, "isOsDisk": not disks})
    return disks


def _nics() -> list[dict]:
    addresses = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addresses.add(info[4][0])
    except OSError:
        pass
    return [{"nicId": "eth0", "ipAddresses": sorted(addresses) or ["127.0.0.1"], "isPrimary": True}]


def machine_id() -> str:
    try:
        with open("/etc/machine-id") as handle:
            value = handle.read().strip()
            if value:
                return value
    except OSError:
        pass
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, socket.getfqdn()))


def real_machine() -> tuple[str, dict]:
    release = _os_release()
    machine = {
        "hostName": socket.gethostname(),
        "osType": "Linux" if platform.system() == "Linux" else platform.system(),
        "osName": release.get("NAME", platform.system()),
        "osVersion": release.get("VERSION_ID", platform.release()),
        "architecture": platform.machine(),
        "cores": os.cpu_count() or 1,
        "memoryMB": _memory_mb(),
        "firmware": "UEFI" if os.path.isdir("/sys/firmware/efi") else "BIOS",
        "nics": _nics(),
        "disks": _disks(),
    }
    return machine_id(), machine


def profile_machine(path: str) -> tuple[str, dict]:
    """A simulated machine: the profile's fields, with its own stable identity."""
    with open(path) as handle:
        profile = json.load(handle)
    machine = {key: value for key, value in profile.items() if key != "machineId"}
    return str(profile.get("machineId") or uuid.uuid5(uuid.NAMESPACE_URL, machine.get("hostName", path))), machine
