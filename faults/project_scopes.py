"""The scopes the projects app's resources give faults: Migrate projects, target subscriptions and
regions, and target virtual networks. Registered by FaultsConfig.ready (projects is a layer below
faults and may not name it; replication registers its own, replication/fault_scopes.py)."""

from __future__ import annotations

from faults.kinds import ScopeKind
from faults.scopes import ScopeChoice, ScopeQuery
from projects.models import MigrateProject, VirtualNetwork


def region_scope(subscription_id, region: str) -> str:
    """A target subscription and region, as Compute's quota (usages) names it."""
    return f"/subscriptions/{subscription_id}/locations/{region}".lower()


def _regions(tenant):
    """Each subscription and region the tenant's projects target or its networks sit in (a handful per
    tenant: read whole, the query's text is matched by faults.scopes)."""
    regions: dict[str, str] = {}
    targeted = (
        MigrateProject.objects.filter(resource_group__subscription__tenant=tenant)
        .exclude(target_region="")
        .values_list("resource_group__subscription_id", "resource_group__subscription__display_name", "target_region")
    )
    located = VirtualNetwork.objects.filter(resource_group__subscription__tenant=tenant).values_list(
        "resource_group__subscription_id", "resource_group__subscription__display_name", "location"
    )
    for subscription_id, subscription_name, region in [*targeted, *located]:
        if region:
            regions.setdefault(region_scope(subscription_id, region), f"{subscription_name} / {region}")
    for scope, label in regions.items():
        yield ScopeChoice(ScopeKind.TARGET_REGION, scope, label)


def project_scopes(tenant, query: ScopeQuery = ScopeQuery()):  # noqa: B008 (frozen, so shared safely)
    # Projects' and networks' ids end with their names, not a primary key.
    projects = MigrateProject.objects.filter(resource_group__subscription__tenant=tenant).select_related(
        "resource_group__subscription"
    )
    for project in query.narrow(projects, [ScopeKind.PROJECT], id_tail="name"):
        yield ScopeChoice(
            ScopeKind.PROJECT,
            project.arm_id,
            f"{project.name} (project, {project.resource_group.name})",
            project.name,
        )
    networks = VirtualNetwork.objects.filter(resource_group__subscription__tenant=tenant).select_related(
        "resource_group__subscription"
    )
    for network in query.narrow(networks, [ScopeKind.VIRTUAL_NETWORK], id_tail="name"):
        yield ScopeChoice(
            ScopeKind.VIRTUAL_NETWORK,
            network.arm_id,
            f"{network.name} ({network.resource_group.name}, {network.location})",
            network.name,
        )
    if query.wants_any([ScopeKind.TARGET_REGION]):
        yield from _regions(tenant)
