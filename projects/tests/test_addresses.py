"""Virtual network address rules: Azure's limits refused with the limit named, and the sorted sweeps
finding exactly what a pairwise comparison finds."""

from __future__ import annotations

import ipaddress
import random

import pytest

from hub.arm.errors import ArmError
from projects import addresses


def blocks_in(count: int, new_prefix: int, within: str = "10.0.0.0/8") -> list[str]:
    networks = ipaddress.ip_network(within).subnets(new_prefix=new_prefix)
    return [str(next(networks)) for _ in range(count)]


def test_it_refuses_more_address_prefixes_than_the_limit_naming_it():
    with pytest.raises(ArmError) as refused:
        addresses.check_address_space("vnet", blocks_in(10_000, 24))
    assert refused.value.status == 400
    assert refused.value.code == "QuotaExceeded"
    assert "10000 address prefixes" in refused.value.message and "at most 3,000" in refused.value.message
    assert refused.value.target == "properties.addressSpace.addressPrefixes"


def test_it_accepts_address_prefixes_up_to_the_limit():
    assert len(addresses.check_address_space("vnet", blocks_in(3000, 24))) == 3000


def test_it_refuses_more_subnets_than_azure_allows_naming_the_limit():
    space = [ipaddress.ip_network("10.0.0.0/8")]
    subnets = [(f"s{index}", prefix) for index, prefix in enumerate(blocks_in(3001, 29))]
    with pytest.raises(ArmError) as refused:
        addresses.check_subnets("vnet", space, subnets)
    assert refused.value.code == "QuotaExceeded"
    assert "3001 subnets" in refused.value.message and "at most 3,000 subnets per virtual network" in (
        refused.value.message
    )
    addresses.check_subnets("vnet", space, subnets[:3000])


def pairwise_overlap(blocks) -> bool:
    return any(a.overlaps(b) for index, a in enumerate(blocks) for b in blocks[index + 1 :])


@pytest.mark.parametrize("seed", range(40))
def test_the_sweep_finds_overlaps_exactly_as_pairwise_comparison_does(seed):
    chooser = random.Random(seed)
    blocks = [
        ipaddress.ip_network(
            f"10.{chooser.randrange(4)}.{chooser.randrange(256)}.0/{chooser.choice((16, 20, 24))}", strict=False
        )
        for _ in range(chooser.randrange(1, 12))
    ]
    found = addresses._first_overlap(blocks)
    assert (found is not None) == pairwise_overlap(blocks)
    if found:
        assert blocks[found[0]].overlaps(blocks[found[1]])


@pytest.mark.parametrize(
    ("space", "subnets", "code"),
    [
        (["10.1.0.0/16", "10.1.128.0/20"], [], "VnetAddressSpacesOverlap"),
        (["10.1.0.0/16", "10.3.0.0/16"], [("web", "10.2.0.0/24")], "NetcfgSubnetRangeOutsideVnet"),
        # Inside the union of two adjacent prefixes, but not inside either one: outside, as in Azure.
        (["10.2.0.0/24", "10.2.1.0/24"], [("web", "10.2.0.0/23")], "NetcfgSubnetRangeOutsideVnet"),
        (["10.1.0.0/16"], [("a", "10.1.0.0/24"), ("b", "10.1.0.128/25")], "NetcfgSubnetRangesOverlap"),
        (["10.1.0.0/16"], [("a", "10.1.0.0/24"), ("A", "10.1.1.0/24")], "InvalidRequestContent"),
        (["10.1.0.0/16", "10.9.0.0/16"], [("a", "10.9.4.0/24"), ("b", "10.1.0.0/24")], None),
    ],
)
def test_it_applies_azure_address_rules(space, subnets, code):
    def check():
        blocks = addresses.check_address_space("vnet", space)
        addresses.check_subnets("vnet", blocks, subnets)

    if code is None:
        check()
        return
    with pytest.raises(ArmError) as refused:
        check()
    assert refused.value.code == code
