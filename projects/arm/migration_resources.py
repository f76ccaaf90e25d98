"""ARM reads of what Discover's "Create resources" makes: the Recovery Services vault
(azure-mgmt-recoveryservices shape), the Key Vault and the cache storage account. They are created by
the portal's job, so the API offers GET and list only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub.arm.routes import tracked_resource
from hub.arm.views import arm_list
from projects import access
from projects.arm import responses
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
    return body


class ResourceListView(ScopeView):
    kind: str = ""  # set per route (urlpatterns)

    @extend_schema(operation_id="MigrationResources_List", responses={200: responses.MIGRATION_RESOURCE_LIST})
    def get(self, request, **parents):
        resources = self.in_scope(access.visible_migration_resources(request.user).filter(kind=self.kind))
        return arm_list([resource_body(resource) for resource in resources])


class ResourceView(ScopeView):
    kind: str = ""

    @extend_schema(operation_id="MigrationResources_Get", responses={200: responses.MIGRATION_RESOURCE})
    def get(self, request, name, **parents):
        return Response(resource_body(access.get_migration_resource(request.user, self.group, self.kind, name)))


urlpatterns = []
for kind, collection, operation_group in (
    (Kind.RECOVERY_SERVICES_VAULT, "providers/microsoft.recoveryservices/vaults", "RecoveryServicesVaults"),
    (Kind.KEY_VAULT, "providers/microsoft.keyvault/vaults", "KeyVaults"),
    (Kind.STORAGE_ACCOUNT, "providers/microsoft.storage/storageaccounts", "StorageAccounts"),
):
    urlpatterns += tracked_resource(
        collection, ResourceListView, ResourceView, "name", kind=kind, operation_group=operation_group
    )
