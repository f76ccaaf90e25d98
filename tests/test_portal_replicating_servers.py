"""Track and monitor, as in the tutorial: Replicating servers from the tool card, filters and search, a
server's blade, rows that change live, and Manage > Replicating machines editable only until
replication starts.

How the servers get there: the appliance, its agents' reports, Replicate and Start replication run
through the hub's own services in the live hub's process (manage.py shell), and the Start replication
jobs run on its Celery worker. The first replicated data is then written with the ORM and pushed with
replication.push, standing in for the agent -> appliance -> hub data path until that path is finished; the
end-to-end browser test will drive it for real."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import sign_in
from tests.hubs import CONTOSO, unique
from tests.test_isolation import create_resources

pytestmark = [pytest.mark.browser, pytest.mark.live]

# Run by the live hub (manage.py shell): three servers replicated through a finalized appliance, one
# of whose agents the appliance reports disconnected.
REPLICATE = """
import json
from datetime import timedelta
from django.utils import timezone
from jobs.models import Job
from jobs.tests.runs import job_run_to_end
from projects.models import MigrateProject, User
from projects import services as project_services
from replication import services
from replication.keys import registration_key_issue
from replication.models import DiscoveredServer, MigrationItem
from replication.replicate import replication_enable
from replication.tests.plans import plan_into_vnet_prod

project = MigrateProject.objects.get(name=NAME)
admin = User.objects.get(email="admin@contoso.com")
_, key = registration_key_issue(
    user=admin, project=project, hub_url="http://hub.test/", vault=project_services.project_vault(project)
)
appliance, _ = services.appliance_register(key_text=key, name="appliance-" + NAME)
job_run_to_end(services.appliance_finalize_start(user=admin, appliance=appliance).pk)  # here or on the worker
appliance.refresh_from_db()
servers = []
for name in ("web01", "web02", "db01"):
    server = services.server_report(
        appliance=appliance,
        machine_id=NAME + name,
        agent_version="9.60",
        machine={
            "hostName": name, "osType": "Linux", "osName": "Ubuntu", "cores": 2, "memoryMB": 4096,
            "disks": [
                {"diskId": "disk0", "sizeBytes": 8 << 30, "isOsDisk": True},
                {"diskId": "disk1", "sizeBytes": 8 << 30},
            ],
            "nics": [{"nicId": "nic0", "ipAddresses": ["10.0.0.4"], "isPrimary": True}],
        },
    )
    services.server_discover(server.pk)
    servers.append(DiscoveredServer.objects.get(pk=server.pk))
plan = plan_into_vnet_prod(appliance, project, servers)
replication_enable(admin, project, plan)
services.agents_report(appliance, [{"machineId": NAME + "db01", "connected": False}])
items = {item.server.name: str(item.pk) for item in MigrationItem.objects.filter(project=project)}
# A job of web02's that no worker has run yet (written directly, so the worker can't finish it first;
# queued "tomorrow", so the worker's supervision does not take it for a lost message and queue it).
waiting = Job.objects.create(
    subscription=project.subscription, resource_group_name="rg-migrate", scenario_name="EnableMigration",
    friendly_name="Start replication", target_object_id=items["web02"], target_object_name="web02",
    target_instance_type="ProtectionEntity", input={"item_id": items["web02"]},
    queued_at=timezone.now() + timedelta(days=1),
)
MigrationItem.objects.filter(pk=items["web02"]).update(current_job=waiting)
print(json.dumps({**items, "waiting_job": str(waiting.pk)}))
"""

# Stand-in for the data path (see the module docstring): web01's first data arrives, half of its disks read.
FIRST_DATA = """
import time
from hub import clock
from replication import push
from jobs.services import job_run
from replication.models import MigrationItem, TransferSample
item = MigrationItem.objects.select_related("project__resource_group").get(pk=ITEM)
now = clock.now()
MigrationItem.objects.filter(pk=item.pk).update(
    replication_started_at=now, last_upload_at=now, throughput_bytes_per_second=3 << 20
)
item.disks.update(scanned_bytes=4 << 30, transferred_bytes=3 << 29)
TransferSample.objects.create(project=item.project, minute=now.replace(second=0, microsecond=0), bytes=3 << 30)
job_run(JOB)  # web02's job ends: the hub pushes only its job row
# As the data path does, a push per batch: a page whose socket is reconnecting misses one, not all.
for _ in range(3):
    push.replicating_servers_changed(item.project, [item])
    time.sleep(1)
