"""Replicate plans, and the machine profiles servers are discovered from, that the tests share. A plain
module (no fixtures, no path changes), so a live hub's `manage.py shell` script and the live tests may
import it too."""

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


def machine_profile(
    host: str,
    os_type: str,
    os_name: str,
    *,
    disk_bytes: tuple[int, int],
    cores: int = 2,
    memory_mb: int = 4096,
    ip_address: str = "10.0.0.4",
    **more,
) -> dict:
    """A machine as an agent reports it: x86_64, an OS disk and a data disk (`disk_bytes`), one NIC; `more`
    adds properties (osVersion, say)."""
    os_disk, data_disk = disk_bytes
    return {
        "hostName": host,
        "osType": os_type,
        "osName": os_name,
        **more,
        "architecture": "x86_64",
        "cores": cores,
        "memoryMB": memory_mb,
        "disks": [
            {"diskId": "disk0", "sizeBytes": os_disk, "isOsDisk": True},
            {"diskId": "disk1", "sizeBytes": data_disk, "isOsDisk": False},
        ],
        "nics": [{"nicId": "nic0", "ipAddresses": [ip_address], "isPrimary": True}],
    }
