"""The response bodies of the Azure-side ARM API and Graph, for the OpenAPI document only: each names
the members its `*_body` function writes (hub.arm.schema builds the ARM envelope around them)."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from hub.arm.schema import arm_list_of, arm_resource, free_form, free_form_list, proxy_resource

C = serializers.CharField
optional_text = {"required": False, "allow_null": True}

SUBSCRIPTION = inline_serializer(
    "Subscription",
    {
        "id": C(),
        "subscriptionId": serializers.UUIDField(),
        "tenantId": serializers.UUIDField(),
        "displayName": C(),
        "state": C(),
        "authorizationSource": C(),
        "subscriptionPolicies": free_form(),
    },
)
LOCATION = inline_serializer(
    "Location",
    {"id": C(), "name": C(), "type": C(), "displayName": C(), "regionalDisplayName": C(), "metadata": free_form()},
)
RESOURCE_GROUP = arm_resource(
    "ResourceGroup", {"provisioningState": C()}, managedBy=C(**optional_text, help_text="Who manages the group.")
)
GENERIC_RESOURCE = arm_resource("GenericResource")

ROLE_ASSIGNMENT = proxy_resource(
    "RoleAssignment",
    {
        "roleDefinitionId": C(),
        "principalId": serializers.UUIDField(),
        "principalType": C(),
        "scope": C(),
        "condition": C(**optional_text),
        "conditionVersion": C(**optional_text),
        "description": C(**optional_text),
        "createdOn": serializers.DateTimeField(),
        "updatedOn": serializers.DateTimeField(),
        "createdBy": C(**optional_text),
        "updatedBy": C(**optional_text),
    },
)
ROLE_DEFINITION = proxy_resource(
    "RoleDefinition",
    {
        "roleName": C(),
        "description": C(),
        "type": C(),
        "permissions": inline_serializer(
            "RoleDefinitionPermission",
            {
                "actions": serializers.ListField(child=C()),
                "notActions": serializers.ListField(child=C()),
                "dataActions": serializers.ListField(child=C()),
                "notDataActions": serializers.ListField(child=C()),
            },
            many=True,
        ),
        "assignableScopes": serializers.ListField(child=C()),
    },
)

MIGRATE_PROJECT = arm_resource(
    "MigrateProject",
    {
        "registeredTools": serializers.ListField(child=C()),
        "summary": free_form(help_text="Counts per solution type (servers)."),
        "lastSummaryRefreshedTime": serializers.DateTimeField(),
        "refreshSummaryState": C(),
        "provisioningState": C(),
    },
    eTag=C(),
)
SOLUTION = proxy_resource(
    "Solution",
    {
        "tool": C(),
        "purpose": C(),
        "goal": C(),
        "status": C(),
        "cleanupState": C(),
        "summary": free_form(),
        "details": free_form(help_text="extendedDetails.vaultId names the project's vault once resources exist."),
    },
    etag=C(),
)
REGISTER_TOOL_RESULT = inline_serializer("RegisterToolResponse", {"isRegistered": serializers.BooleanField()})
REFRESH_SUMMARY_RESULT = inline_serializer("RefreshSummaryResult", {"isRefreshed": serializers.BooleanField()})

SUBNET = proxy_resource("Subnet", {"addressPrefix": C(), "provisioningState": C()}, etag=C(help_text='W/"..."'))
VIRTUAL_NETWORK = arm_resource(
    "VirtualNetwork",
    {
        "provisioningState": C(),
        "resourceGuid": C(),
        "addressSpace": inline_serializer("AddressSpace", {"addressPrefixes": serializers.ListField(child=C())}),
        "subnets": type(SUBNET)(many=True),
        "virtualNetworkPeerings": free_form_list(),
        "enableDdosProtection": serializers.BooleanField(),
    },
    etag=C(),
)

# Discover's "Create resources" makes these three; one view reads each kind.
MIGRATION_RESOURCE_PROPERTIES = {
    "provisioningState": C(),
    "privateEndpointStateForSiteRecovery": C(required=False, help_text="Recovery Services vaults."),
    "tenantId": serializers.UUIDField(required=False, help_text="Key vaults."),
    "vaultUri": C(required=False, help_text="Key vaults."),
    "enableRbacAuthorization": serializers.BooleanField(required=False, help_text="Key vaults."),
    "accessTier": C(required=False, help_text="Storage accounts."),
    "supportsHttpsTrafficOnly": serializers.BooleanField(required=False, help_text="Storage accounts."),
    "primaryEndpoints": free_form(help_text="Storage accounts on the Blob backend: {blob}, the account's blob URL."),
    "sku": free_form(help_text="Key vaults: {family, name}."),
}
MIGRATION_RESOURCE = arm_resource(
    "MigrationResource",
    MIGRATION_RESOURCE_PROPERTIES,
    sku=free_form(),
    etag=C(required=False),
    kind=C(required=False),
)

GRAPH_USER = inline_serializer(
    "GraphUser",
    {"id": serializers.UUIDField(), "userPrincipalName": C(), "mail": C(), "displayName": C()},
)

SUBSCRIPTION_LIST = inline_serializer("SubscriptionList", {"value": type(SUBSCRIPTION)(many=True)})
LOCATION_LIST = inline_serializer("LocationList", {"value": type(LOCATION)(many=True)})
RESOURCE_GROUP_LIST = arm_list_of(RESOURCE_GROUP)
GENERIC_RESOURCE_LIST = arm_list_of(GENERIC_RESOURCE)
ROLE_ASSIGNMENT_LIST = arm_list_of(ROLE_ASSIGNMENT)
ROLE_DEFINITION_LIST = arm_list_of(ROLE_DEFINITION)
MIGRATE_PROJECT_LIST = arm_list_of(MIGRATE_PROJECT)
SOLUTION_LIST = arm_list_of(SOLUTION)
SUBNET_LIST = arm_list_of(SUBNET)
VIRTUAL_NETWORK_LIST = arm_list_of(VIRTUAL_NETWORK)
MIGRATION_RESOURCE_LIST = arm_list_of(MIGRATION_RESOURCE)

# The cache storage account's blob containers and keys (projects/arm/storage_accounts.py).
BLOB_CONTAINER = arm_resource(
    "BlobContainer",
    {
        "publicAccess": C(),
        "leaseStatus": C(),
        "leaseState": C(),
        "hasImmutabilityPolicy": serializers.BooleanField(),
        "hasLegalHold": serializers.BooleanField(),
        "deleted": serializers.BooleanField(),
    },
    tracked=False,
    etag=C(),
)
BLOB_CONTAINER_LIST = arm_list_of(BLOB_CONTAINER)
STORAGE_ACCOUNT_KEYS = inline_serializer(
    "StorageAccountListKeysResult",
    {
        "keys": inline_serializer(
            "StorageAccountKey",
            {"keyName": C(), "value": C(), "permissions": C(), "creationTime": serializers.DateTimeField()},
            many=True,
        )
    },
)
STORAGE_SERVICE_SAS = inline_serializer("ListServiceSasResponse", {"serviceSasToken": C()})
