"""The events watcher's replication source ranks health with the monitor's SQL compiled once per process
(replication.monitoring_health.HealthRank), and its events say the same health as health.health_rank."""

from __future__ import annotations

import pytest

from replication import event_source, health, monitoring_health
from replication.tests.test_monitor import fleet, project  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def observed(migrate_project) -> dict[str, tuple[str, list]]:
    group = migrate_project.resource_group
    scopes = {(str(group.subscription_id), group.name.lower())}
    return {
        state.data["machineName"]: (state.values["health"], state.data.get("healthErrors", []))
        for state in event_source.replicating_servers(scopes)
    }


def test_events_say_the_same_health_through_the_cached_sql(fleet, monkeypatch):  # noqa: F811 (the fixture)
    migrate_project = fleet["web01"].project
    replayed = []
    as_sql = monitoring_health._CachedHealthRank.as_sql

    def counting(self, compiler, connection):
        replayed.append(self)
        return as_sql(self, compiler, connection)

    monkeypatch.setattr(monitoring_health._CachedHealthRank, "as_sql", counting)
    cached = observed(migrate_project)
    assert replayed, "the events' query used the cached SQL"
    monkeypatch.setattr(event_source, "HealthRank", health.health_rank)  # compiled per call, as before
    assert cached == observed(migrate_project)
    assert sorted(cached) == sorted(fleet)
    assert {health_of for health_of, _ in cached.values()} >= {"Normal", "Warning", "Critical"}
