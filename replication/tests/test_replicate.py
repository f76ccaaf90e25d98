"""Replicate's rules (replication.replicate): Azure's VM requirements and the project's state, each
problem naming its rule and field; nothing is created unless every server passes."""

from __future__ import annotations

import pytest

from hub import secrets
from jobs.models import Job
from projects import access
from projects.models import AvailabilitySet, ResourceGroup, Subnet, User, VirtualNetwork
from replication import services
from replication.models import Appliance, DiskType, LicenseType, MigrationItem, RunAsAccount
from replication.replicate import (
    DiskChoice,
    ReplicationInvalid,
    ReplicationPlan,
    ServerPlan,
    auto_vm_size,
    default_os_disk_id,
    replication_enable,
    replication_plan_problems,
)
from replication.tests.conftest import finalized_appliance, migration_project

pytestmark = pytest.mark.django_db

GIB = 1024**3


def machine(name: str, *, os_type="Linux", os_name="Ubuntu 20.04", disks=None, cores=2, memory_mb=4096, **extra):
    return {
        "hostName": name,
        "osType": os_type,
        "osName": os_name,
        "architecture": "x86_64",
        "cores": cores,
        "memoryMB": memory_mb,
        "disks": disks
        or [
            {"diskId": "disk0", "sizeBytes": 64 * GIB, "isOsDisk": True},
            {"diskId": "disk1", "sizeBytes": 128 * GIB, "isOsDisk": False},
        ],
        "nics": [{"nicId": "nic0", "ipAddresses": ["10.0.0.4"], "isPrimary": True}],
        **extra,
    }


def discovered(appliance: Appliance, name: str, captured, **machine_fields):
    """A server whose agent registered through the appliance and that is past the discovery delay."""
    with captured():
        server = services.server_report(
            appliance=appliance, machine_id=f"m-{name}", agent_version="9.60", machine=machine(name, **machine_fields)
        )
    services.server_discover(server.pk)
    server.refresh_from_db()
    return server


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    return build_world(django_capture_on_commit_callbacks)


def build_world(django_capture_on_commit_callbacks) -> dict:
    """A Contoso project migrating to West Europe, its finalized appliance and two discovered servers."""
    project = migration_project(django_capture_on_commit_callbacks, "replicate")
    admin = User.objects.get(email="admin@contoso.com")
    group = ResourceGroup.objects.get(name="rg-migrate")
    appliance = finalized_appliance(project)
    return {
        "admin": admin,
        "group": group,
        "project": project,
        "appliance": appliance,
        "network": VirtualNetwork.objects.get(name="vnet-prod"),
        "linux": discovered(appliance, "web01", django_capture_on_commit_callbacks),
        "windows": discovered(
            appliance, "WIN-SQL01", django_capture_on_commit_callbacks, os_type="Windows", os_name="Windows Server 2019"
        ),
        "captured": django_capture_on_commit_callbacks,
    }


def server_plan(server, **overrides) -> ServerPlan:
    fields = {"server": server, "vm_name": server.name, "os_disk_id": default_os_disk_id(server)}
    return ServerPlan(**{**fields, **overrides})


def plan(world, *server_plans: ServerPlan, **overrides) -> ReplicationPlan:
    fields = {
        "appliance": world["appliance"],
        "target_resource_group": world["group"],
        "target_network": world["network"],
        "target_subnet": "default",
        "hybrid_benefit": False,
        "servers": list(server_plans) or [server_plan(world["linux"])],
        "new_credentials": ("dummy", "root", "secret"),
    }
    return ReplicationPlan(**{**fields, **overrides})


def existing_credentials() -> dict:
    """The guest credentials an earlier Replicate added, selected instead of added again."""
    return {"run_as_account": RunAsAccount.objects.get(), "new_credentials": None}


def rules(world, the_plan: ReplicationPlan) -> set[tuple[str, str]]:
    """(field, rule) of every problem."""
    return {
        (problem.field, problem.rule)
        for problem in replication_plan_problems(world["admin"], world["project"], the_plan)
    }


def enable(world, the_plan: ReplicationPlan, user=None):
    with world["captured"]():
        return replication_enable(user or world["admin"], world["project"], the_plan, link="/somewhere/")


def test_a_valid_plan_has_no_problem(world):
    assert rules(world, plan(world)) == set()


# VM name


@pytest.mark.parametrize("name", ["web_01", "-web", "web-", "web 01", "", "x" * 64])
def test_a_vm_name_azure_refuses(world, name):
    assert ("vm_name", "VmName") in rules(world, plan(world, server_plan(world["linux"], vm_name=name)))


