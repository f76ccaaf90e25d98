"""The replicating server's page counts its health errors by level beside the health badge: a
Warning-only server says "1 warning", not "1 error"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from hub import clock
from replication.tests.conftest import admin
from replication.tests.test_monitor import make_item, project  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db


def health_count(client, item) -> str:
    html = client.get(reverse("replication:replicating-server", args=[item.pk])).content.decode()
    found = re.search(rf'<a href="#replicating-health-{item.pk}">([^<]*)</a>', html)
    return found.group(1) if found else ""


def test_the_count_says_warnings_when_only_warnings_and_both_levels_when_both(client, project):  # noqa: F811
    now = clock.now()
    started = {"replication_started_at": now - timedelta(hours=3)}
    client.force_login(admin())
    # No recovery point for 30 minutes: a warning (153007) and nothing else.
    warned = make_item(project, "app01", last_recovery_point_at=now - timedelta(minutes=30), **started)
    assert health_count(client, warned) == "1 warning"
    # The same, and the agent silent: an error beside the warning.
    both = make_item(
        project, "app02", last_recovery_point_at=now - timedelta(minutes=30), agent_connected=False, **started
    )
    assert re.fullmatch(r"\d+ errors?, 1 warning", health_count(client, both)), health_count(client, both)
    healthy = make_item(project, "app03", last_recovery_point_at=now - timedelta(minutes=1), **started)
    assert health_count(client, healthy) == ""
