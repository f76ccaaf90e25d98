"""Azure's capacity of one replication appliance (replication.health's appliance rules): up to 200
machines, about 2 TB of changed data a day and 54 MB/s peak churn per machine. Beyond them the
appliance's health is Warning with Azure's advice, a scale-out process server, in the API and the
portal; the appliance reports its churn with each heartbeat (appliance/churn.py)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

# The appliance is on sys.path from replication/tests/conftest.py, which pytest imports first.
from appliance.churn import ChurnMeter
from django.urls import reverse
from rest_framework.test import APIClient

from hub import clock
from projects import services as project_services
from projects.models import User
from replication import health, services
from replication.arm import Vault, provider_body
from replication.models import Appliance, MigrationItem, MigrationState
from replication.tests.conftest import finalized_appliance, issue, migration_project
from replication.tests.test_monitor import make_item

pytestmark = pytest.mark.django_db

TB = 10**12


@pytest.fixture
def project(django_capture_on_commit_callbacks):
    project = migration_project(django_capture_on_commit_callbacks, "capacity")
    finalized_appliance(project)
    return project


def load_of(appliance: Appliance) -> health.ApplianceLoad:
    appliance.refresh_from_db()
    return health.appliance_loads([appliance])[appliance.pk]


def test_beyond_200_machines_the_appliance_warns_to_add_a_scale_out_process_server(project):
    appliance = project.appliances.get()
    for index in range(health.APPLIANCE_MAX_MACHINES):
        make_item(project, f"vm{index:03}")
    # Neither a migrated server whose replication stopped nor a failed enable loads the process server.
    make_item(project, "gone", state=MigrationState.MIGRATION_SUCCEEDED, replication_stopped_at=clock.now())
    make_item(project, "failed", state=MigrationState.ENABLE_MIGRATION_FAILED)
    now = clock.now()
    assert load_of(appliance).machines == 200
    assert health.appliance_health(appliance, now, load_of(appliance)) == "Normal"
    assert health.appliance_health_errors(appliance, load_of(appliance)) == []

    make_item(project, "vm200", state=MigrationState.INITIAL_SEEDING_IN_PROGRESS)
    load = load_of(appliance)
    assert load.machines == 201
    assert health.appliance_health(appliance, now, load) == "Warning"
    [error] = health.appliance_health_errors(appliance, load)
    assert error["errorLevel"] == "Warning" and error["errorCode"] == health.ApplianceOverCapacity.code
    assert "201 machines replicate through it (up to 200 are supported)" in error["summaryMessage"]
    assert "scale-out process server" in error["recommendedAction"]
    assert MigrationItem.objects.filter(appliance=appliance).count() == 203


def test_beyond_2_tb_of_changed_data_a_day_the_appliance_warns(project):
    appliance = project.appliances.get()
    now = clock.now()
    for per_day, expected in ((2 * TB, "Normal"), (2 * TB + 1, "Warning")):
        services.appliance_heartbeat(
            appliance,
            version="1.0",
            components={},
            load={"changed_bytes_per_day": per_day, "peak_machine_bytes_per_second": 1e6},
        )
        assert health.appliance_health(appliance, now, load_of(appliance)) == expected
    [error] = health.appliance_health_errors(appliance, load_of(appliance))
    assert (
        "received 2.0 TB of changed data in the last 24 hours (about 2 TB a day is supported)"
        in (error["summaryMessage"])
    )


def test_a_machine_churning_over_54_mb_s_makes_the_appliance_warn(project):
    appliance = project.appliances.get()
    services.appliance_heartbeat(
        appliance,
        version="1.0",
        components={},
        load={"changed_bytes_per_day": TB, "peak_machine_bytes_per_second": 55e6},
    )
    [error] = health.appliance_health_errors(appliance, load_of(appliance))
    assert "a machine's churn peaked at 55 MB/s (up to 54 MB/s per machine is supported)" in error["summaryMessage"]


def test_the_heartbeat_carries_the_load_and_the_api_and_portal_show_the_warning(project, client):
    appliance, credential = services.appliance_register(key_text=issue(project)[1], name="appliance-1")
    api = APIClient()
    url = f"/appliance-api/v1/appliances/{appliance.pk}/heartbeat"
    body = {"version": "1.0", "components": {"processServer": "Running"}, "listen": "0.0.0.0:9443"}
    for bad in ({"changedBytesLastDay": "lots", "peakMachineBytesPerSecond": 1}, {"changedBytesLastDay": -1}, []):
        answer = api.post(url, {**body, "load": bad}, format="json", HTTP_AUTHORIZATION=f"Appliance {credential}")
        assert answer.status_code == 200  # an unusable load is ignored, as an older appliance's absent one
    load = {"changedBytesLastDay": 3 * TB, "peakMachineBytesPerSecond": 20e6}
    answer = api.post(url, {**body, "load": load}, format="json", HTTP_AUTHORIZATION=f"Appliance {credential}")
    assert answer.status_code == 200, answer.content
    appliance.refresh_from_db()
    assert (appliance.changed_bytes_per_day, appliance.peak_machine_bytes_per_second) == (3 * TB, 20e6)

    vault = Vault(project_services.project_vault(project))
    provider = provider_body(vault, appliance, clock.now())["properties"]
    assert [error["errorCode"] for error in provider["healthErrorDetails"]] == [health.ApplianceOverCapacity.code]
    assert provider["connectionStatus"] == "Connected"

    client.force_login(User.objects.get(email="admin@contoso.com"))
    page = client.get(reverse("replication:discover") + "?" + urlencode({"project": project.arm_id})).content.decode()
    assert "is over the capacity of one process server" in page and "Add a scale-out process server" in page


def test_the_churn_meter_keeps_a_day_and_each_minutes_busiest_machine():
    now = [1_000_000 * 60.0]
    meter = ChurnMeter(clock=lambda: now[0])
    meter.record("m1", 60 * 10**6)  # 1 MB/s over the minute
    meter.record("m2", 30 * 10**6)
    meter.record("m1", 60 * 10**6)
    assert meter.summary() == {"changedBytesLastDay": 150 * 10**6, "peakMachineBytesPerSecond": 2e6}
    now[0] += 23 * 3600
    meter.record("m2", 6 * 10**6)
    assert meter.summary()["changedBytesLastDay"] == 156 * 10**6
    now[0] += 3600  # the first minute is now more than a day old
    assert meter.summary() == {"changedBytesLastDay": 6 * 10**6, "peakMachineBytesPerSecond": 1e5}
