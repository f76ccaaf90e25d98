"""What the request bodies of Site Recovery migration say: an enable (PUT of a migration item) or an
update (PATCH), in InMageRcm or VMwareCbt vocabulary, and a policy's; a verb reads its own body from
`verb_body`. Reading only: what the ids name is resolved in plans.py. Properties are read in the order a 400
lists their errors."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.arm.bodies import BodyReader
from replication.arm_migration.shapes import PROVIDER, VMWARE_CBT

# The target settings InMageRcm and VMwareCbt name alike, in providerSpecificDetails, in the order
# they are read, each with the field of Replicate's plan it sets (the wizard field a refusal names).
TARGET_SETTINGS = {
    "targetResourceGroupId": "target_resource_group",
    "targetVmName": "vm_name",
    "targetVmSize": "vm_size",
    "targetNetworkId": "target_network",
    "targetSubnetName": "target_subnet",
    "testNetworkId": "test_network",
    "testSubnetName": "test_subnet",
    "licenseType": "hybrid_benefit",
    "targetAvailabilitySetId": "availability_set",
}
# VMwareCbt names these per NIC (vmNics[]) instead.
NIC_SETTINGS = ("targetSubnetName", "testSubnetName")


def instance_type(details: BodyReader) -> str:
    """The vocabulary providerSpecificDetails speaks; an empty or absent one says nothing (InMageRcm)."""
    if not details.data:
        return PROVIDER
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
    is_os_disk: bool  # VMwareCbt says which disk boots; InMageRcm leaves it to the machine


@dataclass
class TargetInput:
    """What an enable or update body says (None: not given). `settings` holds the TARGET_SETTINGS the
    body gives, by property name: an update changes those only."""

    settings: dict[str, str] = field(default_factory=dict)
    policy_id: str | None = None
    machine_id: str | None = None
    process_server_id: str | None = None
    run_as_account_id: str | None = None
    disks: list[DiskInput] | None = None  # None: every disk, of disks_default_type
    disks_default_type: str | None = None


def _nics_primary_first(details: BodyReader) -> list[BodyReader]:
    # One subnet per VM here: the primary NIC's choice wins, else the first NIC that names one.
    nics = details.children("vmNics") or []
    nics.sort(key=lambda nic: str(nic.raw("isPrimaryNic")).lower() != "true")
    return nics


def _read_settings(details: BodyReader, target: TargetInput) -> None:
    for key in TARGET_SETTINGS:
        value = details.text(key)
        if value is not None:
            target.settings[key] = value
    nics = _nics_primary_first(details)
    for key in NIC_SETTINGS:
        named = [name for name in (nic.text(key) for nic in nics) if name]
        if named:
            target.settings.setdefault(key, named[0])


def read_enable_input(request) -> TargetInput:
    body = BodyReader.of(request)
    properties = body.child("properties", required=True)
    target = TargetInput(policy_id=properties.text("policyId", required=True))
    details = properties.child("providerSpecificDetails", required=True)
    if instance_type(details) == PROVIDER:
        target.machine_id = details.text("fabricDiscoveryMachineId")
        target.process_server_id = details.text("processServerId")
        target.run_as_account_id = details.text("runAsAccountId")
    else:
        target.machine_id = details.text("vmwareMachineId")
        target.run_as_account_id = details.text("dataMoverRunAsAccountId")
    _read_settings(details, target)
    disks = details.children("disksToInclude")
    if disks is not None:
        target.disks = []
        for disk in disks:
            disk_id = disk.text("diskId", required=True, max_length=128)
            is_os = (disk.text("isOSDisk") or "").lower() == "true"
            if disk_id is not None:
                target.disks.append(DiskInput(disk_id, disk.text("diskType"), is_os))
    elif details.has("disksDefault"):
        target.disks_default_type = details.child("disksDefault").text("diskType")
    body.raise_errors()
    return target


def read_update_input(request) -> TargetInput:
    body = BodyReader.of(request)
    details = body.child("properties", required=True).child("providerSpecificDetails", required=True)
    target = TargetInput()
    instance_type(details)
    _read_settings(details, target)
    body.raise_errors()
    return target


def verb_body(request) -> tuple[BodyReader, BodyReader]:
    """A verb's body and its properties.providerSpecificDetails. Both may be absent: every verb has a
    default for everything (the item's test network, shutdown, the latest point)."""
    body = BodyReader.of(request)
    details = body.child("properties").child("providerSpecificDetails")
    instance_type(details)
    return body, details


def nic_setting(details: BodyReader, key: str) -> str | None:
    """What the first NIC that names `key` (the primary one first) says, if any."""
    return next((name for name in (nic.text(key) for nic in _nics_primary_first(details)) if name), None)


def read_policy_input(request) -> dict:
    """What a policy body changes, by ReplicationPolicy field (the crash-consistent frequency is the
    hub's cycle, in seconds)."""
    body = BodyReader.of(request)
    details = body.child("properties", required=True).child("providerSpecificInput", required=True)
    instance_type(details)
    history = details.integer("recoveryPointHistoryInMinutes", low=0, high=15 * 24 * 60)
    crash = details.integer("crashConsistentFrequencyInMinutes", low=1, high=12 * 60)
    app = details.integer("appConsistentFrequencyInMinutes", low=0, high=12 * 60)
    body.raise_errors()
    changes = {
        "recovery_point_history_minutes": history,
        "cycle_seconds": None if crash is None else crash * 60,
        "app_consistent_frequency_minutes": app,
    }
    return {field: value for field, value in changes.items() if value is not None}
