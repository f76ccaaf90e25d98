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


# Projects and networks: each a fault scope by its ARM id, labelled for the picker. Their ids end with
# their names, not a primary key.
_NAMED_SCOPES = (
    (MigrateProject, ScopeKind.PROJECT, lambda project: f"{project.name} (project, {project.resource_group.name})"),
    (VirtualNetwork, ScopeKind.VIRTUAL_NETWORK, lambda net: f"{net.name} ({net.resource_group.name}, {net.location})"),
)


def project_scopes(tenant, query: ScopeQuery = ScopeQuery()):  # noqa: B008 (frozen, so shared safely)
    for model, kind, label in _NAMED_SCOPES:
        rows = model.objects.filter(resource_group__subscription__tenant=tenant).select_related(
            "resource_group__subscription"
        )
        for row in query.narrow(rows, [kind], id_tail="name"):
            yield ScopeChoice(kind, row.arm_id, label(row), row.name)
    if query.wants_any([ScopeKind.TARGET_REGION]):
        yield from _regions(tenant)
