"""Replicating machines' rows, built in Python (replication.monitoring_rows), and what a page or the
Server Migration overview costs in SQL statements: a fixed number, whatever the number of servers."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from faults import services as faults
from hub import clock
from jobs.models import Job, State
from projects.models import User
from replication import monitoring, monitoring_listed
from replication.health import HEALTH_RANKS
from replication.models import MigrationItem
from replication.monitoring_rows import RowHealth, health_badge, row_html
from replication.status import item_status
from replication.tests.test_monitor import client_for, fleet, item_job, list_url, make_item, project  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def statements(get) -> list[str]:
    """The SQL of one request, but the emulator clock's offset, which hub.clock reads only now and then."""
    with CaptureQueriesContext(connection) as captured:
        get()
    return [query["sql"] for query in captured.captured_queries if "hub_emulatorclock" not in query["sql"]]


def running_job(item) -> Job:
    job = item_job(item, "MigrationStartResync", "Resynchronize <now>", State.IN_PROGRESS)
    item.current_job = job
    item.save(update_fields=["current_job"])
    return job


def test_a_row_with_a_running_job_asks_for_itself_again_when_the_job_changes(client, fleet):  # noqa: F811 (the fixture)
    item = fleet["web01"]
    item.target_vm_name = "web01-azure"
    item.save(update_fields=["target_vm_name"])
    job = running_job(item)
    html = client_for(client, "admin@contoso.com").get(list_url(item.project, q="web01")).content.decode()
    row_url = reverse("replication:replicating-row", args=[item.pk])
    assert f'<tr id="replicating-{item.pk}" data-live-insert="#replicating-rows-{item.project_id}"' in html
    assert f'hx-get="{row_url}" hx-swap="outerHTML"' in html
    assert f"detail.html.includes('id=&quot;job-{job.pk}')" in html
    assert f'<a href="{reverse("jobs:detail", args=[job.pk])}">Resynchronize &lt;now&gt;</a>' in html
    assert '<small class="muted">In progress</small>' in html
    assert '<br><small class="muted">Azure VM web01-azure</small>' in html
    assert f'data-row-menu="{reverse("replication:item-menu", args=[item.pk])}"' in html
    # The row view and the live push send the very row the page holds.
    alone = client.get(row_url).content.decode().strip()
    assert alone.startswith("<tr") and alone in html


def test_a_row_without_a_job_has_no_live_request_and_shows_its_point_and_progress(client, fleet):  # noqa: F811 (the fixture)
    html = client_for(client, "admin@contoso.com").get(list_url(fleet["web01"].project)).content.decode()
    web01 = fleet["web01"]
    point = web01.last_recovery_point_at
    assert f'<time datetime="{point.isoformat()}">{point.strftime("%Y-%m-%d %H:%M:%S")}</time>' in html
    assert "hub:live[detail" not in html and "Azure VM" not in html
    assert 'aria-label="Initial replication of db01" aria-valuenow="50"' in html
    assert html.count('class="replicating-row"') == 6


@pytest.mark.parametrize("health", ["Normal", "Warning", "Critical", "None"])
def test_the_health_badge_is_the_health_template(health, settings):
    rendered = render_to_string("replication/_replicating_health.html", {"health": health})
    assert health_badge(health) == rendered
    settings.DEBUG = True
    assert health_badge(health) == rendered


LIST_VARIANTS = [
    {},
    {"sort": "-transferred"},
    {"sort": "health"},
    {"health": "Warning"},
    {"status": "ready", "sort": "-rpo"},
    {"q": "0", "sort": "throughput"},
    {"page": "2"},
]


