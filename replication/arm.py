"""ARM reads of Azure Site Recovery under the project's vault, as SiteRecoveryManagementClient calls
them: the fabric (the on-premises site, present once an appliance registered), its protection
container, the recovery services providers (the appliances) and the protectable items (the
discovered servers)."""

from __future__ import annotations

from functools import cached_property

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub import clock
from hub.arm.errors import ArmError, found
from hub.arm.routes import RG, SUB, at_both_scopes
from hub.arm.views import arm_list, arm_time
from hub.ids import parse_uuid
from projects import access
from projects.arm.scopes import ScopeView
from projects.models import MigrationResource
from projects.regions import REGIONS_BY_NAME, normalize_location
from replication import arm_responses as R
from replication import sizing
from replication.health import ApplianceLoad, appliance_health, appliance_health_errors, appliance_loads
from replication.models import Appliance, DiscoveredServer, MigrationState

FABRIC = "migrate-fabric"
CONTAINER = "migrate-container"
VAULT_TYPE = "Microsoft.RecoveryServices/vaults"


class Vault:
    """A visible vault and the paths below it."""

    def __init__(self, resource: MigrationResource):
        self.resource, self.project = resource, resource.project
        self.id = resource.arm_id
        self.fabric_id = f"{self.id}/replicationFabrics/{FABRIC}"
        self.container_id = f"{self.fabric_id}/replicationProtectionContainers/{CONTAINER}"

    @cached_property
    def appliances(self) -> list[Appliance]:
        """The project's appliances (the fabric's providers), read once per request."""
        return list(self.project.appliances.all())

    def provider_id(self, appliance: Appliance) -> str:
        return f"{self.fabric_id}/replicationRecoveryServicesProviders/{appliance.pk}"


def _health_errors(appliance: Appliance, now, load: ApplianceLoad) -> list[dict]:
    """The appliance's heartbeat error, if any, then its capacity rules' (replication.health)."""
    health = appliance.health(now)
    capacity = appliance_health_errors(appliance, load, now)
    if health == Appliance.Health.NORMAL:
        return capacity
    return [
        {
            "errorCode": "78012" if health == Appliance.Health.WARNING else "78013",
            "errorLevel": health,
            "summaryMessage": f"No heartbeat from appliance {appliance.name}",
            "errorMessage": f"The appliance {appliance.name} has not sent a heartbeat since "
            f"{appliance.last_heartbeat_at:%Y-%m-%d %H:%M} UTC.",
            "possibleCauses": "The appliance is stopped, or it cannot reach the hub.",
            "recommendedAction": "Start the appliance (./run in its folder) and check it can reach the hub.",
        }
    ] + capacity


def provider_body(vault: Vault, appliance: Appliance, now) -> dict:
    load = appliance_loads([appliance])[appliance.pk]
    return {
        "id": vault.provider_id(appliance),
        "name": str(appliance.pk),
        "type": f"{VAULT_TYPE}/replicationFabrics/replicationRecoveryServicesProviders",
        "properties": {
            "fabricType": "InMageRcm",
            "friendlyName": appliance.name,
            "fabricFriendlyName": vault.project.name,
            "providerVersion": appliance.version,
            "serverVersion": appliance.version,
            "providerVersionState": "Latest",
            "lastHeartBeat": arm_time(appliance.last_heartbeat_at),
            "connectionStatus": "Connected" if appliance.health(now) == Appliance.Health.NORMAL else "NotConnected",
            "protectedItemCount": load.machines,
            "allowedScenarios": [],
            "healthErrorDetails": _health_errors(appliance, now, load),
            "draIdentifier": str(appliance.pk),
            "machineId": str(appliance.pk),
            "machineName": appliance.fqdn or appliance.name,
        },
    }


def fabric_body(vault: Vault, appliances: list[Appliance], now) -> dict:
    loads = appliance_loads(appliances)
    healths = [appliance_health(a, now, loads[a.pk]) for a in appliances]
    worst = next((h for h in ("Critical", "Warning") if h in healths), "Normal")
    return {
        "id": vault.fabric_id,
        "name": FABRIC,
        "type": f"{VAULT_TYPE}/replicationFabrics",
        "location": vault.resource.location,
        "properties": {
            "friendlyName": f"{vault.project.name} (on-premises)",
            "internalIdentifier": str(vault.project.pk),
            "bcdrState": "Valid",
            "health": worst,
            "healthErrorDetails": [e for a in appliances for e in _health_errors(a, now, loads[a.pk])],
            "customDetails": {
                "instanceType": "InMageRcm",
                "physicalSiteId": str(vault.project.pk),
                "processServers": [
                    {
                        "id": str(a.pk),
                        "name": a.name,
                        "fqdn": a.fqdn,
                        "ipAddresses": a.ip_addresses,
                        "version": a.version,
                        "lastHeartbeatUtc": arm_time(a.last_heartbeat_at),
                        "health": h,
                        "protectedItemCount": loads[a.pk].machines,
                    }
                    for a, h in zip(appliances, healths, strict=True)
                ],
                "rcmProxies": [],
                "pushInstallers": [],
                "replicationAgents": [],
            },
        },
    }


