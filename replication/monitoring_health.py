"""Health's SQL expression (replication.health.health_rank) compiled once per process, not per request.

Replicating machines sorts and filters by health, and the overview counts it, with a CASE built from
every rule's condition (about 60 lookups through the server and the appliance). Building, resolving and
compiling it cost about 5 ms of CPU per request, a sixth of such a page's. The SQL only changes with
the project's policies, the rules and the faults in force; the moment the request is asked at only
moves the moments the SQL compares with. So the CASE is compiled once for a key, at two made-up
moments: every parameter must then be either the same in both or a moment that moved by exactly the
span between them (an offset from the moment asked about), or the CASE is not cached. The moments fall
on no round second and lie an odd span apart, so a moment a rule truncated (to a day, an hour, a
minute) would move by another span and leave the CASE uncached rather than replayed wrongly. A request then
joins the same tables and gives the cached SQL with its moments put back: the rules stay defined once,
in replication.health, and this only replays what their SQL compiles to.

Not cached, and compiled as before (health_rank itself): while any injected fault is in force (its
condition joins more tables and names scopes), or in a query where the tables it needs would get other
aliases than the plain table names (the cached SQL names them so)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connections
from django.db.models import Expression, IntegerField
from django.db.models.sql.constants import INNER
from django.db.models.sql.datastructures import Join

from faults import services as faults
from replication import health
from replication.models import MigrationItem

_FIRST_MOMENT = datetime(2001, 3, 7, 5, 41, 13, 417_219, tzinfo=UTC)
_MOMENTS = (_FIRST_MOMENT, _FIRST_MOMENT + timedelta(days=1, hours=3, minutes=7, seconds=11, microseconds=283_051))


@dataclass(frozen=True)
class _Offset:
    """A parameter that is the moment asked about plus this."""

    delta: timedelta


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple  # each as it is, or an _Offset from the moment
    joins: tuple  # the Joins from the item's table that the SQL needs, in order


_compiled: dict = {}  # (database alias, rules, policies) -> _Compiled, or None when it cannot be cached


def _compile_at(moment, policies, using):
    query = MigrationItem.objects.all().query
    base = query.get_initial_alias()
    before = set(query.alias_map)
    resolved = health.health_rank(moment, policies).resolve_expression(query, allow_joins=True)
    sql, params = resolved.as_sql(query.get_compiler(using=using), connections[using])
    # A join no part of the SQL uses (refcount 0: a foreign key compared by its id) is left out of FROM.
    joins = tuple(
        join for alias, join in query.alias_map.items() if alias not in before and query.alias_refcount[alias]
    )
    plain = all(
        join.parent_alias == base
        and join.table_alias == join.table_name
        and join.join_type == INNER
        and join.filtered_relation is None
        for join in joins
    )
    return (sql, tuple(params), joins) if plain and base == MigrationItem._meta.db_table else None


def _compile(policies, using) -> _Compiled | None:
    first, second = (_compile_at(moment, policies, using) for moment in _MOMENTS)
    if first is None or second is None or first[0] != second[0] or len(first[1]) != len(second[1]):
        return None
    moved = _MOMENTS[1] - _MOMENTS[0]
    params = []
    for one, other in zip(first[1], second[1], strict=True):
        if one == other:
            params.append(one)
        elif isinstance(one, datetime) and isinstance(other, datetime) and other - one == moved:
            params.append(_Offset(one - _MOMENTS[0]))
        else:
            return None
    return _Compiled(first[0], tuple(params), first[2])


class _CachedHealthRank(Expression):
    """The cached SQL of health_rank at one moment, in a query that joined its tables (resolve)."""

    output_field = IntegerField()

    def __init__(self, compiled: _Compiled, now):
        super().__init__()
        self.compiled, self.now = compiled, now

    def as_sql(self, compiler, connection):
        params = [self.now + param.delta if isinstance(param, _Offset) else param for param in self.compiled.params]
        return f"({self.compiled.sql})", params

    def relabeled_clone(self, change_map):
        # The SQL names its tables; a query that renames them (made a subquery of another) cannot use it.
        if any(join.table_alias in change_map for join in self.compiled.joins) or (
            MigrationItem._meta.db_table in change_map
        ):
            raise NotImplementedError("the cached health SQL cannot be renamed: use replication.health.health_rank")
        return self


class HealthRank(Expression):
    """health.health_rank(now, policies), its SQL compiled once per process where it can be (above)."""

    output_field = IntegerField()

    def __init__(self, now, policies):
        super().__init__()
        self.now, self.policies = now, list(policies)

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        compiled = self._cached(query)
        if compiled is not None and query.get_initial_alias() == MigrationItem._meta.db_table:
            aliases = [
                query.join(Join(join.table_name, join.parent_alias, None, INNER, join.join_field, join.nullable))
                for join in compiled.joins
            ]
            if aliases == [join.table_alias for join in compiled.joins]:
                return _CachedHealthRank(compiled, self.now)
        return health.health_rank(self.now, self.policies).resolve_expression(
            query, allow_joins, reuse, summarize, for_save
        )

    def _cached(self, query) -> _Compiled | None:
        if query is None or query.model is not MigrationItem or faults.in_force_by_kind(self.now):
            return None
        using = "default"
        key = (using, health.RULES, tuple((policy.pk, policy.rpo_threshold_minutes) for policy in self.policies))
        if key not in _compiled:
            if len(_compiled) > 64:  # policies changed many times: start again
                _compiled.clear()
            _compiled[key] = _compile(self.policies, using)
        return _compiled[key]

    def as_sql(self, compiler, connection):  # resolve_expression always replaces it
        raise NotImplementedError