def test_a_windows_vm_name_is_at_most_15_characters_a_linux_one_may_be_longer(world):
    windows = server_plan(world["windows"], vm_name="WIN-SQL01-PRODUC")  # 16
    assert ("vm_name", "WindowsHostName") in rules(world, plan(world, windows))
    assert rules(world, plan(world, server_plan(world["windows"], vm_name="WIN-SQL01-PRODU"))) == set()  # 15
    assert rules(world, plan(world, server_plan(world["linux"], vm_name="web01-production-frontend"))) == set()


def test_a_vm_name_must_be_unique_in_the_target_resource_group(world):
    enable(world, plan(world, server_plan(world["linux"], vm_name="app01")))
    other = discovered(world["appliance"], "web02", world["captured"])
    found = replication_plan_problems(
        world["admin"], world["project"], plan(world, server_plan(other, vm_name="APP01"), **existing_credentials())
    )
    assert [(p.field, p.rule, p.server) for p in found] == [("vm_name", "VmNameNotUnique", "web02")]
    assert "already has a VM named APP01" in found[0].message


def test_a_vm_name_must_be_unique_within_one_request(world):
    both = plan(world, server_plan(world["linux"], vm_name="app"), server_plan(world["windows"], vm_name="App"))
    found = replication_plan_problems(world["admin"], world["project"], both)
    assert [(p.rule, p.server) for p in found] == [("VmNameNotUnique", "WIN-SQL01")]
    assert "chosen for both web01 and WIN-SQL01" in found[0].message


# Disks


def test_the_os_disk_is_at_most_2048_gb(world, django_capture_on_commit_callbacks):
    big = discovered(
        world["appliance"],
        "bigos",
        django_capture_on_commit_callbacks,
        disks=[{"diskId": "disk0", "sizeBytes": 2049 * GIB, "isOsDisk": True}],
    )
    assert ("disks", "OsDiskSize") in rules(world, plan(world, server_plan(big)))
    fits = discovered(
        world["appliance"],
        "fitos",
        django_capture_on_commit_callbacks,
        disks=[{"diskId": "disk0", "sizeBytes": 2048 * GIB, "isOsDisk": True}],
    )
    assert rules(world, plan(world, server_plan(fits))) == set()


def test_at_most_64_data_disks_and_excluding_some_makes_it_fit(world, django_capture_on_commit_callbacks):
    disks = [{"diskId": "disk0", "sizeBytes": 64 * GIB, "isOsDisk": True}] + [
        {"diskId": f"data{index}", "sizeBytes": GIB} for index in range(65)
    ]
    many = discovered(world["appliance"], "many", django_capture_on_commit_callbacks, disks=disks, cores=16)
    assert ("disks", "DataDiskCount") in rules(world, plan(world, server_plan(many, vm_size="Standard_D16s_v5")))
    fewer = server_plan(
        many, vm_size="Standard_D16s_v5", disks=[DiskChoice(f"data{index}", include=False) for index in range(33)]
    )
    assert rules(world, plan(world, fewer)) == set()


def test_a_data_disk_is_at_most_32_tb(world, django_capture_on_commit_callbacks):
    disks = [
        {"diskId": "disk0", "sizeBytes": 64 * GIB, "isOsDisk": True},
        {"diskId": "huge", "sizeBytes": (32 * 1024 + 1) * GIB},
    ]
    huge = discovered(world["appliance"], "huge", django_capture_on_commit_callbacks, disks=disks)
    assert ("disks", "DataDiskSize") in rules(world, plan(world, server_plan(huge)))
    excluded = server_plan(huge, disks=[DiskChoice("huge", include=False)])
    assert rules(world, plan(world, excluded)) == set()


def test_exactly_one_os_disk_which_can_not_be_excluded(world):
    assert rules(world, plan(world, server_plan(world["linux"], os_disk_id=""))) == {("os_disk", "OsDiskNotSelected")}
    excluded = server_plan(world["linux"], disks=[DiskChoice("disk0", include=False)])
    # Said once, in words naming the fix (not also as "exactly one OS disk: 0 are").
    assert rules(world, plan(world, excluded)) == {("disks", "OsDiskExcluded")}
    # The data disk chosen as the OS disk: still exactly one.
    assert rules(world, plan(world, server_plan(world["linux"], os_disk_id="disk1"))) == set()


