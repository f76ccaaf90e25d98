"""Site Recovery migration's bodies in the OpenAPI document: what inputs.py reads (requests) and what
shapes.py, policies.py and jobs.py write (responses). The request bodies are also what the
handlers read them with (hub.arm.bodies.ArmBody), so a 400 names each malformed property as documented."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from hub.arm.bodies import ArmBody, Choice, OneOf, Text, TrueOrFalse
from hub.arm.schema import arm_list_of, free_form, free_form_list, proxy_resource

C = serializers.CharField
optional = {"required": False, "allow_null": True}
INSTANCE_TYPES = ["InMageRcm", "VMwareCbt"]
DISK_TYPES = ["Standard_LRS", "StandardSSD_LRS", "Premium_LRS"]
LICENSE_TYPES = ["NotSpecified", "NoLicenseType", "WindowsServer"]
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

MIGRATION_ITEM = proxy_resource(
    "MigrationItem",
    {
        "machineName": C(),
        "policyId": C(),
        "policyFriendlyName": C(),
        "recoveryServicesProviderId": C(),
        "replicationStatus": C(**optional),
        "migrationState": C(),
        "migrationStateDescription": C(),
        "lastTestMigrationTime": serializers.DateTimeField(**optional),
        "lastTestMigrationStatus": C(**optional),
        "lastMigrationTime": serializers.DateTimeField(**optional),
        "lastMigrationStatus": C(**optional),
        "testMigrateState": C(),
        "testMigrateStateDescription": C(),
        "health": C(),
        "healthErrors": free_form_list(),
        "allowedOperations": serializers.ListField(child=C()),
        "currentJob": free_form(),
        "criticalJobHistory": free_form_list(),
        "eventCorrelationId": C(),
        "providerSpecificDetails": inline_serializer(
            "InMageRcmMigrationDetails",
            {
                "instanceType": C(),
                "internalIdentifier": C(),
                "fabricDiscoveryMachineId": C(),
                "processServerId": C(),
                "processServerName": C(),
                "runAsAccountId": C(**optional),
                "osType": C(),
                "osName": C(),
                "processorCoreCount": serializers.IntegerField(),
                "allocatedMemoryInMB": serializers.FloatField(),
                "licenseType": C(),
                "targetVmName": C(),
                "targetVmSize": C(allow_blank=True),
                "targetResourceGroupId": C(**optional),
                "targetLocation": C(),
                "targetAvailabilitySetId": C(**optional),
                "targetNetworkId": C(**optional),
                "testNetworkId": C(**optional),
                "lastRecoveryPointReceived": serializers.DateTimeField(**optional),
                "lastRecoveryPointId": C(**optional),
                "lastRpoInSeconds": serializers.IntegerField(**optional),
                "initialReplicationProgressPercentage": serializers.IntegerField(),
                "initialReplicationProcessedBytes": serializers.IntegerField(),
                "initialReplicationTransferredBytes": serializers.IntegerField(),
                "initialReplicationProgressHealth": C(),
                "resyncRequired": serializers.ChoiceField(choices=TRUE_OR_FALSE),
                "resyncState": C(),
                "protectedDisks": free_form_list(help_text="diskId, diskType, capacityInBytes, targetManagedDiskId..."),
                "unprotectedDisks": free_form_list(),
                "mobilityAgentDetails": free_form(),
                "vmNics": free_form_list(),
            },
            help_text="Other InMageRcm members are present as ASR writes them (docs/api.md).",
        ),
    },
)
RECOVERY_POINT = proxy_resource(
    "MigrationRecoveryPoint",
    {"recoveryPointTime": serializers.DateTimeField(), "recoveryPointType": C()},
)
POLICY = proxy_resource(
    "Policy",
    {
        "friendlyName": C(),
        "providerSpecificDetails": inline_serializer(
            "InMageRcmPolicyDetails",
            {
                "instanceType": C(),
                "recoveryPointHistoryInMinutes": serializers.IntegerField(),
                "crashConsistentFrequencyInMinutes": serializers.IntegerField(),
                "appConsistentFrequencyInMinutes": serializers.IntegerField(),
                "enableMultiVmSync": C(),
            },
        ),
    },
)
JOB = proxy_resource(
    "Job",
    {
        "activityId": C(),
        "scenarioName": C(),
        "friendlyName": C(),
        "state": C(),
        "stateDescription": C(),
        "tasks": free_form_list(),
        "errors": free_form_list(),
        "startTime": serializers.DateTimeField(**optional),
        "endTime": serializers.DateTimeField(**optional),
        "allowedActions": serializers.ListField(child=C()),
        "targetObjectId": C(**optional),
        "targetObjectName": C(**optional),
        "targetInstanceType": C(**optional),
        "customDetails": free_form(),
    },
)
OPERATION_STATUS = inline_serializer(
    "OperationStatus",
    {
        "id": C(),
        "name": C(),
        "status": serializers.ChoiceField(choices=["InProgress", "Succeeded", "Failed", "Canceled"]),
        "startTime": serializers.DateTimeField(**optional),
        "endTime": serializers.DateTimeField(**optional),
        "percentComplete": serializers.IntegerField(),
        "error": free_form(help_text="{code, message} when the job failed or was canceled."),
    },
)

MIGRATION_ITEM_LIST = arm_list_of(MIGRATION_ITEM)
RECOVERY_POINT_LIST = arm_list_of(RECOVERY_POINT)
POLICY_LIST = arm_list_of(POLICY)
JOB_LIST = arm_list_of(JOB)
