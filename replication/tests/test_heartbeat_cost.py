"""The appliance's heartbeat at fleet scale: it carries every agent's status and answers every
replicating item's entry, so its SQL must not grow with the agents (BENCHMARKS.md, issue 14 item 5:
at ~200 agents the heartbeat timed out)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from faults import services as faults_service
from hub import clock
from jobs.models import OutboxMessage
from replication import uploads
from replication.models import ProtectedDisk
from replication.tests.conftest import finalized_appliance_and_credential, migration_project
from replication.tests.test_monitor import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered(django_capture_on_commit_callbacks):
    project = migration_project(django_capture_on_commit_callbacks, "heartbeat-cost")
    return project, *finalized_appliance_and_credential(project)


def statuses(names, *, connected=True, problems=None):
    return [
        {
            "machineId": f"m-{name}",
            "connected": connected,
            "passphraseCurrent": True,
            "secondsSinceHeartbeat": 1.0,
            "problems": problems or {},
        }
        for name in names
    ]


def heartbeat(appliance, credential, agents, digest=None):
    body = {"version": "1.0", "components": {"processServer": "Running"}, "listen": "0.0.0.0:9443", "agents": agents}
    if digest:
        body["replicationDigest"] = digest
    with CaptureQueriesContext(connection) as captured:
        answer = APIClient().post(
            f"/appliance-api/v1/appliances/{appliance.pk}/heartbeat",
            body,
            format="json",
            HTTP_AUTHORIZATION=f"Appliance {credential}",
        )
    assert answer.status_code == 200, answer.content
    return answer.json(), len(captured.captured_queries)


def queries_with(project, appliance, credential, names):
    """(queries of a heartbeat where nothing changed, of one where every agent's status changed)."""
    for name in names:
        if not project.migration_items.filter(server__machine_id=f"m-{name}").exists():
            make_item(project, name, agent_connected=False)
    heartbeat(appliance, credential, statuses(names))  # every agent's status changed: connected
    clock.advance(timedelta(minutes=1))  # every connected agent's last heartbeat is refreshed
    heartbeat(appliance, credential, statuses(names))
    answer, steady = heartbeat(appliance, credential, statuses(names))
    assert len(answer["replication"]) == len(names)
    changed_agents = statuses(names, connected=False, problems={"EP0001": {"message": "x"}})
    _, changed = heartbeat(appliance, credential, changed_agents)
    return steady, changed


def test_the_heartbeats_queries_do_not_grow_with_the_agents(registered, monkeypatch):
    # The emulator's clock offset and the faults in force are read again after a second: on a busy
    # machine a heartbeat pushing 55 servers' rows takes longer than one with 5, so both are held here.
    monkeypatch.setattr(clock, "_CACHE_SECONDS", 3600)
    monkeypatch.setattr(faults_service, "IN_FORCE_REUSED_FOR", 3600)
    project, appliance, credential = registered
    few = queries_with(project, appliance, credential, [f"a{index:03}" for index in range(5)])
    many = queries_with(project, appliance, credential, [f"a{index:03}" for index in range(55)])
    assert few == many, f"5 agents: {few} queries (steady, all changed); 55 agents: {many}"


def test_the_replication_list_is_sent_only_when_it_changed(registered):
    project, appliance, credential = registered
    make_item(project, "one")
    first, _ = heartbeat(appliance, credential, statuses(["one"]))
    assert [entry["machineId"] for entry in first["replication"]] == ["m-one"]
    same, _ = heartbeat(appliance, credential, statuses(["one"]), digest=first["replicationDigest"])
    assert "replication" not in same and same["replicationDigest"] == first["replicationDigest"]
    make_item(project, "two")
    changed, _ = heartbeat(appliance, credential, statuses(["one", "two"]), digest=first["replicationDigest"])
    assert sorted(entry["machineId"] for entry in changed["replication"]) == ["m-one", "m-two"]
    assert changed["replicationDigest"] != first["replicationDigest"]


def test_an_appliance_whose_heartbeats_time_out_waits_longer_before_the_next(tmp_path):
    from appliance.server import HEARTBEAT_BACKOFF_MAX_SECONDS
    from appliance.server import Appliance as RunningAppliance

    running = RunningAppliance(
        str(tmp_path), {"hub": "http://hub.test", "credential": "c", "applianceId": "a", "listen": "x:1"}, 2
    )
    assert [running.heartbeat_wait(timeouts) for timeouts in range(7)] == [2, 4, 8, 16, 32, 60, 60]
    assert HEARTBEAT_BACKOFF_MAX_SECONDS == 60


def test_a_heartbeat_queues_a_bounded_number_of_stalled_applies_and_none_twice(registered):
    project, appliance, _ = registered
    for index in range(uploads.APPLY_REQUESTS_PER_HEARTBEAT + 4):
        make_item(project, f"s{index:02}")
    ProtectedDisk.objects.filter(item__appliance=appliance).update(stored_sequence=1)

    def queued() -> int:
        return OutboxMessage.objects.filter(task_name=uploads.APPLY_REPLICATION_TASK).count()

    uploads.apply_stalled(appliance)
    assert queued() == uploads.APPLY_REQUESTS_PER_HEARTBEAT
    uploads.apply_stalled(appliance)  # the rest; those queued already are awaited, not queued again
    assert queued() == uploads.APPLY_REQUESTS_PER_HEARTBEAT + 4
    uploads.apply_stalled(appliance)
    assert queued() == uploads.APPLY_REQUESTS_PER_HEARTBEAT + 4
