"""The Faults tab's server search by a piece of a name is one PostgreSQL index away from scanning every
server (replication migration 0016: a trigram index on UPPER(name)): the query keeps the name match a
plain condition on the servers' table, and a project's name still finds its servers."""

from __future__ import annotations

import contextlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from faults import scopes
from faults.kinds import ScopeKind
from replication.models import DiscoveredServer
from replication.tests.conftest import finalized_appliance, migration_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def servers():
    project = migration_project(contextlib.nullcontext, "trigramsearch")
    appliance = finalized_appliance(project)
    for name in ("web-alpha", "db-beta", "cache-gamma"):
        DiscoveredServer.objects.create(
            project=project,
            appliance=appliance,
            machine_id=f"m-{name}",
            name=name,
            os_type="Linux",
            cores=2,
            memory_mb=4096,
            disks=[],
        )
    return project


def server_names(tenant, text: str) -> list[str]:
    return [choice.name for choice in scopes.search(tenant, text, [ScopeKind.SERVER]).groups[ScopeKind.SERVER]]


def test_a_name_piece_or_the_projects_name_finds_servers(servers):
    tenant = servers.subscription.tenant
    assert server_names(tenant, "ETA") == ["db-beta"]
    assert server_names(tenant, "gramsea") == ["cache-gamma", "db-beta", "web-alpha"]  # the project's name
    assert server_names(tenant, "nothing-like-it") == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram index is PostgreSQL's")
def test_the_server_search_is_a_condition_the_trigram_index_serves(servers):
    tenant = servers.subscription.tenant
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'discoveredserver_name_trigram'")
        (definition,) = cursor.fetchone()
    assert "gin" in definition and "upper((name)::text) gin_trgm_ops" in definition
    with CaptureQueriesContext(connection) as queries:
        server_names(tenant, "alph")
    (sql,) = [q["sql"] for q in queries.captured_queries if 'FROM "replication_discoveredserver"' in q["sql"]]
    # The indexed expression, and no project name ORed beside it (which made PostgreSQL scan every server).
    assert 'UPPER("replication_discoveredserver"."name"::text) LIKE UPPER(' in sql
    assert '"projects_migrateproject"."name"::text) LIKE' not in sql
