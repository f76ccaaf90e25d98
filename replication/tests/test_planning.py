"""The planner's inputs read from the hub (replication.planning), the planReplicationCapacity API, the
Capacity planner page with its CSV, the Replicate review's plan, and the migration item's cutoverForecast."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from hub import clock
from replication import capacity_plan, planning, services
from replication.models import Appliance, MigrationItem, ProtectedDisk
from replication.tests.test_arm_migration import API, World, machine

pytestmark = pytest.mark.django_db
MB = 10**6
GIB = 1024**3


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    world = World(django_capture_on_commit_callbacks)
    # web01's agent reports the space in use on its disks; win01's does not.
    report = machine("web01", "Linux", "Ubuntu", "22.04")
    report["disks"][0]["usedBytes"] = 10 * GIB
    report["disks"][1]["usedBytes"] = 30 * GIB
    with django_capture_on_commit_callbacks():
        services.server_report(appliance=world.appliance, machine_id="m-web01", agent_version="9.60", machine=report)
    world.servers["web01"].refresh_from_db()
    Appliance.objects.filter(pk=world.appliance.pk).update(upload_cap_bytes_per_second=12.5 * MB)
    return world


def plan_path(world) -> str:
    return f"{world.container}/planReplicationCapacity"


def test_used_bytes_from_the_agent_else_the_disk_size_and_the_appliance_cap_as_the_link(world):
    plan = planning.plan(world.project, [(server, None) for server in world.servers.values()])
    web, win = plan.figures.servers
    assert (web.data_bytes, web.data_source) == (40 * GIB, "used space the agent reported")
    assert (win.data_bytes, win.data_source) == (192 * GIB, "disk size (no used space reported)")
    assert plan.link == planning.Link(12.5 * MB, "appliance-1's upload cap")
    assert plan.figures.initial_replication_seconds == pytest.approx(capacity_plan.wire_bytes(232 * GIB) / (12.5 * MB))
    # Only the selected disks count.
    only_os = planning.plan(world.project, [(world.servers["web01"], {"disk0"})])
    assert only_os.figures.total_data_bytes == 10 * GIB


def test_the_api_plans_with_declared_churn_bandwidth_and_rpo_target(world):
    client = world.client()
    body = {
        "properties": {
            "machines": [
                {
                    "fabricDiscoveryMachineId": f"{world.container}/replicationProtectableItems/"
                    f"{world.servers['web01'].pk}",
                    "churnMBps": 2,
                },
                {"fabricDiscoveryMachineId": str(world.servers["win01"].pk), "disksToInclude": ["disk0"]},
            ],
            "bandwidthMbps": 100,
            "rpoTargetMinutes": 30,
        }
    }
    response = client.post(plan_path(world) + "?api-version=2025-08-01", body, format="json")
    assert response.status_code == 200, response.content
    properties = response.json()["properties"]
    assert properties["machineCount"] == 2 and properties["bandwidthSource"] == "declared"
    assert properties["bandwidthMbps"] == 100 and properties["churnMBps"] == 2
    assert properties["totalDataBytes"] == 40 * GIB + 64 * GIB
    expected = capacity_plan.wire_bytes(104 * GIB) / (12.5 * MB - 2 * MB)
    assert properties["initialReplicationSeconds"] == pytest.approx(expected, abs=0.1)
    assert properties["initialReplicationDuration"].startswith("PT")
    assert properties["oneApplianceSuffices"] is True and properties["appliancesNeeded"] == 1
    assert properties["bandwidthForChurnWithHeadroomMbps"] == pytest.approx(2 * 1.2 * 8 * 4108 / 4096, abs=0.01)
    assert properties["machines"][0]["churnSource"] == "declared"


def test_the_api_refuses_bad_bodies_with_the_arm_envelope(world):
    client = world.client()
    url = plan_path(world) + "?api-version=2025-08-01"
    for body, target in (
        ({"properties": {}}, "properties.machines"),
        (
            {"properties": {"machines": [{"fabricDiscoveryMachineId": "nope"}]}},
            "properties.machines[0].fabricDiscoveryMachineId",
        ),
        (
            {
                "properties": {
                    "machines": [{"fabricDiscoveryMachineId": str(world.servers["web01"].pk)}],
                    "bandwidthMbps": -1,
                }
            },
            "properties.bandwidthMbps",
        ),
        (
            {
                "properties": {
                    "machines": [{"fabricDiscoveryMachineId": str(world.servers["web01"].pk), "disksToInclude": ["x"]}]
                }
            },
            "properties.machines[0].disksToInclude",
        ),
    ):
        response = client.post(url, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["target"] == target
    # Another tenant does not see the vault.
    assert world.client("admin@fabrikam.com").post(url, {}, format="json").status_code in (403, 404)


def test_the_planner_page_plans_and_exports_csv(world):
    client = Client()
    client.force_login(world.admin)
    url = reverse("replication:capacity-planner")
    page = client.get(url, {"project": world.project.arm_id})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Capacity planner" in text and "Time to complete initial replication" in text
    assert "appliance-1&#x27;s upload cap" in text
    web = world.servers["web01"]
    query = {
        "project": world.project.arm_id,
        "planned": "1",
        "server": [str(web.pk)],
        f"churn-{web.pk}": "1.5",
        "bandwidth": "50",
    }
    exported = client.get(url, {**query, "format": "csv"})
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    figures = dict(row for row in rows if len(row) == 2)
    assert figures["Servers"] == "1"
    assert figures["Upload bandwidth"].startswith("50.0 Mbps")
    assert ["web01", str(192 * GIB), str(40 * GIB), "used space the agent reported", "1.500", "declared"] in rows
    wrong = client.get(url, {**query, "bandwidth": "lots"})
    assert "Enter a number from 0 to" in wrong.content.decode()


def test_cutover_forecast_from_churn_throughput_and_earlier_builds(world):
    server = world.servers["web01"]
    now = clock.now()
    item = MigrationItem.objects.create(
        project=world.project,
        server=server,
        appliance=world.appliance,
        policy=planning.replication_policy(world.project),
        target_resource_group=world.project.resource_group,
        target_vm_name="web01",
        target_vm_size="Standard_D2s_v3",
        migration_state="Replicating",
        initial_replication_completed_at=now - timedelta(seconds=1000),
        last_recovery_point_at=now - timedelta(seconds=100),
        throughput_bytes_per_second=20 * MB,
    )
    # 1 GB sent beyond the initial 10 GB over the 900 s between the points: churn about 1.11 MB/s.
    ProtectedDisk.objects.create(
        item=item,
        disk_id="disk0",
        is_os_disk=True,
        size_bytes=64 * GIB,
        data_total_bytes=10**10,
        changed_bytes=10**10 + 10**9,
    )
    forecast = planning.cutover_forecast(item)
    assert forecast.churn_source == "measured"
    assert forecast.figures.changed_bytes == pytest.approx(10**9 / 900 * 100, rel=0.02)
    assert forecast.build_source == "model (no VM built in this project yet)"
    properties = planning.forecast_properties(item)
    assert properties["estimatedCutoverJobDuration"] == capacity_plan.iso_duration(forecast.figures.total_seconds)
    # The API's item carries it.
    client = world.client()
    body = client.get(f"{world.container}/replicationMigrationItems/{server.pk}", API).json()
    assert body["properties"]["cutoverForecast"]["estimatedCutoverJobDuration"].startswith("PT")
    # And the Migrate page shows it.
    page = Client()
    page.force_login(world.admin)
    text = page.get(reverse("replication:migrate", args=[item.pk])).content.decode()
    assert "Expected downtime with shutdown" in text and "measured churn" in text
