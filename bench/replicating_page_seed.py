"""Not a benchmark: the data bench/replicating_page.py measures, seeded inside the hub.

replicating_page.py runs this file with `manage.py shell -c` in the hub's environment, with
BENCH_SEED_COUNT (replicating servers wanted) and BENCH_SEED_PROJECT (the project's name) set. It prints
the item count and the disk count as JSON on its last line.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from datetime import timedelta

from django.db import connection, transaction

from hub import clock
from jobs.models import Job, State
from jobs.tests.runs import job_run_to_end
from projects import services as project_services
from projects.models import MigrateProject, User, VirtualNetwork
from replication import services
from replication.keys import registration_key_issue
from replication.models import (
    Appliance,
    DiscoveredServer,
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    TestMigrateState,
)
from replication.replicate import ReplicationPlan, ServerPlan, replication_enable

COUNT = int(os.environ["BENCH_SEED_COUNT"])
NAME = os.environ["BENCH_SEED_PROJECT"]
rng = random.Random(5)
project = MigrateProject.objects.get(name=NAME)
admin = User.objects.get(email="admin@contoso.com")
now = clock.now()
appliances = []
for index in range(3):
    _, key = registration_key_issue(
        user=admin, project=project, hub_url="http://hub.test/", vault=project_services.project_vault(project)
    )
    appliance, _ = services.appliance_register(key_text=key, name=f"bench-appliance-{index}")
    appliances.append(appliance)
# Two appliances heartbeat; the third has been silent for two hours (its servers are Critical).
Appliance.objects.filter(pk__in=[a.pk for a in appliances[:2]]).update(
    state=Appliance.State.FINALIZED, last_heartbeat_at=now
)
Appliance.objects.filter(pk=appliances[2].pk).update(
    state=Appliance.State.FINALIZED, last_heartbeat_at=now - timedelta(hours=2)
)
for appliance in appliances:
    appliance.refresh_from_db()

template_server = services.server_report(
    appliance=appliances[0],
    machine_id="bench-template",
    agent_version="9.60",
    machine={
        "hostName": "template-00000",
        "osType": "Linux",
        "osName": "Ubuntu",
        "osVersion": "22.04",
        "cores": 2,
        "memoryMB": 4096,
        "disks": [{"diskId": "disk0", "sizeBytes": 64 << 30, "isOsDisk": True}],
        "nics": [{"nicId": "nic0", "ipAddresses": ["10.0.0.4"], "isPrimary": True}],
    },
)
services.server_discover(template_server.pk)
template_server = DiscoveredServer.objects.get(pk=template_server.pk)
(job,) = replication_enable(
    admin,
    project,
    ReplicationPlan(
        appliance=appliances[0],
        target_resource_group=project.resource_group,
        target_network=VirtualNetwork.objects.get(name="vnet-prod"),
        target_subnet="default",
        hybrid_benefit=False,
        servers=[ServerPlan(server=template_server, vm_name="template-00000", os_disk_id="disk0")],
        new_credentials=("bench", "root", "secret"),
    ),
)
job_run_to_end(job.pk)  # here or on the worker
template = MigrationItem.objects.get(server=template_server)
template_disk = template.disks.get()


def clone(instance, **changes):
    values = {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}
    values.update(changes)
    return type(instance)(**values)


PREFIXES = ["web", "app", "db", "sql", "file", "mail", "cache", "api", "batch", "auth"]
STATES = [
    (MigrationState.REPLICATING, 60),
    (MigrationState.INITIAL_SEEDING_IN_PROGRESS, 18),
    (MigrationState.MIGRATION_SUCCEEDED, 8),
    (MigrationState.ENABLE_MIGRATION_IN_PROGRESS, 4),
    (MigrationState.MIGRATION_IN_PROGRESS, 3),
    (MigrationState.ENABLE_MIGRATION_FAILED, 3),
    (MigrationState.MIGRATION_FAILED, 2),
    (MigrationState.DISABLE_MIGRATION_IN_PROGRESS, 2),
]
TESTS = [
    (TestMigrateState.NONE, 85),
    (TestMigrateState.SUCCEEDED, 10),
    (TestMigrateState.IN_PROGRESS, 3),
    (TestMigrateState.FAILED, 2),
]


def pick(weighted):
    return rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]


servers, items, disks, jobs = [], [], [], []
for index in range(1, COUNT):
    name = f"{rng.choice(PREFIXES)}-{index:05d}"
    heartbeat = rng.random()
    silence = timedelta(hours=2) if heartbeat < 0.03 else timedelta(seconds=rng.uniform(0, 60))
    server = clone(
        template_server,
        id=uuid.uuid4(),
        machine_id=f"bench-{index}",
        name=name,
        os_type=rng.choice(["Linux", "Windows"]),
        agent_connected=heartbeat > 0.01,
        agent_last_heartbeat_at=now - silence,
        reported_at=now - timedelta(days=2),
        discovered_at=now - timedelta(days=2),
    )
    servers.append(server)
    state = pick(STATES)
    replicating = state not in (MigrationState.ENABLE_MIGRATION_IN_PROGRESS, MigrationState.ENABLE_MIGRATION_FAILED)
    has_point = replicating and state != MigrationState.INITIAL_SEEDING_IN_PROGRESS
    point_at = now - timedelta(minutes=rng.uniform(1, 180)) if has_point else None
    upload_at = now - timedelta(seconds=rng.uniform(0, 3600)) if replicating else None
    item = clone(
        template,
        id=uuid.uuid4(),
        server_id=server.pk,
        appliance_id=appliances[0 if rng.random() < 0.45 else 1 if rng.random() < 0.82 else 2].pk,
        target_vm_name=name,
        migration_state=state,
        test_migrate_state=pick(TESTS) if has_point else TestMigrateState.NONE,
        created_at=now - timedelta(days=2),
        replication_started_at=now - timedelta(days=1) if replicating else None,
        initial_replication_completed_at=now - timedelta(hours=20) if has_point else None,
        last_recovery_point_at=point_at,
        last_recovery_point_id=uuid.uuid4() if has_point else None,
        last_upload_at=upload_at,
        throughput_bytes_per_second=rng.uniform(0, 200e6) if replicating else 0.0,
        current_job_id=None,
        apply_lease_owner="",
        apply_lease_until=None,
    )
    items.append(item)
    for disk_index in range(rng.choice([1, 1, 2, 2, 3])):
        size = rng.choice([32, 64, 128, 256, 512, 1024]) << 30
        disks.append(
            clone(
                template_disk,
                id=None,
                item_id=item.pk,
                disk_id=f"disk{disk_index}",
                name=f"{name}-disk{disk_index}",
                is_os_disk=disk_index == 0,
                size_bytes=size,
                included=disk_index == 0 or rng.random() < 0.9,
                scanned_bytes=size if has_point else int(size * rng.random()) if replicating else 0,
                transferred_bytes=int(size * rng.uniform(0.05, 0.6)) if replicating else 0,
                changed_bytes=int(size * rng.uniform(0.05, 0.6)) if replicating else 0,
                resync_required=rng.random() < 0.01,
            )
        )
    if rng.random() < 0.01:
        jobs.append(
            Job(
                subscription=project.subscription,
                resource_group_name=project.resource_group.name,
                scenario_name="MigrationStartResync",
                friendly_name="Resynchronize",
                state=State.IN_PROGRESS,
                target_object_id=str(item.pk),
                target_object_name=name,
                target_instance_type="ProtectionEntity",
                input={"item_id": str(item.pk)},
                created_by=admin,
                started_at=now,
            )
        )
        item.current_job_id = jobs[-1].pk

with transaction.atomic():
    DiscoveredServer.objects.bulk_create(servers, batch_size=2000)
    Job.objects.bulk_create(jobs, batch_size=2000)
    MigrationItem.objects.bulk_create(items, batch_size=2000)
    ProtectedDisk.objects.bulk_create(disks, batch_size=2000)
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
print(json.dumps({"items": MigrationItem.objects.filter(project=project).count(), "disks": len(disks) + 1}))
