"""Site Recovery migration's bodies, declared once for the OpenAPI document and the handlers. The
request bodies are what inputs.py and the verbs read them with (hub.arm.bodies.ArmBody), so a 400
names each malformed property as documented. A response field that names a `source` is also how
shapes.py, policies.py and jobs.py write that member (hub.arm.schema.members), and ASR's fixed
members are data here that the writers spread and the document names."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from hub.arm.bodies import ArmBody, Choice, OneOf, Text, TrueOrFalse
from hub.arm.schema import Time, arm_list_of, free_form, free_form_list, proxy_resource
from replication.models import DiskType, LicenseType

C = serializers.CharField
I = serializers.IntegerField  # noqa: E741 (a field type, read beside C)
optional = {"required": False, "allow_null": True}
INSTANCE_TYPES = ["InMageRcm", "VMwareCbt"]
DISK_TYPES = DiskType.values
LICENSE_TYPES = ["NotSpecified", *LicenseType.values]
TRUE_OR_FALSE = ["true", "false"]


# Requests: declared once, for the document and for reading (hub.arm.bodies.ArmBody; the handlers
# read each with hub.arm.views.validated). Disk and licence types are checked by Replicate's rules.


class DiskToInclude(ArmBody):
    diskId = Text(max_length=128)
    diskType = OneOf(DISK_TYPES, required=False)
    isOSDisk = TrueOrFalse(required=False, help_text="VMwareCbt.")


class DisksDefault(ArmBody):
    diskType = OneOf(DISK_TYPES, required=False)


class VmNicInput(ArmBody):
    nicId = Text(required=False)
    isPrimaryNic = TrueOrFalse(required=False)
    targetSubnetName = Text(required=False)
    testSubnetName = Text(required=False)


class ProviderDetails(ArmBody):
    """providerSpecificDetails: its instanceType names the vocabulary; an empty one says nothing (InMageRcm)."""

    instanceType = Choice(
        choices=INSTANCE_TYPES,
        error_messages={"invalid_choice": "instanceType '{input}' is not served here: use InMageRcm (or VMwareCbt)."},
    )

    def to_internal_value(self, data):
        return {"instanceType": INSTANCE_TYPES[0]} if data == {} else super().to_internal_value(data)


class TargetSettings(ProviderDetails):
    """The target settings an enable and an update both name."""

    targetResourceGroupId = Text(required=False)
    targetVmName = Text(required=False)
    targetVmSize = Text(required=False, help_text="Empty or absent: the cheapest size that fits.")
    targetNetworkId = Text(required=False)
    targetSubnetName = Text(required=False)
    testNetworkId = Text(required=False)
    testSubnetName = Text(required=False)
    licenseType = OneOf(LICENSE_TYPES, required=False)
    targetAvailabilitySetId = Text(required=False)
    vmNics = VmNicInput(many=True, required=False)


class EnableMigrationProviderInput(TargetSettings):
    fabricDiscoveryMachineId = Text(required=False, help_text="InMageRcm: must name the URL's server.")
    processServerId = Text(required=False)
    runAsAccountId = Text(required=False)
    vmwareMachineId = Text(required=False, help_text="VMwareCbt's fabricDiscoveryMachineId.")
    dataMoverRunAsAccountId = Text(required=False, help_text="VMwareCbt's runAsAccountId.")
    disksToInclude = DiskToInclude(many=True, required=False, help_text="Unlisted disks are excluded.")
    disksDefault = DisksDefault(required=False)


class TestMigrateProviderInput(ProviderDetails):
    networkId = Text(required=False, help_text="Default: the item's testNetworkId.")
    testSubnetName = Text(required=False)
    vmNics = VmNicInput(many=True, required=False)
    recoveryPointId = Text(
        required=False, help_text="A migrationRecoveryPoints id (or its name); default: the latest processed point."
    )


class MigrateProviderInput(ProviderDetails):
    performShutdown = TrueOrFalse(required=False, help_text="Default true.")
    recoveryPointId = Text(
        required=False, help_text="A migrationRecoveryPoints id; default: the final point (shutdown) or the latest."
    )


class ResyncProviderInput(ProviderDetails):
    skipCbtReset = Text(required=False, help_text="Accepted and ignored.")


class PolicyProviderInput(ProviderDetails):
    recoveryPointHistoryInMinutes = serializers.IntegerField(min_value=0, max_value=15 * 24 * 60, required=False)
    crashConsistentFrequencyInMinutes = serializers.IntegerField(min_value=1, max_value=12 * 60, required=False)
    appConsistentFrequencyInMinutes = serializers.IntegerField(min_value=0, max_value=12 * 60, required=False)


def _request(name: str, properties: dict, *, required: bool = True) -> type[ArmBody]:
    """A request body: `properties` and nothing else, as components `{name}` and `{name}Properties`
    (the verbs' bodies may be left out whole: required=False)."""
    inner = type(f"{name}Properties", (ArmBody,), properties)(required=required)
    return type(name, (ArmBody,), {"properties": inner})


EnableMigrationInput = _request(
    "EnableMigrationInput", {"policyId": Text(), "providerSpecificDetails": EnableMigrationProviderInput()}
)
UpdateMigrationItemInput = _request("UpdateMigrationItemInput", {"providerSpecificDetails": TargetSettings()})
TestMigrateInput = _request(
    "TestMigrateInput", {"providerSpecificDetails": TestMigrateProviderInput(required=False)}, required=False
)
TestMigrateCleanupInput = _request(
    "TestMigrateCleanupInput", {"comments": Text(required=False, max_length=1000)}, required=False
)
MigrateInput = _request(
    "MigrateInput", {"providerSpecificDetails": MigrateProviderInput(required=False)}, required=False
)
ResyncInput = _request("ResyncInput", {"providerSpecificDetails": ResyncProviderInput(required=False)}, required=False)
PolicyInput = _request("PolicyInput", {"providerSpecificInput": PolicyProviderInput()})


# Responses

# Members ASR writes that the hub has no value of its own for, as ASR writes them then. The bodies
# carry them (shapes.py, jobs.py) and the document names them: one declaration for both.
ITEM_DETAILS_FIXED = {
    "instanceType": INSTANCE_TYPES[0],
    "discoveryType": "PhysicalMachine",
    "targetAvailabilityZone": None,
    "targetProximityPlacementGroupId": None,
    "targetBootDiagnosticsStorageAccountId": None,
    "failoverRecoveryPointId": None,
    "resyncProgressPercentage": None,
    "agentUpgradeState": "None",
    "targetVmTags": [],
    "supportedOSVersions": [],
}
PROTECTED_DISK_FIXED = {
    "seedManagedDiskId": None,
    "dataPendingInLogDataStoreInMB": 0.0,
    "dataPendingAtSourceAgentInMB": 0.0,
    "customTargetDiskName": None,
    "sectorSizeInBytes": 512,
}
# The Mobility service is never upgraded from here.
MOBILITY_AGENT_FIXED = {"isUpgradeable": "false", "reasonsBlockingUpgrade": []}
# Every NIC fails over, with the addresses Azure assigns (no static IP, no NIC name of the client's).
VM_NIC_FIXED = {
    "isSelectedForFailover": "true",
    "sourceIPAddressType": "Dynamic",
    "sourceNetworkId": None,
    "sourceSubnetName": None,
    "targetIPAddress": None,
    "targetIPAddressType": "Dynamic",
    "testIPAddress": None,
    "testIPAddressType": "Dynamic",
    "targetNicName": None,
}
# Cancel, restart and resume are not served, so no job or task offers an action.
TASK_FIXED = {
    "allowedActions": [],
    "taskType": "TaskDetails",
    "customDetails": {"instanceType": "TaskDetails"},
    "groupTaskCustomDetails": None,
}
JOB_FIXED = {"allowedActions": [], "customDetails": {"instanceType": "AsrJobDetails", "affectedObjectDetails": {}}}


PROTECTED_DISK = inline_serializer(
    "InMageRcmProtectedDisk",
    {
        "diskId": C(source="disk.disk_id"),
        "diskName": C(),
        "diskType": C(source="disk.disk_type"),
        "capacityInBytes": I(source="disk.size_bytes"),
        "targetManagedDiskId": C(**optional),
    },
    help_text=f"Also: {', '.join(PROTECTED_DISK_FIXED)}, diskState, isOSDisk, logStorageAccountId...",
)
MOBILITY_AGENT = inline_serializer(
    "InMageRcmMobilityAgentDetails",
    {
        "version": C(source="server.agent_version", **optional),
        "latestVersion": C(source="server.agent_version", **optional),
        "driverVersion": C(source="server.agent_version", **optional),
        "lastHeartbeatUtc": Time(source="server.agent_last_heartbeat_at", **optional),
        "osFamilyName": C(source="server.os_type"),
    },
)
VM_NIC = inline_serializer(
    "InMageRcmNicDetails",
    {
        "nicId": C(),
        "isPrimaryNic": C(),
        "targetSubnetName": C(source="item.target_subnet_name", **optional),
        "testSubnetName": C(source="item.test_subnet_name", **optional),
    },
)
# A field with a `source` is also how the body writes it, read from the item or its status
# (replication.status.ItemStatus): hub.arm.schema.members.
MIGRATION_ITEM_DETAILS = inline_serializer(
    "InMageRcmMigrationDetails",
    {
        "instanceType": C(),
        "internalIdentifier": C(source="item.pk"),
        "fabricDiscoveryMachineId": C(),
        "processServerId": C(source="item.appliance_id"),
        "processServerName": C(source="item.appliance.name"),
        "runAsAccountId": C(source="item.run_as_account_id", **optional),
        "osType": C(source="item.server.os_type"),
        "osName": C(),
        "firmwareType": C(source="item.server.firmware"),
        "processorCoreCount": I(source="item.server.cores"),
        "allocatedMemoryInMB": serializers.FloatField(source="item.server.memory_mb"),
        "licenseType": C(source="item.license_type"),
        "targetVmName": C(source="item.target_vm_name"),
        "targetVmSize": C(source="item.target_vm_size", allow_blank=True),
        "targetResourceGroupId": C(source="item.target_resource_group.arm_id", **optional),
        "targetLocation": C(source="item.project.target_region"),
        "targetAvailabilitySetId": C(source="item.target_availability_set_id", **optional),
        "targetNetworkId": C(source="item.target_network.arm_id", **optional),
        "testNetworkId": C(source="item.test_network.arm_id", **optional),
        "lastRecoveryPointReceived": Time(source="item.last_recovery_point_at", **optional),
        "lastRecoveryPointId": C(**optional),
        "lastRpoInSeconds": I(source="status.rpo_seconds", **optional),
        "initialReplicationProgressPercentage": I(source="status.initial_progress_percent"),
        "initialReplicationProcessedBytes": I(source="status.disk_bytes_processed"),
        "initialReplicationTransferredBytes": I(source="status.transferred_bytes"),
        "initialReplicationProgressHealth": C(),
        "resyncRequired": serializers.ChoiceField(choices=TRUE_OR_FALSE),
        "resyncState": C(),
        "protectedDisks": type(PROTECTED_DISK)(many=True),
        "unprotectedDisks": free_form_list(),
        "mobilityAgentDetails": type(MOBILITY_AGENT)(),
        "vmNics": type(VM_NIC)(many=True),
    },
    help_text=f"Also, as ASR writes them: {', '.join(sorted(ITEM_DETAILS_FIXED.keys() - {'instanceType'}))}.",
)
MIGRATION_ITEM_PROPERTIES = inline_serializer(
    "MigrationItemProperties",
    {
        "machineName": C(source="item.server.name"),
        "policyId": C(),
        "policyFriendlyName": C(source="item.policy.name"),
        "recoveryServicesProviderId": C(),
        "replicationStatus": C(source="status.replication_status", allow_blank=True, **optional),
        "migrationState": C(source="item.migration_state"),
        "migrationStateDescription": C(source="status.migration_state_description"),
        "lastTestMigrationTime": Time(source="item.last_test_migration_at", **optional),
        "lastTestMigrationStatus": C(source="item.last_test_migration_status", **optional),
        "lastMigrationTime": Time(source="item.last_migration_at", **optional),
        "lastMigrationStatus": C(source="item.last_migration_status", **optional),
        "testMigrateState": C(source="item.test_migrate_state"),
        "testMigrateStateDescription": C(source="status.test_migrate_state_description"),
        "health": C(source="status.health"),
        "healthErrors": free_form_list(source="status.health_errors"),
        "allowedOperations": serializers.ListField(child=C(), source="status.allowed_operations"),
        "currentJob": free_form(),
        "criticalJobHistory": free_form_list(),
        "eventCorrelationId": C(source="item.pk"),
        "providerSpecificDetails": MIGRATION_ITEM_DETAILS,
    },
)
MIGRATION_ITEM = proxy_resource("MigrationItem", MIGRATION_ITEM_PROPERTIES)
RECOVERY_POINT_PROPERTIES = inline_serializer(
    "MigrationRecoveryPointProperties",
    {"recoveryPointTime": Time(source="point.captured_at"), "recoveryPointType": C(source="point.point_type")},
)
RECOVERY_POINT = proxy_resource("MigrationRecoveryPoint", RECOVERY_POINT_PROPERTIES)
POLICY_DETAILS = inline_serializer(
    "InMageRcmPolicyDetails",
    {
        "instanceType": C(),
        "recoveryPointHistoryInMinutes": I(source="policy.recovery_point_history_minutes"),
        "crashConsistentFrequencyInMinutes": I(),
        "appConsistentFrequencyInMinutes": I(source="policy.app_consistent_frequency_minutes"),
        "enableMultiVmSync": C(),
    },
)
POLICY_PROPERTIES = inline_serializer(
    "PolicyProperties", {"friendlyName": C(source="policy.name"), "providerSpecificDetails": POLICY_DETAILS}
)
POLICY = proxy_resource("Policy", POLICY_PROPERTIES)
# Read from the job and its tasks where a field names its `source` (hub.arm.schema.members).
JOB_TASK = inline_serializer(
    "JobTask",
    {
        "taskId": C(source="task.name"),
        "name": C(source="task.name"),
        "friendlyName": C(source="task.friendly_name"),
        "startTime": C(help_text="0001-01-01T00:00:00 until it starts."),
        "endTime": C(help_text="0001-01-01T00:00:00 until it ends."),
        "state": C(source="task.state"),
        "stateDescription": C(),
        "errors": free_form_list(),
    },
)
JOB_PROPERTIES = inline_serializer(
    "JobProperties",
    {
        "activityId": C(source="job.pk"),
        "scenarioName": C(source="job.scenario_name"),
        "friendlyName": C(source="job.friendly_name"),
        "state": C(source="job.state"),
        "stateDescription": C(),
        "tasks": type(JOB_TASK)(many=True),
        "errors": free_form_list(),
        "startTime": Time(**optional),
        "endTime": Time(source="job.ended_at", **optional),
        "allowedActions": serializers.ListField(child=C()),
        "targetObjectId": C(source="job.target_object_id", **optional),
        "targetObjectName": C(source="job.target_object_name", **optional),
        "targetInstanceType": C(source="job.target_instance_type", **optional),
        "customDetails": free_form(),
    },
)
JOB = proxy_resource("Job", JOB_PROPERTIES)
OPERATION_STATUS = inline_serializer(
    "OperationStatus",
    {
        "id": C(),
        "name": C(source="job.pk"),
        "status": serializers.ChoiceField(choices=["InProgress", "Succeeded", "Failed", "Canceled"]),
        "startTime": Time(**optional),
        "endTime": Time(source="job.ended_at", **optional),
        "percentComplete": I(),
        "error": free_form(help_text="{code, message} when the job failed or was canceled."),
    },
)

MIGRATION_ITEM_LIST = arm_list_of(MIGRATION_ITEM)
RECOVERY_POINT_LIST = arm_list_of(RECOVERY_POINT)
POLICY_LIST = arm_list_of(POLICY)
JOB_LIST = arm_list_of(JOB)
