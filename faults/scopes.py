"""Where a fault may go, per tenant: the domain apps that own the resources (projects, replication)
register a provider of scope choices from their AppConfig.ready, so this app lists appliances,
servers, projects and networks without importing the apps above it.

A provider takes a tenant and a ScopeQuery and gives ScopeChoice rows: the scope kind
(kinds.ScopeKind), the resource id (as the fault stores it: lowercased), the resource's name and a
label a person recognises. A hub may hold 10,000 servers, so a provider narrows its queries by the
query (`ScopeQuery.narrow` does it for a model with a name) instead of listing everything; this module
checks each row against the query again, so a provider that narrows less is slower, never wrong."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Q
from django.db.models.functions import Lower

from faults.kinds import ScopeKind


@dataclass(frozen=True)
class ScopeChoice:
    kind: str
    scope: str
    label: str
    name: str = ""  # the resource's own name, as the Faults tab shows it above the id

    def __post_init__(self):
        object.__setattr__(self, "scope", self.scope.lower())
        if not self.name:
            object.__setattr__(self, "name", self.label)


# Rows a search gives per scope kind: enough to pick from, bounded whatever the hub's size.
MAX_RESULTS_PER_KIND = 50
MAX_SEARCH_LENGTH = 100
MAX_ID_LENGTH = 400  # as a fault's scope


@dataclass(frozen=True)
class ScopeQuery:
    """Which scopes are wanted: of these kinds (None: all), whose label contains `text` (lowercased),
    or with exactly these ids (None: any); at most `limit` per kind (None: no bound)."""

    kinds: frozenset[str] | None = None
    text: str = ""
    ids: frozenset[str] | None = None
    limit: int | None = None

    def wants_any(self, kinds: Iterable[str]) -> bool:
        return self.kinds is None or any(kind in self.kinds for kind in kinds)

    def matches(self, choice: ScopeChoice) -> bool:
        return (
            (self.kinds is None or choice.kind in self.kinds)
            and (self.ids is None or choice.scope in self.ids)
            and (not self.text or self.text in choice.label.lower() or self.text in choice.scope)
        )

    def id_tails(self) -> list[str]:
        """The last segment of each wanted id: the primary key in the ids replication gives."""
        return [scope.rstrip("/").rsplit("/", 1)[-1] for scope in self.ids or ()]

    def narrow(self, rows, kinds: Iterable[str], *, name_fields: Iterable[str] = ("name",), id_tail: str = "pk"):
        """A queryset of resources (named by `name_fields[0]`) cut down to what this query can match:
        none when it wants none of `kinds`; by the ids' last segment (the field `id_tail`: the primary
        key, or the name for ids built from names) when it asks for ids; by name otherwise; ordered by
        name and bounded (one more than the limit, so the caller can say there are more)."""
        if not self.wants_any(kinds):
            return rows.none()
        name_fields = list(name_fields)
        if self.ids is not None:
            tails = self.id_tails()
            if id_tail == "pk":
                rows = rows.filter(pk__in=[tail for tail in tails if _looks_like_uuid(tail)])
            else:
                match = Q(pk__in=[])
                for tail in tails:
                    match |= Q(**{f"{id_tail}__iexact": tail})
                rows = rows.filter(match)
        elif self.text:
            match = Q()
            for name in name_fields:
                relation, _, field = name.partition("__")
                if field:
                    # A related row's name (a server's project): its few matches are read first, so the
                    # rows' own name match stays a plain condition on their table, which an index serves
                    # (ORed with a join's column or a subquery, PostgreSQL scanned every row).
                    related = rows.model._meta.get_field(relation).related_model.objects
                    found = related.filter(**{f"{field}__icontains": self.text}).values_list("pk", flat=True)
                    match |= Q(**{f"{relation}__in": list(found)})
                else:
                    match |= Q(**{f"{name}__icontains": self.text})
            rows = rows.filter(match)
        rows = rows.order_by(Lower(name_fields[0]), "pk")
        return rows[: self.limit + 1] if self.limit is not None else rows


def _looks_like_uuid(text: str) -> bool:
    return len(text) == 36 and all(part for part in text.split("-")) and text.count("-") == 4


ScopeProvider = Callable[[object, ScopeQuery], Iterable[ScopeChoice]]
_providers: dict[str, ScopeProvider] = {}


def register_scope_provider(name: str, provider: ScopeProvider) -> None:
    """Called from an AppConfig.ready; registering the same name again replaces it (autoreload)."""
    _providers[name] = provider


@dataclass
class SearchResult:
    groups: dict[str, list[ScopeChoice]]  # by scope kind, in ScopeKind.LABELS order, sorted by label
    more: set[str]  # the kinds that had more rows than the limit

    def __bool__(self) -> bool:
        return any(self.groups.values())


def find(tenant, query: ScopeQuery) -> SearchResult:
    grouped: dict[str, list[ScopeChoice]] = {kind: [] for kind in ScopeKind.LABELS}
    seen: set[tuple[str, str]] = set()
    for provider in _providers.values():
        for choice in provider(tenant, query):
            if (choice.kind, choice.scope) in seen or choice.kind not in grouped or not query.matches(choice):
                continue
            seen.add((choice.kind, choice.scope))
            grouped[choice.kind].append(choice)
    more: set[str] = set()
    for kind, rows in grouped.items():
        rows.sort(key=lambda row: (row.label.lower(), row.scope))
        if query.limit is not None and len(rows) > query.limit:
            more.add(kind)
            del rows[query.limit :]
    return SearchResult(grouped, more)


def search(tenant, text: str = "", kinds: Iterable[str] | None = None, limit: int = MAX_RESULTS_PER_KIND):
    """The tenant's scopes of these kinds whose name (or id, for text that starts with '/') contains
    `text`; at most `limit` per kind. Raises ValueError with a message for a person on bad text."""
    text = (text or "").strip().lower()
    if len(text) > (MAX_ID_LENGTH if text.startswith("/") else MAX_SEARCH_LENGTH):
        raise ValueError(
            f"Search for at most {MAX_SEARCH_LENGTH} characters of a name, or a resource id of at most {MAX_ID_LENGTH}."
        )
    if any(ord(character) < 32 for character in text):
        raise ValueError("Search for a name or a resource id: control characters are not part of either.")
    wanted = frozenset(kinds) if kinds is not None else None
    if text.startswith("/"):
        return find(tenant, ScopeQuery(kinds=wanted, ids=frozenset([text.rstrip("/")]), limit=limit))
    return find(tenant, ScopeQuery(kinds=wanted, text=text, limit=limit))


def scope_choices(tenant) -> dict[str, list[ScopeChoice]]:
    """The tenant's first scopes of every kind (the search with no text)."""
    return search(tenant).groups


def describe(tenant, scopes: Iterable[str]) -> dict[str, ScopeChoice]:
    """The tenant's resource behind each of these ids (lowercased), for showing a fault's scope by
    name; an id whose resource is gone (or never was the tenant's) is left out."""
    wanted = frozenset(scope.lower() for scope in scopes if scope)
    if not wanted:
        return {}
    found = find(tenant, ScopeQuery(ids=wanted))
    return {choice.scope: choice for rows in found.groups.values() for choice in rows}


def scope_of(tenant, scope: str, allowed_kinds: Iterable[str] | None = None) -> ScopeChoice | None:
    """The tenant's scope with this id (any casing), of one of `allowed_kinds` when given; None when the
    tenant has no such resource (another tenant's resources are as unknown as ones that do not exist)."""
    wanted = (scope or "").strip().lower()
    if not wanted:
        return None
    kinds = frozenset(allowed_kinds) if allowed_kinds is not None else None
    for rows in find(tenant, ScopeQuery(kinds=kinds, ids=frozenset([wanted]))).groups.values():
        if rows:
            return rows[0]
    return None
