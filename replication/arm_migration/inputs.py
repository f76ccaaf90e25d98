"""What the request bodies of Site Recovery migration say: an enable (PUT of a migration item) or an
update (PATCH), in InMageRcm or VMwareCbt vocabulary, and the bodies of the item verbs. Reading only:
what the ids name is resolved in plans.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.arm.bodies import BodyReader
from replication.arm_migration.shapes import PROVIDER, VMWARE_CBT


def instance_type(details: BodyReader) -> str:
    value = details.text("instanceType", required=True, max_length=40)
    if value is None:
        return ""
    for known in (PROVIDER, VMWARE_CBT):
        if value.lower() == known.lower():
            return known
    details.fail("instanceType", f"instanceType '{value}' is not served here: use '{PROVIDER}' (or '{VMWARE_CBT}').")
    return ""


@dataclass
class DiskInput:
    disk_id: str
    disk_type: str | None
    is_os_disk: bool | None  # VMwareCbt says which disk boots; InMageRcm leaves it to the machine


@dataclass
class TargetInput:
    """The target settings an enable or update body carries (None: not given)."""

    instance_type: str = PROVIDER
    policy_id: str | None = None
    machine_id: str | None = None
    process_server_id: str | None = None
    run_as_account_id: str | None = None
    target_resource_group_id: str | None = None
    target_vm_name: str | None = None
    target_vm_size: str | None = None
    target_network_id: str | None = None
    target_subnet_name: str | None = None
    test_network_id: str | None = None
    test_subnet_name: str | None = None
    license_type: str | None = None
    availability_set_id: str | None = None
    disks: list[DiskInput] | None = None
    disks_default_type: str | None = None
    given: set[str] = field(default_factory=set)


def _nics_primary_first(details: BodyReader) -> list[BodyReader]:
    # One subnet per VM here: the primary NIC's choice wins, else the first NIC that names one.
    nics = details.children("vmNics") or []
    nics.sort(key=lambda nic: str(nic.raw("isPrimaryNic")).lower() != "true")
    return nics


def _primary_nic_text(details: BodyReader, key: str) -> str | None:
    """A per-NIC choice (VMwareCbt's vmNics[]): the primary NIC's, else the first NIC's that names one."""
    return next((value for value in (nic.text(key) for nic in _nics_primary_first(details)) if value), None)


def _read_targets(details: BodyReader, target: TargetInput) -> None:
    """The properties InMageRcm and VMwareCbt name alike."""
    for attribute, key in (
        ("target_resource_group_id", "targetResourceGroupId"),
        ("target_vm_name", "targetVmName"),
        ("target_vm_size", "targetVmSize"),
        ("target_network_id", "targetNetworkId"),
        ("target_subnet_name", "targetSubnetName"),
        ("test_network_id", "testNetworkId"),
        ("test_subnet_name", "testSubnetName"),
        ("license_type", "licenseType"),
        ("availability_set_id", "targetAvailabilitySetId"),
    ):
        value = details.text(key)
        if value is not None:
            setattr(target, attribute, value)
            target.given.add(attribute)
    nics = _nics_primary_first(details)
    for attribute, key in (("target_subnet_name", "targetSubnetName"), ("test_subnet_name", "testSubnetName")):
        named = [name for name in (nic.text(key) for nic in nics) if name]
        if attribute not in target.given and named:
            setattr(target, attribute, named[0])
            target.given.add(attribute)


def read_enable_input(request) -> TargetInput:
    body = BodyReader.of(request)
    properties = body.child("properties", required=True)
    target = TargetInput(policy_id=properties.text("policyId", required=True))
    details = properties.child("providerSpecificDetails", required=True)
    if details.data:
        target.instance_type = instance_type(details)
    if target.instance_type == PROVIDER:
        target.machine_id = details.text("fabricDiscoveryMachineId")
        target.process_server_id = details.text("processServerId")
        target.run_as_account_id = details.text("runAsAccountId")
    else:
        target.machine_id = details.text("vmwareMachineId")
        target.run_as_account_id = details.text("dataMoverRunAsAccountId")
    _read_targets(details, target)
    disks = details.children("disksToInclude")
    if disks is not None:
        target.disks = []
        for disk in disks:
            disk_id = disk.text("diskId", required=True, max_length=128)
            is_os = disk.text("isOSDisk")
            if disk_id is not None:
                target.disks.append(
                    DiskInput(disk_id, disk.text("diskType"), None if is_os is None else is_os.lower() == "true")
                )
    elif details.has("disksDefault"):
        target.disks_default_type = details.child("disksDefault").text("diskType")
    body.raise_errors()
    return target


def read_update_input(request) -> TargetInput:
    body = BodyReader.of(request)
    details = body.child("properties", required=True).child("providerSpecificDetails", required=True)
    target = TargetInput()
    if details.data:
        target.instance_type = instance_type(details)
    _read_targets(details, target)
    body.raise_errors()
    return target


@dataclass
class ActionInput:
    """What a testMigrate, testMigrateCleanup, migrate or resync body says (None: not given)."""

    network_id: str | None = None
    subnet_name: str | None = None
    recovery_point_id: str | None = None
    perform_shutdown: bool = True
    comments: str = ""


def _action_details(request) -> tuple[BodyReader, BodyReader]:
    """The body and its properties.providerSpecificDetails. Both may be absent: every verb has a
    default for everything (the item's test network, shutdown, the latest point)."""
    body = BodyReader.of(request)
    details = body.child("properties").child("providerSpecificDetails")
    if details.data:
        instance_type(details)
    return body, details


def read_test_migrate_input(request) -> ActionInput:
    body, details = _action_details(request)
    given = ActionInput(
        network_id=details.text("networkId"),
        # InMageRcm names the test subnet on the item; a body may name it here or per NIC.
        subnet_name=details.text("testSubnetName") or _primary_nic_text(details, "testSubnetName"),
        recovery_point_id=details.text("recoveryPointId"),
    )
    body.raise_errors()
    return given


def read_migrate_input(request) -> ActionInput:
    body, details = _action_details(request)
    given = ActionInput(recovery_point_id=details.text("recoveryPointId"))
    shutdown = details.raw("performShutdown")
    # ASR's models carry it as the string "true" or "false"; a JSON boolean means the same.
    if isinstance(shutdown, bool):
        given.perform_shutdown = shutdown
    elif isinstance(shutdown, str) and shutdown.strip().lower() in ("true", "false"):
        given.perform_shutdown = shutdown.strip().lower() == "true"
    elif shutdown is not None:
        details.fail("performShutdown", f'\'{details.target("performShutdown")}\' must be "true" or "false".')
    body.raise_errors()
    return given


def read_cleanup_input(request) -> ActionInput:
    body = BodyReader.of(request)
    comments = body.child("properties").text("comments", max_length=1000)
    body.raise_errors()
    return ActionInput(comments=comments or "")


def read_resync_input(request) -> ActionInput:
    """InMageRcm has no resync options; VMwareCbt's skipCbtReset has no meaning here and is ignored."""
    body, _ = _action_details(request)
    body.raise_errors()
    return ActionInput()


def read_policy_input(request) -> tuple[int | None, int | None, int | None]:
    """(recovery point history, crash-consistent and app-consistent frequencies), in minutes."""
    body = BodyReader.of(request)
    details = body.child("properties", required=True).child("providerSpecificInput", required=True)
    if details.data:
        instance_type(details)
    history = details.integer("recoveryPointHistoryInMinutes", low=0, high=15 * 24 * 60)
    crash = details.integer("crashConsistentFrequencyInMinutes", low=1, high=12 * 60)
    app = details.integer("appConsistentFrequencyInMinutes", low=0, high=12 * 60)
    body.raise_errors()
    return history, crash, app
