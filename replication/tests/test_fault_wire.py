"""The hub's side of the process-side faults (replication.fault_wire): the heartbeat answer lists the
faults in force on the appliance, its process server and each of its servers, by the ids the API names
them with; a probe answers them without counting as a heartbeat; problems the appliance reports become
health errors on the server and the appliance, in the list's SQL too, with a notification each way.
The processes' side runs for real in tests/test_fault_families.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from faults import services as faults
from hub import clock
from jobs.models import Notification
from projects.models import User
from replication import fault_wire, health, services
from replication.models import Appliance, MigrationItem
from replication.monitoring import with_health
from replication.tests.conftest import issue, migration_project
from replication.tests.test_monitor import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered(django_capture_on_commit_callbacks):
    project = migration_project(django_capture_on_commit_callbacks, "faultwire")
    appliance, credential = services.appliance_register(key_text=issue(project)[1], name="appliance-1")
    Appliance.objects.filter(pk=appliance.pk).update(state=Appliance.State.FINALIZED)
    item = make_item(project, "web01")
    MigrationItem.objects.filter(pk=item.pk).update(created_by=User.objects.get(email="admin@contoso.com"))
    return project, Appliance.objects.get(pk=appliance.pk), credential, item


def inject(kind, scope, scope_kind, **parameters):
    admin = User.objects.get(email="admin@contoso.com")
    return faults.inject(
        tenant=admin.tenant, injected_by=admin, kind=kind, scope=scope, scope_kind=scope_kind, parameters=parameters
    )


def heartbeat(appliance, credential, body):
    url = f"/appliance-api/v1/appliances/{appliance.pk}/heartbeat"
    return APIClient().post(url, body, format="json", HTTP_AUTHORIZATION=f"Appliance {credential}")


def test_the_heartbeat_answer_lists_the_faults_on_the_appliance_and_each_server(registered):
    project, appliance, credential, item = registered
    provider, process_server = fault_wire.appliance_scopes(appliance)
    cap = inject("uploadBandwidthCap", process_server.upper(), "processServer", mbps=2)
    offline = inject("applianceOffline", provider, "appliance")
    churn = inject("sourceChurn", fault_wire.server_scope(item.server), "server", mbPerSecond=3)
    inject("sourceChurn", fault_wire.server_scope(item.server).replace(str(item.server.pk), "x"), "server")
    answer = heartbeat(appliance, credential, {"version": "1.0.0"}).json()["faults"]
    assert {fault["id"] for fault in answer["appliance"]} == {str(cap.pk), str(offline.pk)}
    assert answer["agents"] == {
        item.server.machine_id: [
            {
                "id": str(churn.pk),
                "kind": "sourceChurn",
                "parameters": {"mbPerSecond": 3.0},
                "probability": 1.0,
                "startsAt": churn.starts_at.timestamp(),
                "endsAt": None,
            }
        ]
    }

    # Cleared or ended, it is no longer listed.
    faults.clear(cap, cleared_by=None)
    answer = heartbeat(appliance, credential, {"version": "1.0.0"}).json()["faults"]
    assert [fault["kind"] for fault in answer["appliance"]] == ["applianceOffline"]


def test_a_probe_answers_the_faults_without_counting_as_a_heartbeat(registered):
    project, appliance, credential, item = registered
    inject("applianceOffline", fault_wire.appliance_scopes(appliance)[0], "appliance")
    before = Appliance.objects.get(pk=appliance.pk).last_heartbeat_at
    clock.advance(timedelta(minutes=20))
    answer = heartbeat(appliance, credential, {"probe": True}).json()
    assert [fault["kind"] for fault in answer["faults"]["appliance"]] == ["applianceOffline"]
    appliance.refresh_from_db()
    assert appliance.last_heartbeat_at == before and appliance.health(clock.now()) == "Warning"


def test_reported_problems_are_health_errors_on_the_server_and_the_appliance(registered):
    project, appliance, credential, item = registered
    refused = {"EP0864": {"agentVersion": "9.54.0", "supportedVersion": "9.60", "message": "different version"}}
    heartbeat(
        appliance,
        credential,
        {
            "version": "1.0.0",
            "agents": [{"machineId": item.server.machine_id, "connected": True, "problems": refused}],
            "problems": {"ProcessServerUploadCapped": {"mbps": 2}},
        },
    )
    item = MigrationItem.objects.select_related("server", "appliance", "policy").get(pk=item.pk)
    errors = {error["errorCode"]: error for error in health.health_errors(item, [], clock.now())}
    assert errors["EP0864"]["errorLevel"] == "Error" and "version 9.54.0" in errors["EP0864"]["summaryMessage"]
    assert "Uninstall the Mobility service" in errors["EP0864"]["recommendedAction"]
    assert "2 Mbps" in errors["ProcessServerUploadCapped"]["summaryMessage"]
    # The list's SQL agrees: the server is Critical.
    [ranked] = with_health(MigrationItem.objects.filter(pk=item.pk), project, clock.now())
    assert health.HEALTH_BY_RANK[ranked.health_rank] == "Critical"
    appliance.refresh_from_db()
    load = health.appliance_loads([appliance])[appliance.pk]
    codes = [error["errorCode"] for error in health.appliance_health_errors(appliance, load)]
    assert codes == ["ProcessServerUploadCapped", "EP0864"]
    assert Notification.objects.filter(title="Health error EP0864 on web01", level="Failed").exists()

    # Gone from the next report: the errors clear and the owner hears so.
    heartbeat(
        appliance,
        credential,
        {"version": "1.0.0", "agents": [{"machineId": item.server.machine_id, "connected": True, "problems": {}}]},
    )
    item.server.refresh_from_db()
    appliance.refresh_from_db()
    assert item.server.agent_problems == {} and appliance.problems == {}
    assert Notification.objects.filter(title="Health error EP0864 on web01 resolved", level="Succeeded").exists()


def test_reported_problems_are_bounded(registered):
    noisy = {f"code{index}": {"message": "x" * 5000, "n": True, "nested": {"a": 1}} for index in range(50)}
    cleaned = fault_wire.cleaned_problems(noisy)
    assert len(cleaned) == fault_wire.MAX_PROBLEMS
    assert cleaned["code0"] == {"message": "x" * fault_wire.MAX_TEXT}
    assert fault_wire.cleaned_problems(["not", "a", "dict"]) == {}


def test_no_recovery_point_for_15_minutes_warns_and_for_60_is_critical(registered):
    project, appliance, credential, item = registered
    now = clock.now()
    ages = {"recent": 10, "quarter": 30, "hour": 90}
    for name, minutes in ages.items():
        make_item(project, name, last_recovery_point_at=now - timedelta(minutes=minutes))
    items = MigrationItem.objects.filter(server__name__in=ages).select_related("server", "appliance", "policy")
    ranked = {row.server.name: row.health_rank for row in with_health(items, project, now)}
    for row in items:
        errors = health.health_errors(row, [], now)
        levels = {(error["errorCode"], error["errorLevel"]) for error in errors}
        expected = {
            "recent": set(),
            "quarter": {("153007", "Warning")},
            "hour": {("153007", "Error"), ("78052", "Warning")},
        }[row.server.name]
        assert levels == expected, row.server.name
        assert health.HEALTH_BY_RANK[ranked[row.server.name]] == health.health(row.migration_state, errors)
