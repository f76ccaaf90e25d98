"""ARM handlers: resource groups (Microsoft.Resources) and Azure Migrate projects (Microsoft.Migrate)."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from hub.arm.errors import ArmError
from hub.arm.odata import filter_clauses
from hub.arm.routes import RG, SUB, at_both_scopes
from hub.arm.schema import create_or_update
from hub.arm.views import ArmView, accepted, arm_list, existence, put_answer, validated
from jobs.models import State
from jobs.selectors import get_visible_job
from projects import access, services
from projects.arm import responses
from projects.arm.scopes import ScopeView
from projects.models import ResourceGroup, Subscription, Tenant
from projects.regions import REGIONS

# Shapes


def resource_group_body(group: ResourceGroup) -> dict:
    return {
        "id": group.arm_id,
        "name": group.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": group.location,
        "tags": group.tags,
        "managedBy": group.managed_by,
        "properties": {"provisioningState": group.provisioning_state},
    }


def subscription_body(subscription: Subscription) -> dict:
    return {
        "id": subscription.arm_id,
        "subscriptionId": str(subscription.pk),
        "tenantId": str(subscription.tenant_id),
        "displayName": subscription.display_name,
        "state": subscription.state,
        "authorizationSource": "RoleBased",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    }


def tenant_body(tenant: Tenant) -> dict:
    return {
        "id": f"/tenants/{tenant.pk}",
        "tenantId": str(tenant.pk),
        "tenantCategory": "Home",
        "displayName": tenant.display_name,
        "defaultDomain": tenant.domain,
        "domains": [tenant.domain],
        "tenantType": "AAD",
    }


# The typed body of GET /tenants for the OpenAPI document.
TENANT_LIST = inline_serializer(
    "TenantList",
    {
        "value": inline_serializer(
            "Tenant",
            {
                "id": serializers.CharField(),
                "tenantId": serializers.UUIDField(),
                "tenantCategory": serializers.CharField(),
                "displayName": serializers.CharField(),
                "defaultDomain": serializers.CharField(),
                "domains": serializers.ListField(child=serializers.CharField()),
                "tenantType": serializers.CharField(),
            },
            many=True,
        )
    },
)


def location_body(subscription: Subscription, region) -> dict:
    return {
        "id": f"{subscription.arm_id}/locations/{region.name}",
        "name": region.name,
        "type": "Region",
        "displayName": region.display_name,
        "regionalDisplayName": f"({region.geography}) {region.display_name}",
        "metadata": {"regionType": "Physical", "regionCategory": "Recommended", "geographyGroup": region.geography},
    }


# Inputs


class TagsField(serializers.DictField):
    """Azure: at most 50 tags, names up to 512 characters, values up to 256."""

    child = serializers.CharField(allow_blank=True, max_length=256)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > 50 or any(len(name) > 512 for name in value):
            raise serializers.ValidationError("At most 50 tags, with names of up to 512 characters.")
        return value


class ResourceGroupInput(serializers.Serializer):
    location = serializers.CharField(max_length=60)
    tags = TagsField(required=False, allow_null=True)
    managedBy = serializers.CharField(required=False, allow_null=True, max_length=400)


class ResourceGroupPatch(serializers.Serializer):
    tags = TagsField(required=False, allow_null=True)
    managedBy = serializers.CharField(required=False, allow_null=True, max_length=400)


# Subscriptions


class SubscriptionListView(ArmView):
    @extend_schema(operation_id="Subscriptions_List", responses={200: responses.SUBSCRIPTION_LIST})
    def get(self, request):
        return arm_list([subscription_body(s) for s in access.visible_subscriptions(request.user)])


class TenantListView(ArmView):
    """The directories the caller belongs to: their own. `az login` without --tenant lists these, then
    the subscriptions of each."""

    @extend_schema(operation_id="Tenants_List", responses={200: TENANT_LIST})
    def get(self, request):
        tenant = request.user.tenant
        return arm_list([tenant_body(tenant)] if tenant else [])


class SubscriptionView(ScopeView):
    @extend_schema(operation_id="Subscriptions_Get", responses={200: responses.SUBSCRIPTION})
    def get(self, request, **parents):
        return Response(subscription_body(self.subscription))


class LocationListView(ScopeView):
    @extend_schema(operation_id="Subscriptions_ListLocations", responses={200: responses.LOCATION_LIST})
    def get(self, request, **parents):
        return arm_list([location_body(self.subscription, region) for region in REGIONS])


# Resource groups


class ResourceGroupListView(ScopeView):
    @extend_schema(operation_id="ResourceGroups_List", responses={200: responses.RESOURCE_GROUP_LIST})
    def get(self, request, **parents):
        groups = access.visible_resource_groups(request.user).filter(subscription=self.subscription)
        top = request.query_params.get("$top")
        if top and top.isdecimal() and len(top) < 7:
            groups = groups[: int(top)]
        return arm_list([resource_group_body(group) for group in groups])


class ResourceGroupView(ArmView):
    def _group(self, request, subscription_id, resource_group_name):
        return access.get_group(request.user, subscription_id, resource_group_name)

    @extend_schema(operation_id="ResourceGroups_Get", responses={200: responses.RESOURCE_GROUP})
    def get(self, request, subscription_id, resource_group_name):
        return Response(resource_group_body(self._group(request, subscription_id, resource_group_name)))

    @extend_schema(operation_id="ResourceGroups_CheckExistence", responses={204: None, 404: None})
    def head(self, request, subscription_id, resource_group_name):
        return existence(lambda: self._group(request, subscription_id, resource_group_name))

    @create_or_update("ResourceGroups_CreateOrUpdate", ResourceGroupInput, responses.RESOURCE_GROUP)
    def put(self, request, subscription_id, resource_group_name):
        subscription = access.get_subscription(request.user, subscription_id)
        body = validated(ResourceGroupInput, request.data)
        group, created = services.resource_group_create_or_update(
            user=request.user,
            subscription=subscription,
            name=resource_group_name,
            location=body["location"],
            tags=body.get("tags"),
            managed_by=body.get("managedBy"),
        )
        return put_answer(resource_group_body(group), created)

    @extend_schema(
        operation_id="ResourceGroups_Update", request=ResourceGroupPatch, responses={200: responses.RESOURCE_GROUP}
    )
    def patch(self, request, subscription_id, resource_group_name):
        group = self._group(request, subscription_id, resource_group_name)
        body = validated(ResourceGroupPatch, request.data)
        changes = {"tags": body["tags"]} if "tags" in body else {}
        if "managedBy" in body:
            changes["managed_by"] = body["managedBy"]
        group = services.resource_group_update(user=request.user, resource_group=group, changes=changes)
        return Response(resource_group_body(group))

    @extend_schema(operation_id="ResourceGroups_Delete", responses={202: None})
    def delete(self, request, subscription_id, resource_group_name):
        group = self._group(request, subscription_id, resource_group_name)
        job = services.resource_group_delete_start(user=request.user, resource_group=group)
        return accepted(request, location=f"/subscriptions/{group.subscription_id}/operationresults/{job.pk}")


class OperationResultView(ScopeView):
    """Where a resource-group deletion is polled: 202 while it runs, then 200 (or the error)."""

    @extend_schema(operation_id="OperationResults_Get", responses={200: None, 202: None})
    def get(self, request, operation_id, **parents):
        job = get_visible_job(request.user, operation_id, subscription=self.subscription)
        if not job.is_terminal:
            return accepted(request, location=request.path)
        if job.state == State.SUCCEEDED:
            return Response(status=200)
        error = (job.first_error or {}).get("serviceErrorDetails", {})
        raise ArmError(409, error.get("code", "OperationFailed"), error.get("message", "The operation failed."))


def generic_resource_body(resource) -> dict:
    return {
        "id": resource.arm_id,
        "name": resource.name,
        "type": resource.arm_type,
        "location": resource.location,
        "tags": resource.tags,
    }


# Resource types an app above keeps (VMs, their NICs and disks), registered from its AppConfig.ready:
# name -> a function of (user, subscription, resource group or None) giving generic resource bodies.
_RESOURCE_LISTERS: dict[str, Callable[..., list[dict]]] = {}


def register_resource_lister(name: str, lister: Callable[..., list[dict]]) -> None:
    _RESOURCE_LISTERS[name] = lister


class GenericResourceListView(ScopeView):
    """`resources.list` / `list_by_resource_group` of azure-mgmt-resource: every tracked resource."""

    @extend_schema(operation_id="Resources_List", responses={200: responses.GENERIC_RESOURCE_LIST})
    def get(self, request, **parents):
        resources = [
            *self.in_scope(access.visible_projects(request.user)),
            *self.in_scope(access.visible_networks(request.user)),
            *self.in_scope(access.visible_migration_resources(request.user)),
        ]
        bodies = [generic_resource_body(resource) for resource in resources]
        for lister in _RESOURCE_LISTERS.values():
            bodies += lister(request.user, self.subscription, self.group)
        return arm_list(filtered_resources(bodies, request.query_params.get("$filter")))


def _resource_group_of(body: dict) -> str:
    parts = body["id"].split("/")
    return parts[4] if len(parts) > 4 and parts[3].lower() == "resourcegroups" else ""


# What `$filter` of a resources list can narrow on (`az resource list -g/-n/-l/--resource-type/--tag` sends
# these at subscription scope): each `name eq 'value'`, compared case-insensitively as ARM does.
_RESOURCE_FILTERS: dict[str, Callable[[dict], list[str]]] = {
    "resourcegroup": lambda body: [_resource_group_of(body)],
    "resourcetype": lambda body: [body.get("type") or ""],
    "name": lambda body: [body.get("name") or ""],
    "location": lambda body: [body.get("location") or ""],
    "tagname": lambda body: list(body.get("tags") or {}),
    "tagvalue": lambda body: [str(v) for v in (body.get("tags") or {}).values()],
}


def filtered_resources(bodies: list[dict], expression: str | None) -> list[dict]:
    for name, operator, value in filter_clauses(expression):
        if name in _RESOURCE_FILTERS and operator == "eq":
            values = _RESOURCE_FILTERS[name]
            bodies = [body for body in bodies if value.lower() in (v.lower() for v in values(body))]
    return bodies


urlpatterns = [
    path("tenants", TenantListView.as_view()),
    path("subscriptions", SubscriptionListView.as_view()),
    path(SUB, SubscriptionView.as_view()),
    path(f"{SUB}/locations", LocationListView.as_view()),
    path(f"{SUB}/resourcegroups", ResourceGroupListView.as_view()),
    path(RG, ResourceGroupView.as_view()),
    path(f"{SUB}/operationresults/<str:operation_id>", OperationResultView.as_view()),
    *at_both_scopes("resources", GenericResourceListView),
]
