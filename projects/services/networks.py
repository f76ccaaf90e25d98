"""Virtual networks and their subnets, with Azure's address rules (projects/addresses.py)."""

from __future__ import annotations

import uuid

from django.db import transaction

from hub import clock
from projects import access, addresses
from projects.models import (
    ResourceGroup,
    Subnet,
    VirtualNetwork,
)
from projects.services.rules import check_region, existing_in_locked_group


def virtual_network_create_or_update(
    *,
    user,
    resource_group: ResourceGroup,
    name: str,
    location: str,
    address_prefixes: list[str],
    subnets: list[tuple[str, str]],
    tags: dict | None = None,
) -> tuple[VirtualNetwork, bool]:
    """PUT semantics: the address space and the subnet list are replaced by what is given."""
    addresses.check_network_name(name)
    region = check_region(location)
    space = addresses.check_address_space(name, address_prefixes)
    addresses.check_subnets(name, space, subnets)
    access.authorize(user, access.WRITE_VIRTUAL_NETWORK, resource_group.subscription, resource_group.name)
    with transaction.atomic():
        group, network = existing_in_locked_group(resource_group, VirtualNetwork.objects, name, region)
        created = network is None
        if created:
            network = VirtualNetwork(resource_group=group, name=name, created_at=clock.now())
        network.location, network.address_prefixes = region, [str(block) for block in space]
        network.tags, network.etag = tags or {}, uuid.uuid4()
        network.save()
        _subnets_replace(network, subnets)
    return network, created


def _subnets_replace(network: VirtualNetwork, subnets: list[tuple[str, str]]) -> None:
    """The network's subnets become `subnets` (checked already): the others deleted, new ones created in
    bulk, and only those whose range changed rewritten (with a new etag, as Azure gives a changed
    resource), so a PUT of Azure's 3,000 subnets costs a few statements."""
    wanted = {
        name.lower(): (name, str(addresses.parse_prefix(prefix, "properties.addressPrefix")))
        for name, prefix in subnets
    }
    existing = {subnet.name.lower(): subnet for subnet in network.subnets.all()}
    network.subnets.filter(pk__in=[s.pk for key, s in existing.items() if key not in wanted]).delete()
    changed = []
    for key, (_, prefix) in wanted.items():
        subnet = existing.get(key)
        if subnet is not None and subnet.address_prefix != prefix:
            subnet.address_prefix, subnet.etag = prefix, uuid.uuid4()
            changed.append(subnet)
    Subnet.objects.bulk_update(changed, ["address_prefix", "etag"], batch_size=200)
    Subnet.objects.bulk_create(
        [
            Subnet(virtual_network=network, name=name, address_prefix=prefix)
            for key, (name, prefix) in wanted.items()
            if key not in existing
        ],
        batch_size=500,
    )


def _subnet_upsert(network: VirtualNetwork, name: str, prefix: str) -> tuple[Subnet, bool]:
    subnet = network.subnets.filter(name__iexact=name).first()
    if subnet is None:
        return Subnet.objects.create(virtual_network=network, name=name, address_prefix=prefix), True
    subnet.address_prefix, subnet.etag = prefix, uuid.uuid4()
    subnet.save(update_fields=["address_prefix", "etag"])
    return subnet, False


def virtual_network_update_tags(*, user, network: VirtualNetwork, tags: dict) -> VirtualNetwork:
    access.authorize(
        user, access.WRITE_VIRTUAL_NETWORK, network.resource_group.subscription, network.resource_group.name
    )
    VirtualNetwork.objects.filter(pk=network.pk).update(tags=tags, etag=uuid.uuid4())
    # Only what changed: the resource group and subscription already read stay cached for the answer.
    network.refresh_from_db(fields=["tags", "etag"])
    return network


def virtual_network_delete(*, user, network: VirtualNetwork) -> None:
    access.authorize(
        user, access.DELETE_VIRTUAL_NETWORK, network.resource_group.subscription, network.resource_group.name
    )
    VirtualNetwork.objects.filter(pk=network.pk).delete()


def subnet_create_or_update(*, user, network: VirtualNetwork, name: str, address_prefix: str) -> tuple[Subnet, bool]:
    group = network.resource_group
    access.authorize(user, access.WRITE_VIRTUAL_NETWORK, group.subscription, group.name)
    with transaction.atomic():
        locked = VirtualNetwork.objects.select_for_update().get(pk=network.pk)
        space = [addresses.parse_prefix(p, "properties.addressPrefix") for p in locked.address_prefixes]
        others = [(s.name, s.address_prefix) for s in locked.subnets.exclude(name__iexact=name)]
        # A new subnet beyond Azure's 3,000 per network is refused here, naming the limit.
        addresses.check_subnets(locked.name, space, [*others, (name, address_prefix)])
        return _subnet_upsert(locked, name, str(addresses.parse_prefix(address_prefix, "properties.addressPrefix")))


def subnet_delete(*, user, subnet: Subnet) -> None:
    group = subnet.virtual_network.resource_group
    access.authorize(user, access.WRITE_VIRTUAL_NETWORK, group.subscription, group.name)
    Subnet.objects.filter(pk=subnet.pk).delete()
