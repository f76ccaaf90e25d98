"""What the events app's watcher reads of replication (jobs.event_sources): each replicating server's
migration state and health, in the resource groups somebody subscribed to. Health comes from
replication.health's SQL form, so a scan reads narrow rows; only servers whose health is not Normal
have their errors computed, for the event's data. The SQL is the monitor's, compiled once per process
(replication.monitoring_health): the watcher scans every subscribed project each round."""

from __future__ import annotations

from hub import clock
from jobs.event_sources import ObservedState
from projects.models import MigrateProject, MigrationResource
from replication.arm import CONTAINER, FABRIC
from replication.health import HEALTH_BY_RANK
from replication.models import MigrationItem
from replication.monitoring_health import HealthRank
from replication.status import item_status

HEALTHY = ("Normal", "None")


def replicating_servers(scopes: set[tuple[str, str]]):
    now = clock.now()
    subscriptions = {subscription_id for subscription_id, _ in scopes}
    projects = MigrateProject.objects.filter(resource_group__subscription_id__in=subscriptions).select_related(
        "resource_group"
    )
    for project in projects:
        group = project.resource_group
        if (str(group.subscription_id), group.name.lower()) not in scopes:
            continue
        vault = project.migration_resources.filter(kind=MigrationResource.Kind.RECOVERY_SERVICES_VAULT).first()
        base = vault.arm_id if vault else project.arm_id
        container = f"{base}/replicationFabrics/{FABRIC}/replicationProtectionContainers/{CONTAINER}"
        items = (
            MigrationItem.objects.filter(project=project, replication_stopped_at__isnull=True)
            .annotate(health_rank=HealthRank(now, project.policies.all()))
            .select_related("server")
        )
        for item in items:
            health = HEALTH_BY_RANK[item.health_rank]
            data = {
                "machineName": item.server.name,
                "targetVmName": item.target_vm_name,
                "migrateProjectId": project.arm_id,
                "testMigrateState": item.test_migrate_state,
            }
            if health not in HEALTHY:
                status = item_status(item, now)
                data["healthErrors"] = [
                    {key: error.get(key) for key in ("errorCode", "errorLevel", "summaryMessage", "recommendedAction")}
                    for error in status.health_errors
                ]
            yield ObservedState(
                subscription_id=str(group.subscription_id),
                resource_group_name=group.name,
                subject=f"{container}/replicationMigrationItems/{item.arm_name}",
                created_at=item.created_at,
                values={"migrationState": item.migration_state, "health": health},
                data=data,
            )