def container_body(vault: Vault) -> dict:
    return {
        "id": vault.container_id,
        "name": CONTAINER,
        "type": f"{VAULT_TYPE}/replicationFabrics/replicationProtectionContainers",
        "location": vault.resource.location,
        "properties": {
            "friendlyName": f"{vault.project.name} servers",
            "fabricFriendlyName": f"{vault.project.name} (on-premises)",
            "fabricType": "InMageRcm",
            "protectedItemCount": 0,
            "pairingStatus": "Paired",
            "role": "Primary",
            "fabricSpecificDetails": {"instanceType": "InMageRcm"},
        },
    }


def _replicating_item_id(vault: Vault, server: DiscoveredServer) -> str | None:
    """The migration item of a server that replicates (its replication not stopped), as ASR's
    replicationProtectedItemId names it; None for a server that does not."""
    item = getattr(server, "migration_item", None)
    if item is None or item.migration_state == MigrationState.ENABLE_MIGRATION_FAILED or item.replication_stopped_at:
        return None
    return f"{vault.container_id}/replicationMigrationItems/{item.arm_name}"


def protectable_item_body(vault: Vault, server: DiscoveredServer) -> dict:
    protected_item_id = _replicating_item_id(vault, server)
    return {
        "id": f"{vault.container_id}/replicationProtectableItems/{server.pk}",
        "name": str(server.pk),
        "type": f"{VAULT_TYPE}/replicationFabrics/replicationProtectionContainers/replicationProtectableItems",
        "properties": {
            "friendlyName": server.name,
            "protectionStatus": "Protected" if protected_item_id else "Unprotected",
            "replicationProtectedItemId": protected_item_id,
            "recoveryServicesProviderId": vault.provider_id(server.appliance),
            "protectionReadinessErrors": [],
            "supportedReplicationProviders": ["InMageRcm"],
            "customDetails": {
                "instanceType": "PhysicalMachine",
                "machineId": server.machine_id,
                "osType": server.os_type,
                "osName": f"{server.os_name} {server.os_version}".strip(),
                "processorCoreCount": server.cores,
                "allocatedMemoryInMB": server.memory_mb,
                "firmwareType": server.firmware,
                "ipAddresses": server.ip_addresses,
                "disks": server.disks,
                "agentVersion": server.agent_version,
                "agentConnected": server.agent_connected,
            },
        },
    }


class VaultView(ScopeView):
    """Base of every handler below a vault. Before the handler runs it resolves the parents the URL
    names, in ARM's order: the subscription and resource group (ScopeView), the caller's right for
    this method at the group (`permissions`, as ARM checks RBAC before the provider sees the request),
    then the vault (404 unless the caller may see it), the fabric and the protection container (404
    unless they exist). Handlers read `self.vault` and `self.appliances` (the fabric's) and take only
    their own resource's name."""

    def resolve_parents(self, request, vault_name, fabric_name=None, container_name=None, **own):
        resource = access.get_migration_resource(
            request.user, self.group, MigrationResource.Kind.RECOVERY_SERVICES_VAULT, vault_name
        )
        if resource.project_id is None:
            raise ArmError(
                404,
                "VaultNotInProject",
                f"Vault {resource.name} is no Azure Migrate project's vault yet: name it in the project's "
                "Servers-Migration-ServerMigration solution (PATCH properties.details.extendedDetails.vaultId, with "
                "keyVaultId and storageAccountId) to finish Create resources.",
            )
        self.vault = Vault(resource)
        if fabric_name is None:
            return
        self.appliances = self.vault.appliances
        if fabric_name.lower() != FABRIC or not self.appliances:
            raise ArmError(
                404,
                "FabricNotFound",
                f"Fabric '{fabric_name}' was not found in vault {resource.name}: a fabric exists once a replication "
                "appliance has registered.",
            )
        if container_name is not None and container_name.lower() != CONTAINER:
            raise ArmError(
                404, "ProtectionContainerNotFound", f"Protection container '{container_name}' was not found."
            )


class FabricListView(VaultView):
    @extend_schema(operation_id="ReplicationFabrics_List", responses={200: R.FABRIC_LIST})
    def get(self, request, **parents):
        appliances = self.vault.appliances
        return arm_list([fabric_body(self.vault, appliances, clock.now())] if appliances else [])


