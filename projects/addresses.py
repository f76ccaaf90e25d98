"""Virtual network address rules, as Azure's network resource provider applies them."""

from __future__ import annotations

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


def check_address_space(network_name: str, prefixes: list[str]) -> list[ipaddress.IPv4Network]:
    if not prefixes:
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"Virtual network '{network_name}' needs at least one address prefix in addressSpace.addressPrefixes.",
            "properties.addressSpace.addressPrefixes",
        )
    blocks = [parse_prefix(prefix, "properties.addressSpace.addressPrefixes") for prefix in prefixes]
    for index, block in enumerate(blocks):
        for other in blocks[index + 1 :]:
            if block.overlaps(other):
                raise ArmError(
                    400,
                    "VnetAddressSpacesOverlap",
                    f"Cannot create or update virtual network '{network_name}' because its address spaces "
                    f"{block} and {other} overlap. Use address spaces that do not overlap.",
                    "properties.addressSpace.addressPrefixes",
                )
    return blocks


def check_subnets(network_name: str, space: list[ipaddress.IPv4Network], subnets: list[tuple[str, str]]) -> None:
    """Each subnet inside the address space, no two overlapping, names unique (case-insensitive)."""
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for name, prefix in subnets:
        check_subnet_name(name)
        block = parse_prefix(prefix, "properties.addressPrefix")
        if not any(block.subnet_of(container) for container in space):
            raise ArmError(
                400,
                "NetcfgSubnetRangeOutsideVnet",
                f"Subnet '{name}' is not valid because its IP address range is outside the IP address range of "
                f"virtual network '{network_name}'.",
                "properties.addressPrefix",
            )
        for other_name, other in seen:
            if other_name.lower() == name.lower():
                raise ArmError(400, "InvalidRequestContent", f"Subnet name '{name}' is used twice.", "name")
            if block.overlaps(other):
                raise ArmError(
                    400,
                    "NetcfgSubnetRangesOverlap",
                    f"Subnet '{name}' is not valid because its IP address range overlaps with that of an existing "
                    f"subnet in virtual network '{network_name}'.",
                    "properties.addressPrefix",
                )
        seen.append((name, block))