# Operating system


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"os_type": "Windows", "os_name": "Windows Server 2003"}, "OsNotSupported"),
        ({"os_type": "Linux", "os_name": "Slackware 15"}, "OsNotSupported"),
        ({"architecture": "i686"}, "Os64Bit"),
    ],
)
def test_an_unsupported_or_32_bit_os_is_refused(world, django_capture_on_commit_callbacks, fields, rule):
    server = discovered(world["appliance"], "old", django_capture_on_commit_callbacks, **fields)
    assert ("os", rule) in rules(world, plan(world, server_plan(server)))


# VM size


def test_automatic_size_matches_cores_memory_and_selected_data_disks(world):
    assert auto_vm_size(world["linux"], server_plan(world["linux"])).name == "Standard_F2s_v2"
    premium = server_plan(world["linux"], disks=[DiskChoice("disk1", disk_type=DiskType.PREMIUM_SSD)])
    assert auto_vm_size(world["linux"], premium).premium_storage


def test_a_manual_size_too_small_for_the_server_or_its_selected_disks(world, django_capture_on_commit_callbacks):
    assert ("vm_size", "VmSizeTooSmall") in rules(
        world, plan(world, server_plan(world["linux"], vm_size="Standard_B1s"))
    )  # 1 vCPU, 1 GiB for 2 cores and 4 GiB
    disks = [{"diskId": "disk0", "sizeBytes": 64 * GIB, "isOsDisk": True}] + [
        {"diskId": f"data{index}", "sizeBytes": GIB} for index in range(5)
    ]
    five = discovered(world["appliance"], "five", django_capture_on_commit_callbacks, disks=disks)
    found = replication_plan_problems(
        world["admin"], world["project"], plan(world, server_plan(five, vm_size="Standard_D2s_v3"))
    )
    assert [(p.field, p.rule) for p in found] == [("vm_size", "VmSizeTooSmall")]
    assert "takes at most 4 data disks; 5 are selected" in found[0].message
    one_excluded = server_plan(five, vm_size="Standard_D2s_v3", disks=[DiskChoice("data4", include=False)])
    assert rules(world, plan(world, one_excluded)) == set()
    assert ("vm_size", "UnknownVmSize") in rules(world, plan(world, server_plan(five, vm_size="Standard_Huge")))


# The project's state


def test_a_server_already_replicating_is_refused(world):
    enable(world, plan(world))
    again = plan(world, server_plan(world["linux"], vm_name="web01-again"), **existing_credentials())
    assert ("servers", "AlreadyReplicating") in rules(world, again)


def test_the_appliance_must_be_finalized_and_the_servers_own(world, django_capture_on_commit_callbacks):
    other = finalized_appliance(world["project"], "appliance-2")
    assert ("servers", "ServerOnAnotherAppliance") in rules(world, plan(world, appliance=other))
    Appliance.objects.filter(pk=other.pk).update(state=Appliance.State.REGISTERED)
    other.refresh_from_db()
    assert ("appliance", "ApplianceNotFinalized") in rules(world, plan(world, appliance=other))


def test_vcenter_is_required_for_vmware_only(world):
    assert ("vcenter", "VCenterRequired") in rules(world, plan(world, machines_virtualized="vmware"))
    assert rules(world, plan(world, machines_virtualized="vmware", vcenter="vcenter01")) == set()
    assert rules(world, plan(world, machines_virtualized="hyperv")) == set()


def test_guest_credentials_are_required_complete_and_of_the_appliance(world):
    assert ("guest_credentials", "GuestCredentialsRequired") in rules(world, plan(world, new_credentials=None))
    assert ("guest_credentials", "GuestCredentialsIncomplete") in rules(
        world, plan(world, new_credentials=("dummy", "root", ""))
    )
    other = finalized_appliance(world["project"], "appliance-2")
    foreign = RunAsAccount.objects.create(appliance=other, friendly_name="theirs", username="x", encrypted_password="")
    assert ("guest_credentials", "GuestCredentialsNotOnAppliance") in rules(
        world, plan(world, new_credentials=None, run_as_account=foreign)
    )


def test_new_guest_credentials_can_not_take_an_existing_name(world):
    enable(world, plan(world))  # adds "dummy"
    assert ("guest_credentials", "GuestCredentialsNameTaken") in rules(
        world, plan(world, server_plan(world["windows"]), new_credentials=("DUMMY", "admin", "other"))
    )
    account = RunAsAccount.objects.get()
    assert secrets.decrypt(account.encrypted_password, purpose="guest credentials") == b"secret"