class FabricView(VaultView):
    @extend_schema(operation_id="ReplicationFabrics_Get", responses={200: R.FABRIC})
    def get(self, request, **parents):
        return Response(fabric_body(self.vault, self.appliances, clock.now()))


class ContainerListView(VaultView):
    @extend_schema(operation_id="ReplicationProtectionContainers_List", responses={200: R.PROTECTION_CONTAINER_LIST})
    def get(self, request, **parents):
        return arm_list([container_body(self.vault)] if self.vault.appliances else [])


class ContainerView(VaultView):
    @extend_schema(operation_id="ReplicationProtectionContainers_Get", responses={200: R.PROTECTION_CONTAINER})
    def get(self, request, **parents):
        return Response(container_body(self.vault))


class ProviderListView(VaultView):
    @extend_schema(
        operation_id="ReplicationRecoveryServicesProviders_List", responses={200: R.RECOVERY_SERVICES_PROVIDER_LIST}
    )
    def get(self, request, **parents):
        now = clock.now()
        return arm_list([provider_body(self.vault, appliance, now) for appliance in self.vault.appliances])


class ProviderView(VaultView):
    @extend_schema(
        operation_id="ReplicationRecoveryServicesProviders_Get", responses={200: R.RECOVERY_SERVICES_PROVIDER}
    )
    def get(self, request, provider_name, **parents):
        appliance = next((a for a in self.appliances if str(a.pk) == provider_name.lower()), None)
        found(appliance, "ProviderNotFound", f"Recovery services provider '{provider_name}' was not found.")
        return Response(provider_body(self.vault, appliance, clock.now()))


def discovered_servers(vault: Vault):
    """The servers discovered in the vault's project, as protectable items list them."""
    return vault.project.discovered_servers.discovered(clock.now()).select_related("appliance", "migration_item")


class ProtectableItemListView(VaultView):
    @extend_schema(operation_id="ReplicationProtectableItems_List", responses={200: R.PROTECTABLE_ITEM_LIST})
    def get(self, request, **parents):
        return arm_list([protectable_item_body(self.vault, server) for server in discovered_servers(self.vault)])


class ProtectableItemView(VaultView):
    @extend_schema(operation_id="ReplicationProtectableItems_Get", responses={200: R.PROTECTABLE_ITEM})
    def get(self, request, item_name, **parents):
        server = discovered_servers(self.vault).filter(pk=parse_uuid(item_name)).first()
        found(server, "ProtectableItemNotFound", f"Protectable item '{item_name}' was not found.")
        return Response(protectable_item_body(self.vault, server))


class VmSizeListView(ScopeView):
    """The VM sizes Replicate chooses from (Compute > VM size), per region, in Compute's shape."""

    @extend_schema(operation_id="VirtualMachineSizes_List", responses={200: R.VM_SIZE_LIST})
    def get(self, request, location, **parents):
        if normalize_location(location) not in REGIONS_BY_NAME:
            raise ArmError(
                404, "NoRegisteredProviderFound", f"The location '{location}' is not an Azure region this hub knows."
            )
        return arm_list(
            [
                {
                    "name": size.name,
                    "numberOfCores": size.cores,
                    "memoryInMB": int(size.memory_gib * 1024),
                    "maxDataDiskCount": size.max_data_disks,
                    "osDiskSizeInMB": 1047552,
                    "resourceDiskSizeInMB": size.cores * 8192,
                }
                for size in sizing.SIZES
            ]
        )


V = f"{RG}/providers/microsoft.recoveryservices/vaults/<str:vault_name>"
F = f"{V}/replicationfabrics/<str:fabric_name>"
C = f"{F}/replicationprotectioncontainers/<str:container_name>"


urlpatterns = [
    path(f"{SUB}/providers/microsoft.compute/locations/<str:location>/vmsizes", VmSizeListView.as_view()),
    path(f"{V}/replicationfabrics", FabricListView.as_view()),
    path(F, FabricView.as_view()),
    # ASR serves these lists for the whole vault and for one fabric.
    *at_both_scopes("replicationprotectioncontainers", ContainerListView, scopes=(V, F)),
    path(C, ContainerView.as_view()),
    *at_both_scopes("replicationrecoveryservicesproviders", ProviderListView, scopes=(V, F)),
    path(f"{F}/replicationrecoveryservicesproviders/<str:provider_name>", ProviderView.as_view()),
    path(f"{C}/replicationprotectableitems", ProtectableItemListView.as_view()),
    path(f"{C}/replicationprotectableitems/<str:item_name>", ProtectableItemView.as_view()),
]
