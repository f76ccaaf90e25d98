"""What the agent reports about its machine: the real one, or a machine profile (JSON) for simulated
machines. Every field the hub shows comes from here."""

from __future__ import annotations

import json
import os
import platform
import socket
import stat
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


LOCAL_DISK_KEYS = ("path", "synthetic")


def _device_size(path: str) -> int:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(descriptor, 0, os.SEEK_END)
    finally:
        os.close(descriptor)


def _allocated_bytes(path: str) -> int | None:
    """The bytes an image file holds (holes, never written, take none): what an initial replication
    reads as data. None for a device, whose used space only its file systems know."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return min(status.st_blocks * 512, status.st_size)


def _used_bytes(source: dict) -> int | None:
    if "path" in source:
        return _allocated_bytes(source["path"])
    if isinstance(source.get("synthetic"), dict) and "usedBytes" in source["synthetic"]:
        try:
            return max(0, min(int(source["synthetic"]["usedBytes"]), source["sizeBytes"]))
        except (TypeError, ValueError):
            return None
    return None


def disk_sources(machine: dict, profile_path: str | None) -> tuple[dict, list[dict]]:
    """The machine as the hub is told about it, and where each disk's data is read from for
    replication: a real machine's /dev/<disk>; a profile disk's "path" (relative to the profile) or
    "synthetic" settings, or synthetic defaults. A disk read from a path reports that path's size.
    Local paths stay on this machine."""
    reported = dict(machine)
    reported["disks"], sources = [], []
    for disk in machine.get("disks", []):
        source = {"diskId": str(disk["diskId"]), "sizeBytes": int(disk.get("sizeBytes") or 0)}
        if profile_path is None:
            source["path"] = disk.get("name") or f"/dev/{disk['diskId']}"
        elif disk.get("path"):
            path = os.path.join(os.path.dirname(os.path.abspath(profile_path)), os.path.expanduser(str(disk["path"])))
            try:
                source["sizeBytes"] = _device_size(path)
            except OSError as error:
                raise ValueError(f"Disk {disk['diskId']}: cannot read {path}: {error.strerror}.") from None
            source["path"] = path
        elif isinstance(disk.get("synthetic"), dict):
            source["synthetic"] = disk["synthetic"]
        sources.append(source)
        entry = {
            **{key: value for key, value in disk.items() if key not in LOCAL_DISK_KEYS},
            "sizeBytes": source["sizeBytes"],
        }
        used = _used_bytes(source)
        if used is not None:
            entry["usedBytes"] = used
        reported["disks"].append(entry)
    return reported, sources
