"""ARM handlers for Microsoft.Network virtual networks and subnets, as azure-mgmt-network calls them."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from hub.arm.errors import ArmError
from hub.arm.views import ArmView, arm_list, validated
from projects import access, services
from projects.arm.resource_manager import RG, SUB, TagsField
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
    class Properties(serializers.Serializer):
        addressPrefix = serializers.CharField(required=False)
        addressPrefixes = serializers.ListField(child=serializers.CharField(), required=False)

    name = serializers.CharField(required=False)
    properties = Properties()

    def validate(self, data):
        properties = data["properties"]
        if not properties.get("addressPrefix") and not properties.get("addressPrefixes"):
            raise serializers.ValidationError({"properties": {"addressPrefix": ["This field is required."]}})
        return data


class NetworkInput(serializers.Serializer):
    class Properties(serializers.Serializer):
        class AddressSpace(serializers.Serializer):
            addressPrefixes = serializers.ListField(child=serializers.CharField(), allow_empty=False)

        addressSpace = AddressSpace()
        subnets = SubnetInput(many=True, required=False)

    location = serializers.CharField()
    tags = TagsField(required=False, allow_null=True)
    properties = Properties()


class TagsInput(serializers.Serializer):
    tags = TagsField(required=False, allow_null=True)


def _prefix(subnet_properties: dict) -> str:
    return subnet_properties.get("addressPrefix") or subnet_properties["addressPrefixes"][0]


class NetworkMixin:
    def _group(self, request, subscription_id, resource_group_name):
        return access.get_group(request.user, subscription_id, resource_group_name)

    def _network(self, request, subscription_id, resource_group_name, network_name):
        group = self._group(request, subscription_id, resource_group_name)
        return access.get_network(request.user, group, network_name)


class NetworkListView(NetworkMixin, ArmView):
    @extend_schema(operation_id="VirtualNetworks_List", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name=None):
        subscription = access.get_subscription(request.user, subscription_id)
        networks = access.visible_networks(request.user).filter(resource_group__subscription=subscription)
        if resource_group_name is not None:
            networks = networks.filter(resource_group=self._group(request, subscription_id, resource_group_name))
        return arm_list([network_body(network) for network in networks.prefetch_related("subnets")])


class NetworkView(NetworkMixin, ArmView):
    @extend_schema(operation_id="VirtualNetworks_Get", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, network_name):
        return Response(network_body(self._network(request, subscription_id, resource_group_name, network_name)))

    @extend_schema(operation_id="VirtualNetworks_CreateOrUpdate", request=NetworkInput, responses={200: dict})
    def put(self, request, subscription_id, resource_group_name, network_name):
        group = self._group(request, subscription_id, resource_group_name)
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
            resource_group=group,
            name=network_name,
            location=body["location"],
            address_prefixes=body["properties"]["addressSpace"]["addressPrefixes"],
            subnets=subnets,
            tags=body.get("tags"),
        )
        return Response(network_body(network), status=201 if created else 200)

    @extend_schema(operation_id="VirtualNetworks_UpdateTags", request=TagsInput, responses={200: dict})
    def patch(self, request, subscription_id, resource_group_name, network_name):
        network = self._network(request, subscription_id, resource_group_name, network_name)
        body = validated(TagsInput, request.data)
        network = services.virtual_network_update_tags(user=request.user, network=network, tags=body.get("tags") or {})
        return Response(network_body(network))

    @extend_schema(operation_id="VirtualNetworks_Delete", responses={200: None, 204: None})
    def delete(self, request, subscription_id, resource_group_name, network_name):
        group = self._group(request, subscription_id, resource_group_name)
        try:
            network = access.get_network(request.user, group, network_name)
        except ArmError:
            return Response(status=204)
        services.virtual_network_delete(user=request.user, network=network)
        return Response(status=200)


class SubnetListView(NetworkMixin, ArmView):
    @extend_schema(operation_id="Subnets_List", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, network_name):
        network = self._network(request, subscription_id, resource_group_name, network_name)
        return arm_list([subnet_body(subnet) for subnet in network.subnets.all()])


class SubnetView(NetworkMixin, ArmView):
    def _subnet(self, network, subnet_name) -> Subnet:
        subnet = network.subnets.filter(name__iexact=subnet_name).first()
        if subnet is None:
            raise ArmError(
                404,
                "NotFound",
                f"Resource {network.arm_id}/subnets/{subnet_name} not found.",
            )
        return subnet

    @extend_schema(operation_id="Subnets_Get", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, network_name, subnet_name):
        network = self._network(request, subscription_id, resource_group_name, network_name)
        return Response(subnet_body(self._subnet(network, subnet_name)))

    @extend_schema(operation_id="Subnets_CreateOrUpdate", request=SubnetInput, responses={200: dict})
    def put(self, request, subscription_id, resource_group_name, network_name, subnet_name):
        network = self._network(request, subscription_id, resource_group_name, network_name)
        body = validated(SubnetInput, request.data)
        subnet, created = services.subnet_create_or_update(
            user=request.user, network=network, name=subnet_name, address_prefix=_prefix(body["properties"])
        )
        return Response(subnet_body(subnet), status=201 if created else 200)

    @extend_schema(operation_id="Subnets_Delete", responses={200: None, 204: None})
    def delete(self, request, subscription_id, resource_group_name, network_name, subnet_name):
        network = self._network(request, subscription_id, resource_group_name, network_name)
        subnet = network.subnets.filter(name__iexact=subnet_name).first()
        if subnet is None:
            return Response(status=204)
        services.subnet_delete(user=request.user, subnet=subnet)
        return Response(status=200)


NETWORKS = "providers/microsoft.network/virtualnetworks"
NETWORK = f"{RG}/{NETWORKS}/<str:network_name>"

urlpatterns = [
    path(f"{SUB}/{NETWORKS}", NetworkListView.as_view()),
    path(f"{RG}/{NETWORKS}", NetworkListView.as_view()),
    path(NETWORK, NetworkView.as_view()),
    path(f"{NETWORK}/subnets", SubnetListView.as_view()),
    path(f"{NETWORK}/subnets/<str:subnet_name>", SubnetView.as_view()),
]
