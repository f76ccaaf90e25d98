"""Virtual network address rules, as Azure's network resource provider applies them."""

from __future__ import annotations

import bisect
import ipaddress
import re

from hub.arm.errors import ArmError

_NETWORK_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")
_SUBNET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$")
NETWORK_NAME_RULE = (
    "Virtual network names are 2 to 64 characters: letters, digits, underscores, periods and hyphens; they "
    "start with a letter or digit and end with a letter, digit or underscore."
)
SUBNET_NAME_RULE = (
    "Subnet names are 1 to 80 characters: letters, digits, underscores, periods and hyphens; they start with a "
    "letter or digit and end with a letter, digit or underscore."
)


def check_network_name(name: str) -> None:
    if len(name) < 2 or not _NETWORK_NAME.fullmatch(name):
        raise ArmError(
            400, "InvalidResourceName", f"The resource name '{name}' is invalid. {NETWORK_NAME_RULE}", "name"
        )


def check_subnet_name(name: str) -> None:
    if not _SUBNET_NAME.fullmatch(name):
        raise ArmError(400, "InvalidResourceName", f"The subnet name '{name}' is invalid. {SUBNET_NAME_RULE}", "name")


def parse_prefix(prefix: str, target: str) -> ipaddress.IPv4Network:
    """A CIDR block such as 10.0.0.0/16; host bits must be zero, as Azure requires."""
    try:
        network = ipaddress.ip_network(str(prefix).strip(), strict=True)
    except ValueError:
        raise ArmError(
            400,
            "InvalidAddressPrefixFormat",
            f"Address prefix '{prefix}' is not a valid CIDR block. Use a network address and a prefix length, "
            "e.g. 10.0.0.0/16, with the bits after the prefix length set to zero.",
            target,
        ) from None
    if network.version != 4:
        raise ArmError(400, "InvalidAddressPrefixFormat", f"Address prefix '{prefix}' must be IPv4 here.", target)
    return network


# Azure's networking limits (learn.microsoft.com, "Azure subscription and service limits", Networking):
# 3,000 subnets per virtual network. Azure publishes no count of address prefixes per network; the hub
# allows as many as subnets, since each subnet lies inside one prefix and a prefix holds addresses for
# nothing but its subnets: more prefixes than that could never all be used.
MAX_SUBNETS_PER_NETWORK = 3000
MAX_ADDRESS_PREFIXES_PER_NETWORK = 3000


def check_counts(network_name: str, *, address_prefixes: int = 0, subnets: int = 0) -> None:
    """Azure's limits on what one virtual network holds; checked before anything is parsed, so a request
    far beyond them costs nothing."""
    if address_prefixes > MAX_ADDRESS_PREFIXES_PER_NETWORK:
        raise ArmError(
            400,
            "QuotaExceeded",
            f"Virtual network '{network_name}' has {address_prefixes} address prefixes; a virtual network may have "
            f"at most {MAX_ADDRESS_PREFIXES_PER_NETWORK:,}. Use fewer, larger address prefixes.",
            "properties.addressSpace.addressPrefixes",
        )
    if subnets > MAX_SUBNETS_PER_NETWORK:
        raise ArmError(
            400,
            "QuotaExceeded",
            f"Virtual network '{network_name}' has {subnets} subnets; Azure allows at most "
            f"{MAX_SUBNETS_PER_NETWORK:,} subnets per virtual network. Split them across virtual networks.",
            "properties.subnets",
        )


def _last_address(block: ipaddress.IPv4Network) -> int:
    return int(block.broadcast_address)


def _first_overlap(blocks: list) -> tuple[int, int] | None:
    """The input positions (i, j) of two overlapping blocks, or None. Sorted by first address, a block
    overlaps an earlier one exactly when it starts at or before the furthest end seen so far: one sort
    and one sweep, O(n log n)."""
    order = sorted(range(len(blocks)), key=lambda index: int(blocks[index].network_address))
    furthest: int | None = None  # position of the block reaching furthest so far
    for index in order:
        if furthest is not None and int(blocks[index].network_address) <= _last_address(blocks[furthest]):
            return min(furthest, index), max(furthest, index)
        if furthest is None or _last_address(blocks[index]) > _last_address(blocks[furthest]):
            furthest = index
    return None


def check_address_space(network_name: str, prefixes: list[str]) -> list[ipaddress.IPv4Network]:
    if not prefixes:
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"Virtual network '{network_name}' needs at least one address prefix in addressSpace.addressPrefixes.",
            "properties.addressSpace.addressPrefixes",
        )
    check_counts(network_name, address_prefixes=len(prefixes))
    blocks = [parse_prefix(prefix, "properties.addressSpace.addressPrefixes") for prefix in prefixes]
    overlap = _first_overlap(blocks)
    if overlap:
        block, other = blocks[overlap[0]], blocks[overlap[1]]
        raise ArmError(
            400,
            "VnetAddressSpacesOverlap",
            f"Cannot create or update virtual network '{network_name}' because its address spaces "
            f"{block} and {other} overlap. Use address spaces that do not overlap.",
            "properties.addressSpace.addressPrefixes",
        )
    return blocks


def check_subnets(network_name: str, space: list[ipaddress.IPv4Network], subnets: list[tuple[str, str]]) -> None:
    """Each subnet inside the address space, no two overlapping, names unique (case-insensitive).
    `space` is a valid address space (no overlaps); everything here is O(n log n)."""
    check_counts(network_name, subnets=len(subnets))
    blocks = []
    seen_names: set[str] = set()
    for name, prefix in subnets:
        check_subnet_name(name)
        if name.lower() in seen_names:
            raise ArmError(400, "InvalidRequestContent", f"Subnet name '{name}' is used twice.", "name")
        seen_names.add(name.lower())
        blocks.append(parse_prefix(prefix, "properties.addressPrefix"))
    containers = sorted(space, key=lambda block: int(block.network_address))
    starts = [int(block.network_address) for block in containers]
    for (name, _), block in zip(subnets, blocks, strict=True):
        # The only prefix that can hold the subnet is the last one starting at or before it.
        at = bisect.bisect_right(starts, int(block.network_address)) - 1
        if at < 0 or _last_address(block) > _last_address(containers[at]):
            raise ArmError(
                400,
                "NetcfgSubnetRangeOutsideVnet",
                f"Subnet '{name}' is not valid because its IP address range is outside the IP address range of "
                f"virtual network '{network_name}'.",
                "properties.addressPrefix",
            )
    overlap = _first_overlap(blocks)
    if overlap:
        name = subnets[overlap[1]][0]
        raise ArmError(
            400,
            "NetcfgSubnetRangesOverlap",
            f"Subnet '{name}' is not valid because its IP address range overlaps with that of an existing "
            f"subnet in virtual network '{network_name}'.",
            "properties.addressPrefix",
        )
