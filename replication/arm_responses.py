"""The response bodies of Site Recovery's fabric side (arm.py) and of the migrated VMs and their NICs
(arm_compute.py), for the OpenAPI document only: each names the members its `*_body` function writes."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from hub.arm.schema import arm_list_of, arm_resource, free_form, free_form_list, proxy_resource

C = serializers.CharField
I = serializers.IntegerField  # noqa: E741 (a field type, read beside C)
optional = {"required": False, "allow_null": True}

FABRIC = arm_resource(
    "ReplicationFabric",
    {
        "friendlyName": C(),
        "internalIdentifier": C(),
        "bcdrState": C(),
        "health": C(help_text="Normal, Warning or Critical: the worst of its appliances'."),
        "healthErrorDetails": free_form_list(),
        "customDetails": free_form(help_text="InMageRcm: processServers lists the appliances with their health."),
    },
)
PROTECTION_CONTAINER = arm_resource(
    "ReplicationProtectionContainer",
    {
        "friendlyName": C(),
        "fabricFriendlyName": C(),
        "fabricType": C(),
        "protectedItemCount": I(),
        "pairingStatus": C(),
        "role": C(),
        "fabricSpecificDetails": free_form(),
    },
)
RECOVERY_SERVICES_PROVIDER = proxy_resource(
    "RecoveryServicesProvider",
    {
        "fabricType": C(),
        "friendlyName": C(),
        "fabricFriendlyName": C(),
        "providerVersion": C(),
        "serverVersion": C(),
        "providerVersionState": C(),
        "lastHeartBeat": serializers.DateTimeField(**optional),
        "connectionStatus": C(help_text="Connected or NotConnected."),
        "protectedItemCount": I(),
        "allowedScenarios": serializers.ListField(child=C()),
        "healthErrorDetails": free_form_list(),
        "draIdentifier": C(),
        "machineId": C(),
        "machineName": C(),
    },
)
PROTECTABLE_ITEM = proxy_resource(
    "ProtectableItem",
    {
        "friendlyName": C(),
        "protectionStatus": C(),
        "replicationProtectedItemId": C(**optional),
        "recoveryServicesProviderId": C(),
        "protectionReadinessErrors": serializers.ListField(child=C()),
        "supportedReplicationProviders": serializers.ListField(child=C()),
        "customDetails": free_form(help_text="The discovered machine: OS, cores, memory, disks, addresses."),
    },
)
VM_SIZE = inline_serializer(
    "VirtualMachineSize",
    {
        "name": C(),
        "numberOfCores": I(),
        "memoryInMB": I(),
        "maxDataDiskCount": I(),
        "osDiskSizeInMB": I(),
        "resourceDiskSizeInMB": I(),
    },
)

INSTANCE_VIEW = inline_serializer(
    "VirtualMachineInstanceView",
    {
        "computerName": C(),
        "osName": C(**optional),
        "disks": free_form_list(),
        "statuses": free_form_list(help_text="ProvisioningState/succeeded and PowerState/..."),
    },
)
VIRTUAL_MACHINE = arm_resource(
    "VirtualMachine",
    {
        "vmId": C(),
        "hardwareProfile": inline_serializer("HardwareProfile", {"vmSize": C()}),
        "storageProfile": free_form(help_text="osDisk and dataDisks[], each with managedDisk.id."),
        "osProfile": free_form(),
        "networkProfile": free_form(help_text="networkInterfaces[{id, properties.primary}]."),
        "licenseType": C(**optional, help_text="Windows_Server with Azure Hybrid Benefit."),
        "availabilitySet": free_form(),
        "provisioningState": C(),
        "timeCreated": serializers.DateTimeField(),
        "instanceView": type(INSTANCE_VIEW)(required=False),
    },
)
NETWORK_INTERFACE = arm_resource(
    "NetworkInterface",
    {
        "provisioningState": C(),
        "resourceGuid": C(),
        "ipConfigurations": free_form_list(help_text="One: privateIPAddress, subnet.id, primary."),
        "virtualMachine": free_form(),
        "macAddress": C(),
        "primary": serializers.BooleanField(),
        "enableAcceleratedNetworking": serializers.BooleanField(),
        "enableIPForwarding": serializers.BooleanField(),
        "nicType": C(),
    },
)

FABRIC_LIST = arm_list_of(FABRIC)
PROTECTION_CONTAINER_LIST = arm_list_of(PROTECTION_CONTAINER)
RECOVERY_SERVICES_PROVIDER_LIST = arm_list_of(RECOVERY_SERVICES_PROVIDER)
PROTECTABLE_ITEM_LIST = arm_list_of(PROTECTABLE_ITEM)
VM_SIZE_LIST = arm_list_of(VM_SIZE)
VIRTUAL_MACHINE_LIST = arm_list_of(VIRTUAL_MACHINE)
NETWORK_INTERFACE_LIST = arm_list_of(NETWORK_INTERFACE)

DISK = arm_resource(
    "Disk",
    {
        "osType": C(required=False, allow_null=True),
        "hyperVGeneration": C(),
        "creationData": free_form(),
        "diskSizeGB": I(),
        "diskSizeBytes": I(),
        "uniqueId": C(),
        "provisioningState": C(),
        "diskState": C(),
        "timeCreated": serializers.DateTimeField(),
        "encryption": free_form(),
        "networkAccessPolicy": C(),
        "publicNetworkAccess": C(),
    },
    managedBy=C(required=False, allow_null=True),
    sku=free_form(),
)
DISK_LIST = arm_list_of(DISK)

VAULT_CERTIFICATE_INPUT = inline_serializer(
    "CertificateRequest", {"properties": free_form(help_text="Ignored: the hub signs its own key.")}
)
VAULT_CERTIFICATE = proxy_resource(
    "VaultCertificateResponse",
    {
        "authType": C(),
        "certificate": C(help_text="The registration key file, base64."),
        "friendlyName": C(help_text="The key file's name."),
        "issuer": C(),
        "resourceId": I(),
        "subject": C(),
        "thumbprint": C(),
        "validFrom": serializers.DateTimeField(),
        "validTo": serializers.DateTimeField(),
        "aadAuthority": C(),
        "aadTenantId": C(),
        "servicePrincipalClientId": C(),
        "servicePrincipalObjectId": C(),
        "azureManagementEndpointAudience": C(),
        "serviceResourceId": C(),
    },
)
SOLUTION_CONFIG = inline_serializer(
    "SolutionConfig", {"publisherSasUri": C(help_text="The appliance installer's signed, expiring link.")}
)
