"""Virtual networks and subnets through azure-mgmt-network's client, unmodified: the tutorial's
prerequisite "Set up an Azure network", with Azure's address rules."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network.models import AddressSpace, Subnet, VirtualNetwork

from tests.azure_clients import network_client
from tests.hubs import CONTOSO

pytestmark = pytest.mark.live


@pytest.fixture
def client(live_hub):
    return network_client(live_hub, "migrator@contoso.com", CONTOSO)


def vnet(space: list[str], subnets: list[tuple[str, str]]) -> VirtualNetwork:
    return VirtualNetwork(
        location="westeurope",
        address_space=AddressSpace(address_prefixes=space),
        subnets=[Subnet(name=name, address_prefix=prefix) for name, prefix in subnets],
    )


def test_it_creates_lists_and_deletes_networks_and_subnets(client, group):
    created = client.virtual_networks.begin_create_or_update(
        group, "vnet-app", vnet(["10.1.0.0/16"], [("web", "10.1.1.0/24")])
    ).result()
    assert created.address_space.address_prefixes == ["10.1.0.0/16"]
    assert [(s.name, s.address_prefix) for s in created.subnets] == [("web", "10.1.1.0/24")]
    assert created.provisioning_state == "Succeeded"

    subnet = client.subnets.begin_create_or_update(
        group, "vnet-app", "db", Subnet(address_prefix="10.1.2.0/24")
    ).result()
    assert subnet.id.endswith("/virtualNetworks/vnet-app/subnets/db")
    assert {s.name for s in client.subnets.list(group, "vnet-app")} == {"web", "db"}
    assert "vnet-app" in [n.name for n in client.virtual_networks.list(group)]
    assert "vnet-prod" in [n.name for n in client.virtual_networks.list_all()], "the demo production network"

    client.subnets.begin_delete(group, "vnet-app", "db").result()
    assert [s.name for s in client.virtual_networks.get(group, "vnet-app").subnets] == ["web"]
    client.virtual_networks.begin_delete(group, "vnet-app").result()
    with pytest.raises(ResourceNotFoundError):
        client.virtual_networks.get(group, "vnet-app")


@pytest.mark.parametrize(
    ("space", "subnets", "code"),
    [
        (["10.1.0.0/16", "10.1.128.0/20"], [], "VnetAddressSpacesOverlap"),
        (["10.1.0.0/16"], [("web", "10.2.0.0/24")], "NetcfgSubnetRangeOutsideVnet"),
        (["10.1.0.0/16"], [("a", "10.1.0.0/24"), ("b", "10.1.0.128/25")], "NetcfgSubnetRangesOverlap"),
        (["10.1.0.1/16"], [], "InvalidAddressPrefixFormat"),
        (["not-an-address"], [], "InvalidAddressPrefixFormat"),
    ],
)
def test_azures_address_rules_refuse_bad_networks(client, group, space, subnets, code):
    with pytest.raises(HttpResponseError) as refused:
        client.virtual_networks.begin_create_or_update(group, "vnet-bad", vnet(space, subnets)).result()
    assert (refused.value.status_code, refused.value.error.code) == (400, code)
    with pytest.raises(ResourceNotFoundError):
        client.virtual_networks.get(group, "vnet-bad")


def test_a_subnet_outside_the_space_is_refused_and_nothing_changes(client, group):
    client.virtual_networks.begin_create_or_update(
        group, "vnet-x", vnet(["10.5.0.0/16"], [("a", "10.5.0.0/24")])
    ).result()
    with pytest.raises(HttpResponseError) as refused:
        client.subnets.begin_create_or_update(group, "vnet-x", "b", Subnet(address_prefix="10.6.0.0/24")).result()
    assert refused.value.error.code == "NetcfgSubnetRangeOutsideVnet"
    with pytest.raises(HttpResponseError) as refused:
        client.subnets.begin_create_or_update(group, "vnet-x", "c", Subnet(address_prefix="10.5.0.0/25")).result()
    assert refused.value.error.code == "NetcfgSubnetRangesOverlap"
    assert [s.name for s in client.subnets.list(group, "vnet-x")] == ["a"]


def test_a_reader_cannot_create_networks(live_hub, group):
    client = network_client(live_hub, "viewer@contoso.com", CONTOSO)
    with pytest.raises(HttpResponseError) as refused:
        client.virtual_networks.begin_create_or_update(group, "vnet-r", vnet(["10.9.0.0/16"], [])).result()
    assert refused.value.status_code == 403
    assert "Microsoft.Network/virtualNetworks/write" in refused.value.error.message


def test_a_request_beyond_azure_limits_is_refused_naming_the_limit(client, group):
    many = [f"10.{index // 256}.{index % 256}.0/24" for index in range(10_000)]
    with pytest.raises(HttpResponseError) as refused:
        client.virtual_networks.begin_create_or_update(group, "vnet-huge", vnet(many, [])).result()
    assert refused.value.status_code == 400
    assert refused.value.error.code == "QuotaExceeded"
    assert "at most 3,000" in refused.value.error.message

    subnets = [(f"s{index}", f"10.{index // 32}.{(index % 32) * 8}.0/29") for index in range(3001)]
    with pytest.raises(HttpResponseError) as refused:
        client.virtual_networks.begin_create_or_update(group, "vnet-many", vnet(["10.0.0.0/8"], subnets)).result()
    assert refused.value.error.code == "QuotaExceeded"
    assert "3,000 subnets per virtual network" in refused.value.error.message
