"""ARM handlers for Microsoft.Network virtual networks and subnets, as azure-mgmt-network calls them."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from hub.arm.errors import ArmError, found
from hub.arm.routes import RG, tracked_resource
from hub.arm.schema import create_or_update
from hub.arm.views import arm_list, deletion, put_answer, validated
from projects import access, addresses, services
from projects.arm import responses
from projects.arm.resource_manager import TagsField
from projects.arm.scopes import ScopeView
from projects.models import Subnet, VirtualNetwork


def subnet_body(subnet: Subnet) -> dict:
    return {
        "id": subnet.arm_id,
        "name": subnet.name,
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "etag": f'W/"{subnet.etag}"',
        "properties": {"addressPrefix": subnet.address_prefix, "provisioningState": "Succeeded"},
    }


def network_body(network: VirtualNetwork) -> dict:
    return {
        "id": network.arm_id,
        "name": network.name,
        "type": network.arm_type,
        "location": network.location,
        "tags": network.tags,
        "etag": f'W/"{network.etag}"',
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": str(network.pk),
            "addressSpace": {"addressPrefixes": network.address_prefixes},
            "subnets": [subnet_body(subnet) for subnet in network.subnets.all()],
            "virtualNetworkPeerings": [],
            "enableDdosProtection": False,
        },
    }


class SubnetInput(serializers.Serializer):
    class SubnetInputProperties(serializers.Serializer):
        addressPrefix = serializers.CharField(required=False)
        addressPrefixes = serializers.ListField(child=serializers.CharField(), required=False)

    name = serializers.CharField(required=False)
    properties = SubnetInputProperties()

    def validate(self, data):
        properties = data["properties"]
        if not properties.get("addressPrefix") and not properties.get("addressPrefixes"):
            raise serializers.ValidationError({"properties": {"addressPrefix": ["This field is required."]}})
        return data


class NetworkInput(serializers.Serializer):
    class NetworkInputProperties(serializers.Serializer):
        class AddressSpaceInput(serializers.Serializer):
            addressPrefixes = serializers.ListField(child=serializers.CharField(), allow_empty=False)

        addressSpace = AddressSpaceInput()
        subnets = SubnetInput(many=True, required=False)

    location = serializers.CharField()
    tags = TagsField(required=False, allow_null=True)
    properties = NetworkInputProperties()


class TagsInput(serializers.Serializer):
    tags = TagsField(required=False, allow_null=True)


def _prefix(subnet_properties: dict) -> str:
    return subnet_properties.get("addressPrefix") or subnet_properties["addressPrefixes"][0]


def _check_counts(network_name: str, data) -> None:
    """Azure's limits on prefixes and subnets, before the body's thousands of entries are validated."""
    properties = data.get("properties") if isinstance(data, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    space = properties.get("addressSpace")
    prefixes = space.get("addressPrefixes") if isinstance(space, dict) else None
    subnets = properties.get("subnets")
    addresses.check_counts(
        network_name,
        address_prefixes=len(prefixes) if isinstance(prefixes, list) else 0,
        subnets=len(subnets) if isinstance(subnets, list) else 0,
    )


class NetworkListView(ScopeView):
    @extend_schema(operation_id="VirtualNetworks_List", responses={200: responses.VIRTUAL_NETWORK_LIST})
    def get(self, request, **parents):
        networks = self.in_scope(access.visible_networks(request.user))
        return arm_list([network_body(network) for network in networks.prefetch_related("subnets")])


class NetworkView(ScopeView):
    @extend_schema(operation_id="VirtualNetworks_Get", responses={200: responses.VIRTUAL_NETWORK})
    def get(self, request, network_name, **parents):
        return Response(network_body(access.get_network(request.user, self.group, network_name)))

    @create_or_update("VirtualNetworks_CreateOrUpdate", NetworkInput, responses.VIRTUAL_NETWORK)
    def put(self, request, network_name, **parents):
        _check_counts(network_name, request.data)
        body = validated(NetworkInput, request.data)
        subnets = []
        for index, subnet in enumerate(body["properties"].get("subnets", [])):
            if not subnet.get("name"):
                raise ArmError(
                    400, "InvalidRequestContent", "Every subnet needs a name.", f"properties.subnets[{index}].name"
                )
            subnets.append((subnet["name"], _prefix(subnet["properties"])))
        network, created = services.virtual_network_create_or_update(
            user=request.user,
            resource_group=self.group,
            name=network_name,
            location=body["location"],
            address_prefixes=body["properties"]["addressSpace"]["addressPrefixes"],
            subnets=subnets,
            tags=body.get("tags"),
        )
        return put_answer(network_body(network), created)

    @extend_schema(
        operation_id="VirtualNetworks_UpdateTags", request=TagsInput, responses={200: responses.VIRTUAL_NETWORK}
    )
    def patch(self, request, network_name, **parents):
        network = access.get_network(request.user, self.group, network_name)
        body = validated(TagsInput, request.data)
        network = services.virtual_network_update_tags(user=request.user, network=network, tags=body.get("tags") or {})
        return Response(network_body(network))

    @extend_schema(operation_id="VirtualNetworks_Delete", responses={200: None, 204: None})
    def delete(self, request, network_name, **parents):
        return deletion(
            lambda: access.get_network(request.user, self.group, network_name),
            lambda network: services.virtual_network_delete(user=request.user, network=network),
        )


class SubnetsView(ScopeView):
    """Below a virtual network: the network is a parent too, resolved into `self.network`."""

    def resolve_parents(self, request, network_name, **parents):
        super().resolve_parents(request, **parents)
        self.network = access.get_network(request.user, self.group, network_name)


class SubnetListView(SubnetsView):
    @extend_schema(operation_id="Subnets_List", responses={200: responses.SUBNET_LIST})
    def get(self, request, **parents):
        return arm_list([subnet_body(subnet) for subnet in self.network.subnets.all()])


class SubnetView(SubnetsView):
    @extend_schema(operation_id="Subnets_Get", responses={200: responses.SUBNET})
    def get(self, request, subnet_name, **parents):
        subnet = self.network.subnets.filter(name__iexact=subnet_name).first()
        found(subnet, "NotFound", f"Resource {self.network.arm_id}/subnets/{subnet_name} not found.")
        return Response(subnet_body(subnet))

    @create_or_update("Subnets_CreateOrUpdate", SubnetInput, responses.SUBNET)
    def put(self, request, subnet_name, **parents):
        body = validated(SubnetInput, request.data)
        subnet, created = services.subnet_create_or_update(
            user=request.user, network=self.network, name=subnet_name, address_prefix=_prefix(body["properties"])
        )
        return put_answer(subnet_body(subnet), created)

    @extend_schema(operation_id="Subnets_Delete", responses={200: None, 204: None})
    def delete(self, request, subnet_name, **parents):
        subnet = self.network.subnets.filter(name__iexact=subnet_name).first()
        if subnet is None:
            return Response(status=204)
        services.subnet_delete(user=request.user, subnet=subnet)
        return Response(status=200)


NETWORKS = "providers/microsoft.network/virtualnetworks"
NETWORK = f"{RG}/{NETWORKS}/<str:network_name>"

urlpatterns = [
    *tracked_resource(NETWORKS, NetworkListView, NetworkView, "network_name"),
    path(f"{NETWORK}/subnets", SubnetListView.as_view()),
    path(f"{NETWORK}/subnets/<str:subnet_name>", SubnetView.as_view()),
]
