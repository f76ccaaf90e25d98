"""Scripts the SDK tests run inside a live hub (`manage.py shell -c`, with PARAMS, JSON, prepended),
for the state no public API reaches quickly: a replicating server without a real agent."""

from __future__ import annotations

import json

# Needs `params` (project, server, ip), `admin` and `group` (where the server replicates to), and the
# imports of the scripts below; leaves `project`, `appliance`, `server` and the finished enable job.
A_REPLICATING_SERVER = """
project, _ = project_services.migrate_project_create_or_update(
    user=admin, resource_group=group, name=params["project"], location="westeurope"
)
project_services.tool_register(user=admin, project=project, tool="ServerMigration")
job_run_to_end(
    project_services.create_resources_start(
        user=admin, project=project, target_region="westeurope", machines_virtualized="physical"
    ).pk
)
project = MigrateProject.objects.get(pk=project.pk)
appliance, _ = services.appliance_register(key_text=issue(project)[1], name=params["project"] + "-ps")
Appliance.objects.filter(pk=appliance.pk).update(state=Appliance.State.FINALIZED)
appliance.refresh_from_db()
server = services.server_report(
    appliance=appliance,
    machine_id="m-" + params["server"],
    agent_version="9.60",
    machine={
        "hostName": params["server"], "osType": "Linux", "osName": "Ubuntu", "osVersion": "22.04",
        "architecture": "x86_64", "cores": 2, "memoryMB": 4096,
        "disks": [{"diskId": "disk0", "sizeBytes": 1048576, "isOsDisk": True}],
        "nics": [{"nicId": "nic0", "ipAddresses": [params["ip"]], "isPrimary": True}],
    },
)
services.server_discover(server.pk)
server.refresh_from_db()
(job,) = replication_enable(
    admin,
    project,
    ReplicationPlan(
        appliance=appliance,
        target_resource_group=group,
        target_network=VirtualNetwork.objects.get(name="vnet-prod"),
        target_subnet="default",
        hybrid_benefit=False,
        servers=[ServerPlan(server=server, vm_name=params["server"], os_disk_id="disk0", disks=[DiskChoice("disk0")])],
        guest_credentials_required=False,
    ),
)
job_run_to_end(job.pk)  # here or on the worker
"""


def in_hub(hub, script: str, **params) -> str:
    return hub.manage("shell", "-c", f"PARAMS = {json.dumps(params)!r}\n{script}")