@pytest.mark.parametrize("params", LIST_VARIANTS, ids=lambda params: urlencode(params) or "first page")
def test_a_page_costs_the_same_statements_with_ten_or_sixty_servers(
    client,
    fleet,  # noqa: F811 (the fixture)
    params,
    monkeypatch,  # noqa: F811 (the fixture)
):
    """No statement per row: the page's rows come in four statements (items, disks, appliances, policies)."""
    monkeypatch.setattr("replication.monitoring.PAGE_SIZE", 5)
    migrate_project = fleet["web01"].project
    admin = client_for(client, "admin@contoso.com")
    for index in range(4):
        make_item(migrate_project, f"extra0{index}", last_recovery_point_at=clock.now() - timedelta(minutes=index))
    admin.get(list_url(migrate_project, **params))  # warm the session
    few = statements(lambda: admin.get(list_url(migrate_project, **params)))
    for index in range(50):
        make_item(migrate_project, f"more{index:02}", last_recovery_point_at=clock.now() - timedelta(minutes=index))
    many = statements(lambda: admin.get(list_url(migrate_project, **params)))
    assert len(many) == len(few)
    # 17 at most: session, user, scopes, projects, count, page ids, rows with disks, appliances and
    # policies, the bell's notifications; health adds its policies and the injected faults in force.
    assert len(few) <= 17


def test_the_overview_costs_the_same_statements_whatever_the_fleet(client, fleet):  # noqa: F811
    migrate_project = fleet["web01"].project
    url = reverse("replication:server-migration-overview") + "?" + urlencode({"project": migrate_project.arm_id})
    admin = client_for(client, "admin@contoso.com")
    admin.get(url)
    responses = []
    few = statements(lambda: responses.append(admin.get(url)))
    for index in range(30):
        # Half an hour without a point: a warning (an hour would be critical, error 153007).
        make_item(migrate_project, f"more{index:02}", last_recovery_point_at=clock.now() - timedelta(minutes=30))
    many = statements(lambda: responses.append(admin.get(url)))
    first, second = responses
    assert len(many) == len(few)
    assert first.context["counts"]["replicating"] + 30 == second.context["counts"]["replicating"]
    assert second.context["health"]["Warning"] == first.context["health"]["Warning"] + 30
    assert len(few) <= 18  # with the injected faults in force, read once for the health summary
    assert set(HEALTH_RANKS) >= set(second.context["health"])


def _problems_and_a_job(fleet):  # noqa: F811 (the fixture)
    """Reported problems (the agent's on app01, the appliance's on all) and a running job on web01."""
    fleet["app01"].server.agent_problems = {"78188": {"mbPerSecond": 60}}
    fleet["app01"].server.save(update_fields=["agent_problems"])
    appliance = fleet["web01"].appliance
    appliance.problems = {"ProcessServerUploadCapped": {"mbps": 10}}
    appliance.save(update_fields=["problems"])
    running_job(fleet["web01"])


def test_a_page_of_listed_rows_shows_what_the_items_rows_show(fleet):  # noqa: F811 (the fixture)
    """A page reads its rows' columns only (monitoring_listed.read_listed_rows); a push and the row view read
    the items whole. Both build the same row, and its health is item_status's."""
    _problems_and_a_job(fleet)
    migrate_project = fleet["web01"].project
    now = clock.now()
    ids = [item.pk for item in fleet.values()]
    listed = monitoring_listed.read_listed_rows(ids, migrate_project)
    items = monitoring._read_rows(ids)
    assert [row.pk for row in listed] == ids == [item.pk for item in items]
    health_of = RowHealth(now)
    for row, item in zip(listed, items, strict=True):
        assert row_html(row, now) == row_html(item, now), item.server.name
        assert health_of(row, list(row.disks.all())) == item_status(item, now).health, item.server.name
    assert {item_status(item, now).health for item in items} == {"None", "Warning", "Critical"}
    _, page = monitoring.list_page(migrate_project, now, 1)
    assert not isinstance(page[0], MigrationItem)


def test_with_a_fault_in_force_a_page_reads_its_items_and_their_health_counts_it(fleet):  # noqa: F811 (the fixture)
    migrate_project = fleet["web01"].project
    admin = User.objects.get(email="admin@contoso.com")
    faults.inject(
        tenant=admin.tenant,
        injected_by=admin,
        kind="cacheStorageThrottled",
        scope=migrate_project.arm_id,
        scope_kind="project",
    )
    now = clock.now()
    _, page = monitoring.list_page(migrate_project, now, 1)
    assert all(isinstance(item, MigrationItem) for item in page)
    health_of = RowHealth(now)
    healths = {}
    for item in page:
        healths[item.server.name] = health_of(item, [disk for disk in item.disks.all() if disk.included])
        assert healths[item.server.name] == item_status(item, now).health, item.server.name
    assert healths["web01"] == "Warning", "the throttled uploads"
