"""Replicating machines' pages read from both ends: a page of the second half is read in the reverse
order and turned round (monitoring.page_of), so it must hold exactly the rows the forward order puts
there, for every sort, with ties and rows without a value (the fleet of test_monitor has both)."""

from __future__ import annotations

import pytest

from hub import clock
from replication import monitoring
from replication.tests.test_monitor import fleet, make_item, project  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("sort", sorted(monitoring.SORTABLE) + sorted(f"-{key}" for key in monitoring.SORTABLE))
def test_every_page_holds_what_the_forward_order_puts_there(fleet, monkeypatch, sort):  # noqa: F811 (the fixture)
    migrate_project = fleet["web01"].project
    for index in range(3):  # same names as fleet servers but for case: ties on the name need the id
        make_item(migrate_project, f"WEB0{index}")
    monkeypatch.setattr(monitoring, "PAGE_SIZE", 2)
    now = clock.now()
    forward = [item.server.name for item in monitoring.filtered_items(migrate_project, now, sort=sort)]
    paged = []
    for number in range(1, 6):
        page, items = monitoring.list_page(migrate_project, now, number, sort=sort)
        assert list(page.object_list) == [item.pk for item in items]
        paged += [item.server.name for item in items]
    assert paged == forward and len(forward) == 9


def test_a_filtered_list_pages_from_its_own_end(fleet, monkeypatch):  # noqa: F811 (the fixture)
    monkeypatch.setattr(monitoring, "PAGE_SIZE", 2)
    migrate_project = fleet["web01"].project
    now = clock.now()
    last, items = monitoring.list_page(migrate_project, now, 99, status="ready", sort="-rpo")
    forward = list(monitoring.filtered_items(migrate_project, now, status="ready", sort="-rpo"))
    assert last.number == 2 and [item.pk for item in items] == [item.pk for item in forward[2:]]


@pytest.mark.parametrize("health", ["Normal", "Warning", "Critical"])
def test_a_health_filters_first_page_counts_in_its_own_query(fleet, monkeypatch, health, django_assert_num_queries):  # noqa: F811
    """The first page of a health filter takes its count from the page's query (COUNT(*) OVER ())."""
    monkeypatch.setattr(monitoring, "PAGE_SIZE", 1)
    migrate_project = fleet["web01"].project
    now = clock.now()
    forward = list(monitoring.filtered_items(migrate_project, now, health=health))
    with django_assert_num_queries(4):  # policies; the page with its count; the rows (with appliance and policy); disks
        page, items = monitoring.list_page(migrate_project, now, "1", health=health)
    assert page.paginator.count == len(forward) and page.paginator.num_pages == len(forward)
    assert [item.pk for item in items] == [item.pk for item in forward[:1]]
    second, items = monitoring.list_page(migrate_project, now, 2, health=health)
    assert second.paginator.count == len(forward)


def test_a_health_filter_with_no_server_is_one_empty_page(fleet, monkeypatch):  # noqa: F811 (the fixture)
    migrate_project = fleet["web01"].project
    migrate_project.migration_items.exclude(server__name="new01").delete()
    page, items = monitoring.list_page(migrate_project, clock.now(), None, health="Critical")
    assert items == [] and page.paginator.count == 0 and page.number == 1 and not page.has_next()


@pytest.mark.parametrize("sort", ["name", "-name", "health", "-rpo"])
def test_a_search_counts_in_its_pages_query_in_the_lists_order(fleet, monkeypatch, sort, django_assert_num_queries):  # noqa: F811
    """A search reads every server's name anyway: its pages take their count from the page's query, and
    hold what the filtered list puts there (sorted by a name form no index serves, in the same order)."""
    migrate_project = fleet["web01"].project
    for index in range(3):  # ties on the name but for case: the id breaks them
        make_item(migrate_project, f"WEB0{index}")
    monkeypatch.setattr(monitoring, "PAGE_SIZE", 2)
    now = clock.now()
    forward = [item.pk for item in monitoring.filtered_items(migrate_project, now, search="web", sort=sort)]
    assert len(forward) > 2  # more than a page
    paged = []
    for number in range(1, -(-len(forward) // 2) + 1):
        page, items = monitoring.list_page(migrate_project, now, number, search="web", sort=sort)
        assert page.paginator.count == len(forward)
        paged += [item.pk for item in items]
    assert paged == forward
    statements = 4 if sort == "health" else 3  # (policies;) the page with its count; the rows; disks
    with django_assert_num_queries(statements):
        monitoring.list_page(migrate_project, now, 1, search="web", sort=sort)
