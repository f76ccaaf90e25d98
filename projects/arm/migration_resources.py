"""ARM reads of what Discover's "Create resources" makes: the Recovery Services vault
(azure-mgmt-recoveryservices shape), the Key Vault and the cache storage account. They are created by
the portal's job, so the API offers GET and list only."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub.arm.views import ArmView, arm_list
from projects import access
from projects.arm.resource_manager import RG, SUB
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


class ResourceListView(ArmView):
    kind: str = ""

    @extend_schema(operation_id="MigrationResources_List", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name=None):
        subscription = access.get_subscription(request.user, subscription_id)
        resources = access.visible_migration_resources(request.user).filter(
            kind=self.kind, resource_group__subscription=subscription
        )
        if resource_group_name is not None:
            resources = resources.filter(
                resource_group=access.get_resource_group(request.user, subscription, resource_group_name)
            )
        return arm_list([resource_body(resource) for resource in resources])


class ResourceView(ArmView):
    kind: str = ""

    @extend_schema(operation_id="MigrationResources_Get", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, name):
        group = access.get_group(request.user, subscription_id, resource_group_name)
        resource = access.get_migration_resource(request.user, group, self.kind, name)
        return Response(resource_body(resource))


urlpatterns = []
for kind, segment in (
    (Kind.RECOVERY_SERVICES_VAULT, "providers/microsoft.recoveryservices/vaults"),
    (Kind.KEY_VAULT, "providers/microsoft.keyvault/vaults"),
    (Kind.STORAGE_ACCOUNT, "providers/microsoft.storage/storageaccounts"),
):
    list_view = type(f"{kind.name.title()}ListView", (ResourceListView,), {"kind": kind})
    item_view = type(f"{kind.name.title()}View", (ResourceView,), {"kind": kind})
    urlpatterns += [
        path(f"{SUB}/{segment}", list_view.as_view()),
        path(f"{RG}/{segment}", list_view.as_view()),
        path(f"{RG}/{segment}/<str:name>", item_view.as_view()),
    ]
