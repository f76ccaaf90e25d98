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
from replication import fault_wire, health
from replication.models import Appliance, MigrationItem
from replication.monitoring import with_health
from replication.tests.conftest import finalized_appliance_and_credential, migration_project
from replication.tests.test_monitor import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered(django_capture_on_commit_callbacks):
    project = migration_project(django_capture_on_commit_callbacks, "faultwire")
    appliance, credential = finalized_appliance_and_credential(project)
    item = make_item(project, "web01")
    MigrationItem.objects.filter(pk=item.pk).update(created_by=User.objects.get(email="admin@contoso.com"))
    return project, appliance, credential, item


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


def ended_job(item):
    """The server's Start replication job, ended, as it is while the server replicates."""
    from jobs.models import Job, JobTask

    job = Job.objects.create(
        subscription_id=item.project.resource_group.subscription_id,
        resource_group_name=item.project.resource_group.name,
        scenario_name="EnableMigration",
        friendly_name="Start replication",
        state="Succeeded",
        target_object_id=str(item.pk),
        target_object_name=item.server.name,
    )
    JobTask.objects.create(
        job=job, position=0, name="StartInitialReplication", friendly_name="Start", state="Succeeded"
    )
    return job


def noted_tasks(job):
    return [(task.name, task.state, task.ended_at is None) for task in job.tasks.filter(name__startswith="Health")]


def test_a_problem_adds_a_task_to_the_servers_job_open_until_it_goes_away(registered):
    project, appliance, credential, item = registered
    job = ended_job(item)
    agents = [{"machineId": item.server.machine_id, "connected": True, "problems": {"SourceDiskReadFailed": {}}}]
    body = {"version": "1.0.0", "agents": agents, "problems": {"ProcessServerUploadCapped": {"mbps": 2}}}
    heartbeat(appliance, credential, body)
    heartbeat(appliance, credential, body)  # still there: nothing more
    assert sorted(noted_tasks(job)) == [
        ("HealthErrorProcessServerUploadCapped", "Warning", True),
        ("HealthErrorSourceDiskReadFailed", "Failed", True),
    ]
    task = job.tasks.get(name="HealthErrorSourceDiskReadFailed")
    [error] = task.errors
    assert error["errorLevel"] == "Error" and "repair the disk" in error["serviceErrorDetails"]["recommendedAction"]
    assert error["serviceErrorDetails"]["possibleCauses"]
    # The SDK's job reads the task with its error.
    from replication.arm_migration.jobs import job_body

    tasks = {task["name"]: task for task in job_body(project_vault_of(project), job)["properties"]["tasks"]}
    assert (
        tasks["HealthErrorSourceDiskReadFailed"]["errors"][0]["serviceErrorDetails"]["code"] == "SourceDiskReadFailed"
    )

    agents[0]["problems"] = {}
    heartbeat(appliance, credential, {"version": "1.0.0", "agents": agents})
    assert sorted(noted_tasks(job)) == [
        ("HealthErrorProcessServerUploadCapped", "Warning", False),
        ("HealthErrorSourceDiskReadFailed", "Failed", False),
    ]
    # It comes back: a new task, the first one stays as it ended.
    agents[0]["problems"] = {"SourceDiskReadFailed": {}}
    heartbeat(appliance, credential, {"version": "1.0.0", "agents": agents})
    assert noted_tasks(job).count(("HealthErrorSourceDiskReadFailed", "Failed", True)) == 1


def project_vault_of(project):
    from projects.services.migration_resources import project_vault
    from replication.arm import Vault

    return Vault(project_vault(project))


def test_a_cut_off_appliance_is_noted_once_with_a_notification_and_a_task_until_it_heartbeats(registered):
    project, appliance, credential, item = registered
    job = ended_job(item)
    heartbeat(appliance, credential, {"probe": True})  # no fault: nothing is noted
    assert noted_tasks(job) == []
    offline = inject("applianceOffline", fault_wire.appliance_scopes(appliance)[0], "appliance")
    for _ in range(3):
        heartbeat(appliance, credential, {"probe": True})
    assert noted_tasks(job) == [("HealthErrorApplianceOffline", "Failed", True)]
    [notification] = Notification.objects.filter(title="Health error ApplianceOffline on appliance-1")
    assert "cut off from the hub" in notification.message
    # Not a health error of its own: the heartbeat-lost rules tell, after 15 minutes.
    item = MigrationItem.objects.select_related("server", "appliance", "policy").get(pk=item.pk)
    assert health.health_errors(item, [], clock.now()) == []

    faults.clear(offline, cleared_by=None)
    heartbeat(appliance, credential, {"version": "1.0.0"})  # back
    assert noted_tasks(job) == [("HealthErrorApplianceOffline", "Failed", False)]
    assert Notification.objects.filter(title="Health error ApplianceOffline on appliance-1 resolved").exists()


def test_a_scale_out_process_server_gets_the_faults_on_its_appliance_and_project(registered):
    project, appliance, credential, item = registered
    scale_out = Appliance.objects.create(
        project=project, name="ps-2", scale_out_of=appliance, state=Appliance.State.FINALIZED
    )
    provider, own_process_server = fault_wire.appliance_scopes(appliance)
    on_appliance = inject("linkFlapping", provider, "appliance")
    on_project = inject("uploadBandwidthCap", project.arm_id, "project", mbps=5)
    inject("uploadBandwidthCap", own_process_server, "processServer", mbps=1)  # the appliance's own only
    answer = fault_wire.heartbeat_faults(scale_out)
    assert {fault["id"] for fault in answer["appliance"]} == {str(on_appliance.pk), str(on_project.pk)}
    assert answer["agents"] == {}
    # The appliance itself gets all three.
    assert len(fault_wire.heartbeat_faults(appliance)["appliance"]) == 3


def test_an_offline_fault_with_a_probability_stays_noted_through_the_heartbeats_it_spares(registered):
    project, appliance, credential, item = registered
    job = ended_job(item)
    admin = User.objects.get(email="admin@contoso.com")
    fault = faults.inject(
        tenant=admin.tenant,
        injected_by=admin,
        kind="applianceOffline",
        scope=fault_wire.appliance_scopes(appliance)[0],
        scope_kind="appliance",
        probability=0.5,
    )
    for body in ({"probe": True}, {"version": "1.0.0"}, {"probe": True}, {"version": "1.0.0"}):
        heartbeat(appliance, credential, body)
    assert noted_tasks(job) == [("HealthErrorApplianceOffline", "Failed", True)]
    assert Notification.objects.filter(title__startswith="Health error ApplianceOffline").count() == 1
    faults.clear(fault, cleared_by=admin)
    heartbeat(appliance, credential, {"version": "1.0.0"})
    assert noted_tasks(job) == [("HealthErrorApplianceOffline", "Failed", False)]