"""


def shell(hub, code: str, **names) -> str:
    prelude = "".join(f"{name} = {json.dumps(value)}\n" for name, value in names.items())
    return hub.manage("shell", "-c", prelude + code).strip().splitlines()[-1]


def test_replicating_servers_are_tracked_live_and_settings_lock_when_replication_starts(live_hub, browser):
    name = unique("track")[:20]
    path = f"/subscriptions/{CONTOSO}/resourceGroups/rg-migrate/providers/Microsoft.Migrate/migrateProjects/{name}"
    live_hub.api("PUT", path, json={"location": "westeurope"})
    live_hub.api("POST", f"{path}/registerTool", json={"tool": "ServerMigration"})
    create_resources(live_hub, path)
    items = json.loads(shell(live_hub, REPLICATE, NAME=name))

    page = browser.new_context().new_page()
    sign_in(page, live_hub)
    page.goto(f"{live_hub.url}/migrate/servers/?project={quote(path, safe='')}")
    expect(page.locator("#replicating-count")).to_have_text("3")
    page.locator("#replicating-count").get_by_role("link", name="3").click()
    expect(page.get_by_role("heading", name="Azure Migrate: Server Migration | Replicating machines")).to_be_visible()
    table = page.locator("#replicating-servers")
    # Start replication ran on the worker: every server waits for its agent's first data.
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table).to_contain_text("Initial replication pending", timeout=15_000)
    expect(page.locator(f"#replicating-{items['db01']}")).to_contain_text("Critical")

    # Filter pills and search ask the server, and the address keeps them.
    page.get_by_label("Health").select_option("Critical")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("db01")
    assert "health=Critical" in page.url
    page.get_by_label("Health").select_option("")
    page.get_by_label("Filter by name").fill("web")
    expect(table.locator("tbody tr")).to_have_count(2)
    page.get_by_role("link", name="Name").click()  # already by name: now Z to A
    expect(table.locator("tbody tr").first).to_contain_text("web02")

    # A server's blade: its health errors say why and what to do.
    page.get_by_label("Filter by name").fill("")
    expect(table.locator("tbody tr")).to_have_count(3)
    page.get_by_role("link", name="db01").click()
    expect(page.get_by_role("heading", name="db01")).to_be_visible()
    health = page.locator(f"#replicating-health-{items['db01']}")
    expect(health).to_contain_text("is not sending heartbeats")
    expect(health).to_contain_text("Recommended action")
    page.go_back()

    # Before replication starts, web01's settings can change.
    page.goto(f"{live_hub.url}/migrate/replicating-servers/{items['web01']}/settings/")
    page.get_by_label("Azure VM size").select_option("Standard_D4s_v3")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Saved the replication settings of web01.")

    # A Fabrikam page connected to the same hub receives nothing of Contoso's.
    fabrikam = browser.new_context().new_page()
    sign_in(fabrikam, live_hub, "admin@fabrikam.com")
    fabrikam.goto(f"{live_hub.url}/jobs/")
    expect(fabrikam.locator("body")).to_have_attribute("data-live", "connected")
    fabrikam.evaluate(
        "window.pushed = []; document.addEventListener('hub:live', e => window.pushed.push(e.detail.html))"
    )

    # web01's first data: its row and its open blade change without a reload.
    blade = browser.new_context().new_page()
    sign_in(blade, live_hub)
    blade.goto(f"{live_hub.url}/migrate/replicating-servers/{items['web01']}/")
    page.goto(f"{live_hub.url}/migrate/replicating-servers/?project={quote(path, safe='')}")
    for watcher in (page, blade):
        expect(watcher.locator("body")).to_have_attribute("data-live", "connected")
        watcher.evaluate("window.notReloaded = true")
    running = page.locator(f"#replicating-{items['web02']}")
    expect(running.get_by_role("link", name="Start replication")).to_be_visible()
    shell(live_hub, FIRST_DATA, ITEM=items["web01"], JOB=items["waiting_job"])
    row = page.locator(f"#replicating-{items['web01']}")
    expect(row).to_contain_text("Initial replication 50%")
    expect(row).to_contain_text("3.2 GB")  # 3 GiB transferred, in decimal units
    expect(blade.locator(f"#replicating-summary-{items['web01']}")).to_contain_text("Initial replication 50%")
    expect(blade.locator(f"#replicating-target-{items['web01']}")).to_contain_text(
        "Settings can't be changed after replication starts."
    )
    # The job's row came alone; the row of the server it belonged to asked for itself again.
    expect(running.get_by_role("link", name="Start replication")).to_have_count(0)
    assert page.evaluate("window.notReloaded") and blade.evaluate("window.notReloaded")
    assert not any("replicating-" in html for html in fabrikam.evaluate("window.pushed"))

    # Replication started: every setting is shown but disabled, and the page says why.
    page.goto(f"{live_hub.url}/migrate/replicating-servers/{items['web01']}/settings/")
    expect(page.locator("#settings-locked")).to_contain_text("Settings can't be changed after replication starts.")
    expect(page.get_by_label("Azure VM size")).to_be_disabled()
    expect(page.get_by_label("Azure VM name")).to_be_disabled()
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
    expect(page.get_by_label("Azure VM size")).to_have_value("Standard_D4s_v3")

    # The Server Migration overview, from the tool card: health counts open the filtered list.
    page.goto(f"{live_hub.url}/migrate/servers/?project={quote(path, safe='')}")
    page.locator("#tool-server-migration").get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Azure Migrate: Server Migration | Overview")).to_be_visible()
    expect(page.locator(".health-summary")).to_contain_text("Critical 1")
    expect(page.locator(".transfer-chart rect")).to_have_count(1)
    page.locator(".health-summary").get_by_role("link", name="Critical").click()
    expect(page.locator("#replicating-servers tbody tr")).to_have_count(1)
    expect(page.locator("#replicating-servers")).to_contain_text("db01")
