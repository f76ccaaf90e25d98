"""VM size matching and Azure's VM requirements (the rules Replicate will apply)."""

import json
from pathlib import Path

import pytest

from replication import sizing, vm_requirements
from replication.vm_requirements import GIB

PROFILES = Path(__file__).resolve().parents[1] / "agent" / "profiles"


def profile(name: str) -> dict:
    return json.loads((PROFILES / f"{name}.json").read_text())


@pytest.mark.parametrize(
    ("needs", "expected"),
    [
        ({"cores": 1, "memory_gib": 1, "data_disks": 0}, "Standard_B1s"),  # tiny: burstable is fine
        ({"cores": 2, "memory_gib": 4, "data_disks": 1}, "Standard_F2s_v2"),  # cheapest non-burstable fit
        ({"cores": 2, "memory_gib": 8, "data_disks": 2}, "Standard_D2s_v5"),
        ({"cores": 4, "memory_gib": 8, "data_disks": 1}, "Standard_F4s_v2"),
        ({"cores": 8, "memory_gib": 32, "data_disks": 3}, "Standard_D8s_v5"),
        ({"cores": 2, "memory_gib": 8, "data_disks": 6}, "Standard_F4s_v2"),  # disk count drives the size up
        ({"cores": 2, "memory_gib": 8, "data_disks": 1, "nics": 3}, "Standard_F8s_v2"),
    ],
)
def test_the_cheapest_size_that_meets_every_need(needs, expected):
    assert sizing.closest_match(**needs).name == expected


def test_nothing_fits_a_server_bigger_than_the_catalogue():
    assert sizing.closest_match(cores=64, memory_gib=512, data_disks=1) is None


def test_premium_disks_rule_out_sizes_without_premium_storage():
    size = sizing.SIZES_BY_NAME["standard_d2_v3"]
    assert sizing.fits(size, cores=2, memory_gib=8, data_disks=1, nics=1, premium=True) == [
        "Standard_D2_v3 cannot use Premium SSD disks"
    ]


def test_a_hand_picked_size_says_what_it_lacks():
    size = sizing.SIZES_BY_NAME["standard_b2s"]
    lacks = sizing.fits(size, cores=4, memory_gib=16, data_disks=5, nics=1, premium=False)
    assert lacks == [
        "Standard_B2s has 2 vCPUs; the server has 4 cores",
        "Standard_B2s has 4 GiB of memory; the server has 16 GiB",
        "Standard_B2s takes at most 4 data disks; 5 are selected",
    ]


@pytest.mark.parametrize(
    "name", ["rhel-8-db", "windows-2019-sql", "ubuntu-2004-app", "centos-7-file", "windows-2016-web"]
)
def test_the_shipped_profiles_meet_the_requirements_and_find_a_size(name):
    machine = profile(name)
    assert vm_requirements.check_os(machine["osType"], machine["osName"], machine["architecture"]) == []
    assert vm_requirements.check_disks(machine["disks"]) == []
    size = sizing.closest_match(
        cores=machine["cores"], memory_gib=machine["memoryMB"] / 1024, data_disks=len(machine["disks"]) - 1
    )
    assert size is not None


@pytest.mark.parametrize(
    ("name", "os_type", "rules"),
    [
        ("WEB-01", "Windows", []),
        ("web-server-with-a-long-name", "Linux", []),
        ("web-server-with-a-long-name", "Windows", ["WindowsHostName"]),
        ("-web", "Linux", ["VmName"]),
        ("web_01", "Linux", ["VmName"]),
        ("a" * 64, "Linux", ["VmName"]),
        ("", "Linux", ["VmName"]),
    ],
)
def test_vm_names(name, os_type, rules):
    assert [problem.rule for problem in vm_requirements.check_vm_name(name, os_type)] == rules


def test_unsupported_and_32_bit_systems_are_refused_with_the_rule():
    rules = [p.rule for p in vm_requirements.check_os("Windows", "Windows Server 2003", "x86")]
    assert rules == ["Os64Bit", "OsNotSupported"]


def test_disk_rules_name_the_disk_and_the_limit():
    disks = [
        {"diskId": "disk0", "sizeBytes": 3000 * GIB, "isOsDisk": True},
        {"diskId": "disk1", "sizeBytes": 40 * 1024 * GIB},
    ]
    messages = [p.message for p in vm_requirements.check_disks(disks)]
    assert messages == [
        "OS disk disk0 is 3000 GB; Azure allows 2048 GB at most.",
        "Data disk disk1 is 40960 GB; Azure allows 32 TB at most.",
    ]
    assert [p.rule for p in vm_requirements.check_disks([{"diskId": "d", "sizeBytes": GIB}])] == ["OneOsDisk"]
    many = [{"diskId": "os", "sizeBytes": GIB, "isOsDisk": True}] + [
        {"diskId": f"d{i}", "sizeBytes": GIB} for i in range(65)
    ]
    assert [p.rule for p in vm_requirements.check_disks(many)] == ["DataDiskCount"]
