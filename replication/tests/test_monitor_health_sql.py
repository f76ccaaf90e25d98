"""Health's SQL compiled once per process (replication.monitoring_health) gives what health.health_rank
compiles to: the same ranks for every server, at any moment (its moments are offsets from the one asked
about), in the list's filters, sorts and searches and the overview's counts; it is not used while a
fault is in force or where its tables would be renamed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Case, IntegerField, Value, When

from hub import clock
from replication import health, monitoring, monitoring_health
from replication.tests.test_monitor import fleet, make_item, project  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def ranks(items, expression):
    return list(items.annotate(health_rank=expression).order_by("health_rank", "pk").values_list("pk", "health_rank"))


@pytest.mark.parametrize("minutes_later", [0, 20, 50, 24 * 60])
def test_the_cached_sql_ranks_every_server_as_health_rank_does(fleet, minutes_later):  # noqa: F811 (the fixture)
    migrate_project = fleet["web01"].project
    now = clock.now() + timedelta(minutes=minutes_later)  # the fleet's moments age: other rules hold
    policies = migrate_project.policies.all()
    items = migrate_project.migration_items.all()
    cached = ranks(items, monitoring_health.HealthRank(now, policies))
    assert cached == ranks(items, health.health_rank(now, policies))
    assert any(compiled is not None for compiled in monitoring_health._compiled.values()), "the SQL was cached"
    assert {rank for _, rank in cached} != {health.HEALTH_RANKS["Normal"]}  # the fleet has every health


@pytest.mark.parametrize(
    "options",
    [
        {"sort": "health"},
        {"sort": "-health"},
        {"health": "Warning"},
        {"health": "Critical", "search": "0"},
        {"health": "Normal", "status": "ready", "sort": "-rpo"},
    ],
)
def test_the_lists_filters_and_sorts_agree_with_health_rank(fleet, monkeypatch, options):  # noqa: F811
    migrate_project = fleet["web01"].project
    make_item(migrate_project, "WEB01", agent_connected=False)  # a name tie, and a Critical server
    now = clock.now()
    listed = [item.pk for item in monitoring.filtered_items(migrate_project, now, **options)]
    summary = monitoring.health_summary(migrate_project, now)
    monkeypatch.setattr(monitoring, "HealthRank", health.health_rank)  # compiled per request, as before
    assert listed == [item.pk for item in monitoring.filtered_items(migrate_project, now, **options)]
    assert summary == monitoring.health_summary(migrate_project, now)


def test_a_fault_in_force_compiles_health_rank_itself(fleet, monkeypatch):  # noqa: F811 (the fixture)
    migrate_project = fleet["web01"].project
    now = clock.now()
    monkeypatch.setattr(monitoring_health.faults, "in_force_by_kind", lambda now: {"cacheStorageBusy": {"x": None}})
    query = migrate_project.migration_items.annotate(
        health_rank=monitoring_health.HealthRank(now, migrate_project.policies.all())
    ).query
    assert not isinstance(query.annotations["health_rank"], monitoring_health._CachedHealthRank)


def test_a_query_that_renames_its_tables_cannot_use_the_cached_sql(fleet):  # noqa: F811 (the fixture)
    migrate_project = fleet["web01"].project
    ranked = migrate_project.migration_items.annotate(
        health_rank=monitoring_health.HealthRank(clock.now(), migrate_project.policies.all())
    )
    assert isinstance(ranked.query.annotations["health_rank"], monitoring_health._CachedHealthRank)
    with pytest.raises(NotImplementedError):
        ranked.query.annotations["health_rank"].relabeled_clone({"replication_migrationitem": "U0"})


def test_a_health_filters_page_past_the_end_counts_through_the_cached_sql(fleet, monkeypatch):  # noqa: F811
    """Past the last page the count is a query of its own (COUNT over the filtered list, a subquery)."""
    migrate_project = fleet["web01"].project
    monkeypatch.setattr(monitoring, "PAGE_SIZE", 1)
    now = clock.now()
    warning = [item.pk for item in monitoring.filtered_items(migrate_project, now, health="Warning")]
    page, items = monitoring.list_page(migrate_project, now, 99, health="Warning")
    assert page.paginator.count == len(warning) and [item.pk for item in items] == warning[-1:]


@pytest.mark.parametrize("truncated", ["day", "hour", "minute"])
def test_a_rule_comparing_with_a_truncated_moment_is_not_cached(fleet, monkeypatch, truncated):  # noqa: F811
    """A moment a rule truncates in Python moves by another span than the compile moments' (they are
    unaligned and an odd span apart), so it is not replayed as an offset from the moment asked about."""
    fields = ["hour", "minute", "second", "microsecond"]
    cleared = dict.fromkeys(fields[{"day": 0, "hour": 1, "minute": 2}[truncated] :], 0)

    def truncating_rank(now, policies):
        start = now.replace(**cleared)
        return Case(
            When(last_recovery_point_at__gte=start, then=Value(1)), default=Value(0), output_field=IntegerField()
        )

    monkeypatch.setattr(monitoring_health.health, "health_rank", truncating_rank)
    monkeypatch.setattr(monitoring_health, "_compiled", {})
    migrate_project = fleet["web01"].project
    query = migrate_project.migration_items.annotate(
        health_rank=monitoring_health.HealthRank(clock.now(), migrate_project.policies.all())
    ).query
    assert not isinstance(query.annotations["health_rank"], monitoring_health._CachedHealthRank)
