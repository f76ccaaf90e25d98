"""The scopes replication's resources give faults (registered from ReplicationConfig.ready): each
appliance, each process server and each server, named as the vault's fabric names them in the ARM API
(the same ids the heartbeat's fault wire matches):
- an appliance: `{vault}/replicationFabrics/migrate-fabric/replicationRecoveryServicesProviders/{id}`;
- a process server (an appliance's own or a scale-out one): `{fabric}/processServers/{id}`;
- a server: `{fabric}/replicationProtectionContainers/migrate-container/replicationProtectableItems/{id}`."""

from __future__ import annotations

from faults.kinds import ScopeKind
from faults.scopes import ScopeChoice, ScopeQuery
from projects.models import MigrationResource
from replication.models import Appliance, DiscoveredServer, MigrationItem

FABRIC, CONTAINER = "migrate-fabric", "migrate-container"


def _fabrics(tenant) -> dict:
    """The fabric id of each project of the tenant that has a vault, by project id."""
    vaults = MigrationResource.objects.filter(
        kind=MigrationResource.Kind.RECOVERY_SERVICES_VAULT,
        project__isnull=False,
        resource_group__subscription__tenant=tenant,
    ).select_related("resource_group__subscription")
    return {vault.project_id: f"{vault.arm_id}/replicationFabrics/{FABRIC}" for vault in vaults}


def replication_scopes(tenant, query: ScopeQuery = ScopeQuery()):  # noqa: B008 (frozen)
    fabrics = _fabrics(tenant)
    if not fabrics:
        return
    # Narrowed by the query (name or project name, or the id's primary key): a hub may hold 10,000.
    appliances = Appliance.objects.filter(project_id__in=fabrics).select_related("project")
    kinds = [ScopeKind.APPLIANCE, ScopeKind.PROCESS_SERVER]
    for appliance in query.narrow(appliances, kinds, name_fields=("name", "project__name")):
        fabric = fabrics[appliance.project_id]
        if appliance.scale_out_of_id is None:
            yield ScopeChoice(
                ScopeKind.APPLIANCE,
                f"{fabric}/replicationRecoveryServicesProviders/{appliance.pk}",
                f"{appliance.name} (appliance, {appliance.project.name})",
                appliance.name,
            )
        yield ScopeChoice(
            ScopeKind.PROCESS_SERVER,
            f"{fabric}/processServers/{appliance.pk}",
            f"{appliance.name} (process server, {appliance.project.name})",
            appliance.name,
        )
    servers = (
        DiscoveredServer.objects.filter(project_id__in=fabrics)
        .select_related("project")
        .only("pk", "name", "project_id", "project__name")
    )
    for server in query.narrow(servers, [ScopeKind.SERVER], name_fields=("name", "project__name")):
        yield ScopeChoice(
            ScopeKind.SERVER,
            f"{fabrics[server.project_id]}/replicationProtectionContainers/{CONTAINER}/replicationProtectableItems/"
            f"{server.pk}",
            f"{server.name} (server, {server.project.name})",
            server.name,
        )


# Scopes, as the faults app stores them (lowercased ARM ids), built from ids already loaded.


def _group_resource_scope(group, resource_type: str, name: str) -> str:
    group_id = f"/subscriptions/{group.subscription_id}/resourcegroups/{group.name}"
    return f"{group_id}/providers/{resource_type}/{name}".lower()


def project_scope(project) -> str:
    return _group_resource_scope(project.resource_group, "microsoft.migrate/migrateprojects", project.name)


def region_scope(subscription_id, region: str) -> str:
    return f"/subscriptions/{subscription_id}/locations/{region}".lower()


def network_scope(network) -> str:
    return _group_resource_scope(network.resource_group, "microsoft.network/virtualnetworks", network.name)


def item_region_scope(item: MigrationItem) -> str:
    group = item.target_resource_group
    subscription_id = group.subscription_id if group is not None else item.project.resource_group.subscription_id
    return region_scope(subscription_id, item.project.target_region)
