"""What Discover's "Create resources" makes: the Recovery Services vault (azure-mgmt-recoveryservices
shape), the Key Vault and the cache storage account. The portal's job creates them for a project; through
ARM each is PUT as Azure's portal sends it, then the Server Migration solution's update makes them the
project's (projects.services.migration_resources)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from hub.arm.routes import tracked_resource
from hub.arm.schema import create_or_update
from hub.arm.views import arm_list, validated
from projects import access, services
from projects.arm import responses, storage_accounts
from projects.arm.resource_manager import TagsField
from projects.arm.scopes import ScopeView
from projects.models import MigrationResource

Kind = MigrationResource.Kind


def resource_body(resource: MigrationResource) -> dict:
    body = {
        "id": resource.arm_id,
        "name": resource.name,
        "type": resource.kind,
        "location": resource.location,
        "tags": resource.tags,
        "properties": {"provisioningState": "Succeeded"},
    }
    if resource.kind == Kind.RECOVERY_SERVICES_VAULT:
        body["etag"] = f'W/"{resource.pk}"'
        body["sku"] = {"name": "Standard"}
        body["properties"]["privateEndpointStateForSiteRecovery"] = "None"
    elif resource.kind == Kind.KEY_VAULT:
        body["properties"].update(
            {
                "tenantId": str(resource.resource_group.subscription.tenant_id),
                "sku": {"family": "A", "name": "standard"},
                "vaultUri": f"https://{resource.name}.vault.azure.net/",
                "enableRbacAuthorization": True,
            }
        )
    else:
        body["kind"] = "StorageV2"
        body["sku"] = {"name": "Standard_LRS", "tier": "Standard"}
        body["properties"].update({"accessTier": "Hot", "supportsHttpsTrafficOnly": True})
        endpoint = storage_accounts.blob_endpoint()
        if endpoint:
            body["properties"]["primaryEndpoints"] = {"blob": endpoint}
    return body


class ResourceInput(serializers.Serializer):
    """What the hub reads of the three PUT bodies; the rest (sku, properties) is Azure's default anyway
    and is answered as resource_body shows it."""

    location = serializers.CharField(max_length=60)
    tags = TagsField(required=False, allow_null=True)


class ResourceListView(ScopeView):
    kind: str = ""  # set per route (urlpatterns)

    @extend_schema(operation_id="MigrationResources_List", responses={200: responses.MIGRATION_RESOURCE_LIST})
    def get(self, request, **parents):
        resources = self.in_scope(access.visible_migration_resources(request.user).filter(kind=self.kind))
        return arm_list([resource_body(resource) for resource in resources])


class ResourceView(ScopeView):
    kind: str = ""
    # Create resources' right, checked before the body as ARM checks RBAC (the service checks it too).
    permissions = {"put": access.CREATE_KEY_VAULT}

    @extend_schema(operation_id="MigrationResources_Get", responses={200: responses.MIGRATION_RESOURCE})
    def get(self, request, name, **parents):
        return Response(resource_body(access.get_migration_resource(request.user, self.group, self.kind, name)))

    @create_or_update("MigrationResources_CreateOrUpdate", ResourceInput, responses.MIGRATION_RESOURCE)
    def put(self, request, name, **parents):
        body = validated(ResourceInput, request.data)
        resource, created = services.migration_resource_put(
            user=request.user,
            resource_group=self.group,
            kind=self.kind,
            name=name,
            location=body["location"],
            tags=body.get("tags"),
        )
        # Storage's create answers 200 when it finished at once (azure-mgmt-storage takes 200 or 202 only).
        status = 201 if created and self.kind != Kind.STORAGE_ACCOUNT else 200
        return Response(resource_body(resource), status=status)


urlpatterns = []
for kind, collection, operation_group in (
    (Kind.RECOVERY_SERVICES_VAULT, "providers/microsoft.recoveryservices/vaults", "RecoveryServicesVaults"),
    (Kind.KEY_VAULT, "providers/microsoft.keyvault/vaults", "KeyVaults"),
    (Kind.STORAGE_ACCOUNT, "providers/microsoft.storage/storageaccounts", "StorageAccounts"),
):
    urlpatterns += tracked_resource(
        collection, ResourceListView, ResourceView, "name", kind=kind, operation_group=operation_group
    )
