"""The scopes the projects app's resources give faults: Migrate projects, target subscriptions and
regions, and target virtual networks. Registered by FaultsConfig.ready (projects is a layer below
faults and may not name it; replication registers its own, replication/fault_scopes.py)."""

from __future__ import annotations

from faults.kinds import ScopeKind
from faults.scopes import ScopeChoice
from projects.models import MigrateProject, VirtualNetwork


def region_scope(subscription_id, region: str) -> str:
    """A target subscription and region, as Compute's quota (usages) names it."""
    return f"/subscriptions/{subscription_id}/locations/{region}".lower()


def project_scopes(tenant):
    projects = MigrateProject.objects.filter(resource_group__subscription__tenant=tenant).select_related(
        "resource_group__subscription"
    )
    regions: dict[str, str] = {}
    for project in projects:
        yield ScopeChoice(ScopeKind.PROJECT, project.arm_id, f"{project.name} (project, {project.resource_group.name})")
        if project.target_region:
            subscription = project.resource_group.subscription
            regions[region_scope(subscription.pk, project.target_region)] = (
                f"{subscription.display_name} / {project.target_region}"
            )
    networks = VirtualNetwork.objects.filter(resource_group__subscription__tenant=tenant).select_related(
        "resource_group__subscription"
    )
    for network in networks:
        subscription = network.resource_group.subscription
        regions.setdefault(
            region_scope(subscription.pk, network.location), f"{subscription.display_name} / {network.location}"
        )
        yield ScopeChoice(
            ScopeKind.VIRTUAL_NETWORK,
            network.arm_id,
            f"{network.name} ({network.resource_group.name}, {network.location})",
        )
    for scope, label in regions.items():
        yield ScopeChoice(ScopeKind.TARGET_REGION, scope, label)
