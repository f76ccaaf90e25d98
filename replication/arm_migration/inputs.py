"""What the request bodies of Site Recovery migration say: an enable (PUT of a migration item) or an
update (PATCH), in InMageRcm or VMwareCbt vocabulary, and a policy's. Each body is read with the
serializer openapi.py declares for the document (a 400 names every malformed property); what the ids
name is resolved in plans.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.arm.views import validated
from replication.arm_migration import openapi
from replication.arm_migration.shapes import VMWARE_CBT

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


@dataclass
class TargetInput:
    """What an enable or update body says (None: not given). `settings` holds the TARGET_SETTINGS the
    body gives, by property name: an update changes those only."""

    settings: dict[str, str] = field(default_factory=dict)
    policy_id: str | None = None
    machine_id: str | None = None
    process_server_id: str | None = None
    run_as_account_id: str | None = None
    # disksToInclude (openapi.DiskToInclude: diskId, diskType, and isOSDisk in VMwareCbt's, which says
    # the disk that boots); None: every disk, of disks_default_type.
    disks: list[dict] | None = None
    disks_default_type: str | None = None


def nic_setting(details: dict, key: str) -> str | None:
    """What the first NIC that names `key` says, the primary NIC first (one subnet per VM here)."""
    nics = sorted(details.get("vmNics", []), key=lambda nic: not nic.get("isPrimaryNic"))
    return next((nic[key] for nic in nics if nic.get(key)), None)


def _settings(details: dict) -> dict[str, str]:
    settings = {key: details[key] for key in TARGET_SETTINGS if key in details}
    for key in NIC_SETTINGS:
        named = nic_setting(details, key)
        if named:
            settings.setdefault(key, named)
    return settings


def read_enable_input(request) -> TargetInput:
    properties = validated(openapi.EnableMigrationInput, request.data)["properties"]
    details = properties["providerSpecificDetails"]
    cbt = details["instanceType"] == VMWARE_CBT
    return TargetInput(
        _settings(details),
        policy_id=properties["policyId"],
        machine_id=details.get("vmwareMachineId" if cbt else "fabricDiscoveryMachineId"),
        process_server_id=None if cbt else details.get("processServerId"),
        run_as_account_id=details.get("dataMoverRunAsAccountId" if cbt else "runAsAccountId"),
        disks=details.get("disksToInclude"),
        disks_default_type=details.get("disksDefault", {}).get("diskType"),
    )


def read_update_input(request) -> TargetInput:
    properties = validated(openapi.UpdateMigrationItemInput, request.data)["properties"]
    return TargetInput(_settings(properties["providerSpecificDetails"]))


def read_policy_input(request) -> dict:
    """What a policy body changes, by ReplicationPolicy field (the crash-consistent frequency is the
    hub's cycle, in seconds)."""
    details = validated(openapi.PolicyInput, request.data)["properties"]["providerSpecificInput"]
    crash = details.get("crashConsistentFrequencyInMinutes")
    changes = {
        "recovery_point_history_minutes": details.get("recoveryPointHistoryInMinutes"),
        "cycle_seconds": None if crash is None else crash * 60,
        "app_consistent_frequency_minutes": details.get("appConsistentFrequencyInMinutes"),
    }
    return {field: value for field, value in changes.items() if value is not None}
