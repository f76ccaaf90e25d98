"""Replicate plans the tests share. A plain module (no fixtures, no path changes), so a live hub's
`manage.py shell` script may import it too."""

from __future__ import annotations

from projects.models import MigrateProject, VirtualNetwork
from replication.models import Appliance, DiscoveredServer
from replication.replicate import ReplicationPlan, ServerPlan


def plan_into_vnet_prod(appliance: Appliance, project: MigrateProject, servers: list[DiscoveredServer]):
    """A plan to replicate `servers` through `appliance` into the project's resource group and vnet-prod's
    default subnet: each VM named after its server, disk0 its OS disk, no Hybrid Benefit, new
    credentials. Used by the monitor tests and by the live replicating-servers test's hub script."""
    return ReplicationPlan(
        appliance=appliance,
        target_resource_group=project.resource_group,
        target_network=VirtualNetwork.objects.get(name="vnet-prod"),
        target_subnet="default",
        hybrid_benefit=False,
        servers=[ServerPlan(server=server, vm_name=server.name, os_disk_id="disk0") for server in servers],
        new_credentials=("dummy", "root", "secret"),
    )
