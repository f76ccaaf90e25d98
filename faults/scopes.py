"""Where a fault may go, per tenant: the domain apps that own the resources (projects, replication)
register a provider of scope choices from their AppConfig.ready, so this app lists appliances,
servers, projects and networks without importing the apps above it.

A provider takes a tenant and gives ScopeChoice rows: the scope kind (kinds.ScopeKind), the resource
id (as the fault stores it: lowercased) and a label a person recognises."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from faults.kinds import ScopeKind


@dataclass(frozen=True)
class ScopeChoice:
    kind: str
    scope: str
    label: str

    def __post_init__(self):
        object.__setattr__(self, "scope", self.scope.lower())


ScopeProvider = Callable[[object], Iterable[ScopeChoice]]
_providers: dict[str, ScopeProvider] = {}

# A tenant with more resources than this gets the first ones offered per kind; the API still takes any
# of its scopes by id (scope_of looks each one up in full).
MAX_CHOICES_PER_KIND = 500


def register_scope_provider(name: str, provider: ScopeProvider) -> None:
    """Called from an AppConfig.ready; registering the same name again replaces it (autoreload)."""
    _providers[name] = provider


def scope_choices(tenant) -> dict[str, list[ScopeChoice]]:
    """Every scope of the tenant, by scope kind, in ScopeKind.LABELS order, each list sorted by label."""
    grouped: dict[str, list[ScopeChoice]] = {kind: [] for kind in ScopeKind.LABELS}
    seen: set[tuple[str, str]] = set()
    for provider in _providers.values():
        for choice in provider(tenant):
            if (choice.kind, choice.scope) in seen or choice.kind not in grouped:
                continue
            seen.add((choice.kind, choice.scope))
            grouped[choice.kind].append(choice)
    return {
        kind: sorted(rows, key=lambda row: row.label.lower())[:MAX_CHOICES_PER_KIND] for kind, rows in grouped.items()
    }


def scope_of(tenant, scope: str, allowed_kinds: Iterable[str] | None = None) -> ScopeChoice | None:
    """The tenant's scope with this id (any casing), of one of `allowed_kinds` when given; None when the
    tenant has no such resource (another tenant's resources are as unknown as ones that do not exist)."""
    wanted = (scope or "").strip().lower()
    allowed = set(allowed_kinds) if allowed_kinds is not None else None
    for provider in _providers.values():
        for choice in provider(tenant):
            if choice.scope == wanted and (allowed is None or choice.kind in allowed):
                return choice
    return None