def test_the_network_and_test_network_must_be_in_the_target_region_with_a_subnet(world):
    group = world["group"]
    elsewhere = VirtualNetwork.objects.create(
        resource_group=group, name="vnet-ne", location="northeurope", address_prefixes=["10.30.0.0/16"]
    )
    Subnet.objects.create(virtual_network=elsewhere, name="default", address_prefix="10.30.1.0/24")
    assert ("target_network", "VirtualNetworkNotInTargetRegion") in rules(world, plan(world, target_network=elsewhere))
    assert ("target_subnet", "SubnetNotFound") in rules(world, plan(world, target_subnet="nope"))
    assert ("test_network", "VirtualNetworkNotInTargetRegion") in rules(
        world, plan(world, test_network=elsewhere, test_subnet="default")
    )
    test_network = VirtualNetwork.objects.get(name="vnet-test")
    assert ("test_subnet", "SubnetNotFound") in rules(world, plan(world, test_network=test_network))
    assert rules(world, plan(world, test_network=test_network, test_subnet="test")) == set()


def test_the_availability_set_must_be_in_the_target_group_and_region(world):
    avset = AvailabilitySet.objects.get(name="avset-app")
    assert rules(world, plan(world, server_plan(world["linux"], availability_set=avset))) == set()
    other_group = ResourceGroup.objects.create(subscription=world["group"].subscription, name="rg-other", location="x")
    foreign = AvailabilitySet.objects.create(resource_group=other_group, name="avset-other", location="westeurope")
    assert ("availability_set", "AvailabilitySetNotInTargetGroup") in rules(
        world, plan(world, server_plan(world["linux"], availability_set=foreign))
    )
    far = AvailabilitySet.objects.create(resource_group=world["group"], name="avset-far", location="northeurope")
    assert ("availability_set", "AvailabilitySetNotInTargetRegion") in rules(
        world, plan(world, server_plan(world["linux"], availability_set=far))
    )


# Enabling


def test_replicate_creates_an_item_per_server_and_a_start_replication_job_each(world):
    avset = AvailabilitySet.objects.get(name="avset-app")
    jobs = enable(
        world,
        plan(
            world,
            server_plan(
                world["linux"],
                vm_name="web01-az",
                vm_size="Standard_D4s_v5",
                availability_set=avset,
                disks=[DiskChoice("disk1", include=False), DiskChoice("disk0", disk_type=DiskType.PREMIUM_SSD)],
            ),
            server_plan(world["windows"]),
            hybrid_benefit=True,
        ),
    )
    assert [job.friendly_name for job in jobs] == ["Start replication", "Start replication"]
    assert {job.target_object_name for job in jobs} == {"web01-az", "WIN-SQL01"}
    linux = MigrationItem.objects.get(server=world["linux"])
    assert (linux.target_vm_size, linux.target_vm_size_auto) == ("Standard_D4s_v5", False)
    assert linux.target_availability_set_id == avset.arm_id
    assert linux.license_type == LicenseType.NO_LICENSE, "Azure Hybrid Benefit applies to Windows Server only"
    assert {(d.disk_id, d.included, d.disk_type, d.is_os_disk) for d in linux.disks.all()} == {
        ("disk0", True, DiskType.PREMIUM_SSD, True),
        ("disk1", False, DiskType.STANDARD_SSD, False),
    }
    windows = MigrationItem.objects.get(server=world["windows"])
    assert windows.target_vm_size_auto and windows.license_type == LicenseType.WINDOWS_SERVER
    account = RunAsAccount.objects.get()
    assert linux.run_as_account == windows.run_as_account == account
    assert "secret" not in account.encrypted_password
    assert secrets.decrypt(account.encrypted_password, purpose="guest credentials") == b"secret"


def test_nothing_is_created_when_one_server_fails(world):
    jobs_before = Job.objects.count()
    bad = plan(
        world,
        server_plan(world["linux"]),
        server_plan(world["windows"], vm_name="WIN-SQL01-PRODUCTION"),
    )
    with pytest.raises(ReplicationInvalid) as invalid:
        enable(world, bad)
    assert [(p.rule, p.server) for p in invalid.value.problems] == [("WindowsHostName", "WIN-SQL01")]
    assert invalid.value.status == 400 and invalid.value.code == "WindowsHostName"
    assert MigrationItem.objects.count() == 0
    assert RunAsAccount.objects.count() == 0
    assert Job.objects.count() == jobs_before


def test_a_reader_may_not_replicate(world):
    viewer = User.objects.get(email="viewer@contoso.com")
    with pytest.raises(access.AccessDenied) as denied:
        enable(world, plan(world), user=viewer)
    assert "You need Contributor or Owner on resource group rg-migrate to replicate servers" in (
        denied.value.portal_message
    )
    assert MigrationItem.objects.count() == 0
