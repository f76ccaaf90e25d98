"""Not a benchmark: what bench/appliance_capacity.py sets up inside the hub (`manage.py shell -c`).

With BENCH_SEED_PROJECT (the project's name) set, replicates every discovered server of the project's
appliance through the hub's own Replicate service, in one plan: target rg-migrate and vnet-prod's
default subnet, each VM named capNNNN (the fleet's Windows host names are over Azure's 15 characters),
new guest credentials. Prints the number of servers as JSON on its last line."""

from __future__ import annotations

import json
import os

from hub import clock
from projects.models import MigrateProject, User, VirtualNetwork
from replication.models import DiscoveredServer
from replication.replicate import ReplicationPlan, ServerPlan, default_os_disk_id, replication_enable

project = MigrateProject.objects.get(name=os.environ["BENCH_SEED_PROJECT"])
admin = User.objects.get(email="admin@contoso.com")
appliance = project.appliances.get()
servers = list(DiscoveredServer.objects.filter(appliance=appliance).discovered(clock.now()).order_by("name"))
plan = ReplicationPlan(
    appliance=appliance,
    target_resource_group=project.resource_group,
    target_network=VirtualNetwork.objects.get(name="vnet-prod"),
    target_subnet="default",
    hybrid_benefit=False,
    servers=[
        ServerPlan(server=server, vm_name=f"cap{index:04d}", os_disk_id=default_os_disk_id(server))
        for index, server in enumerate(servers)
    ],
    new_credentials=("bench", "root", "bench-Passw0rd"),
)
replication_enable(admin, project, plan)
print(json.dumps({"servers": len(servers)}))
