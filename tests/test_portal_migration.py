"""Run a test migration, Migrate VMs and Complete the migration, clicked as a person would: Test
migrated servers > Test migrate into the test network, Clean up test migration, Migrate without
shutdown, then the VM under Virtual machines with its disks and IP, and a checklist tick.

Setting up the replicating server: the real agent -> appliance -> hub data path is still being
finished, so `replicating_server` builds the server on the live hub through `manage.py shell` with
the same in-process batch encoder as replication/tests/encoder.py (`ProcessServer`): it
registers an appliance with a real registration key, reports and discovers a machine, replicates it
with Replicate's service and sends one full cycle, which the hub stores and applies into a recovery
point. Everything after that (the jobs on the Celery worker, the live updates, the pages) is the real
hub. The end-to-end test with the real agent will replace this set-up.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import sign_in
from tests.hubs import unique

pytestmark = [pytest.mark.browser, pytest.mark.live]

JOB_TIMEOUT_MS = 30_000

# Runs inside the live hub's `manage.py shell`; prints the project's ARM id and the item's id as JSON.
SET_UP_REPLICATING_SERVER = """
import json
import time
from jobs.tests.runs import job_run_to_end
from projects import services as project_services
from projects.models import MigrateProject, ResourceGroup, User, VirtualNetwork
from replication import services
from replication.models import Appliance, MigrationItem, MigrationState
from replication.replicate import DiskChoice, ReplicationPlan, ServerPlan, replication_enable
from replication.tests.conftest import issue
from replication.tests import encoder
from replication.tests.encoder import MIB, ProcessServer, apply, image, send_full

# The agent stamps each cycle with the time it read the disks; the encoder's is a fixed one.
fixed_marker = encoder.marker
encoder.marker = lambda cycle, data: {{**fixed_marker(cycle, data), "capturedAt": time.time()}}

PROJECT, SERVER = {project!r}, {server!r}
admin = User.objects.get(email="admin@contoso.com")
group = ResourceGroup.objects.get(name="rg-migrate")
project, _ = project_services.migrate_project_create_or_update(
    user=admin, resource_group=group, name=PROJECT, location="westeurope"
)
project_services.tool_register(user=admin, project=project, tool="ServerMigration")
job = project_services.create_resources_start(
    user=admin, project=project, target_region="westeurope", machines_virtualized="physical"
)
job_run_to_end(job.pk)  # here or on the worker
project = MigrateProject.objects.get(pk=project.pk)
appliance, _ = services.appliance_register(key_text=issue(project)[1], name=PROJECT + "-appliance")
Appliance.objects.filter(pk=appliance.pk).update(state=Appliance.State.FINALIZED)
appliance.refresh_from_db()
machine = {{
    "hostName": SERVER, "osType": "Linux", "osName": "Ubuntu", "osVersion": "22.04", "architecture": "x86_64",
    "cores": 2, "memoryMB": 4096,
    "disks": [{{"diskId": "disk0", "sizeBytes": MIB, "isOsDisk": True}}],
    "nics": [{{"nicId": "nic0", "ipAddresses": ["192.168.1.20"], "isPrimary": True}}],
}}
server = services.server_report(appliance=appliance, machine_id="m-" + SERVER, agent_version="9.60", machine=machine)
services.server_discover(server.pk)
server.refresh_from_db()
plan = ReplicationPlan(
    appliance=appliance,
    target_resource_group=group,
    target_network=VirtualNetwork.objects.get(name="vnet-prod"),
    target_subnet="default",
    hybrid_benefit=False,
    servers=[ServerPlan(server=server, vm_name=SERVER, os_disk_id="disk0", disks=[DiskChoice("disk0")])],
    new_credentials=(PROJECT + "-creds", "root", "secret"),
)
(job,) = replication_enable(admin, project, plan)
job_run_to_end(job.pk)
item = MigrationItem.objects.get(server=server)
send_full(ProcessServer(project), item, "disk0", image(7, MIB), cycle=1, first_sequence=1)
# The hub's worker applies the batches too; whoever holds the item's apply lease does it.
for _ in range(100):
    apply(item)
    item.refresh_from_db()
    if item.migration_state == MigrationState.REPLICATING:
        break
    time.sleep(0.2)
assert item.migration_state == MigrationState.REPLICATING, item.migration_state
print(json.dumps({{"project": project.arm_id, "item": str(item.pk)}}))
"""


@pytest.fixture
def replicating_server(live_hub):
    project, server = unique("tmig")[:20], unique("web")
    output = live_hub.manage("shell", "-c", SET_UP_REPLICATING_SERVER.format(project=project, server=server))
    created = json.loads(output.strip().splitlines()[-1])
    return {"server": server, **created}


def open_row_menu(page, server: str):
    """The server's "..." menu, open."""
    row = page.locator("#test-migrated-servers tr").filter(has_text=server)
    row.get_by_role("button", name=f"More actions for {server}").click()
    return page.get_by_role("menu", name=f"Actions for {server}")


def test_test_migrate_clean_up_migrate_and_complete_the_migration(live_hub, page, replicating_server):
    server = replicating_server["server"]
    sign_in(page, live_hub)
    page.goto(f"{live_hub.url}/migrate/test-migrated-servers/?project={quote(replicating_server['project'], safe='')}")
    expect(page.get_by_role("heading", name="Azure Migrate: Server Migration | Test migrated servers")).to_be_visible()
    row = page.locator("#test-migrated-servers tr").filter(has_text=server)
    expect(row.locator(".test-state")).to_contain_text("None")

    # Run a test migration: the test network is recommended and preselected; production is not.
    menu = open_row_menu(page, server)
    expect(menu.get_by_text("There is no test migration to clean up: run Test migrate first.")).to_be_visible()
    menu.get_by_role("menuitem", name="Test migrate").click()
    expect(page.get_by_role("heading", name="Test Migration")).to_be_visible()
    expect(page.locator("#test-vm-name")).to_have_text(f"{server}-Test")
    production = page.get_by_role("radio", name=re.compile("vnet-prod"))
    expect(page.locator("label.network-option").filter(has=production)).to_contain_text(
        "not recommended: use a non-production network"
    )
    test_network = page.get_by_role("radio", name=re.compile("vnet-test"))
    # A non-production network is preselected (the shared hub may hold other tests' ones, which sort first).
    expect(page.locator("input[name=network]:checked")).to_have_count(1)
    production.check()  # a person hesitates: the subnets follow the network...
    expect(page.locator("#production-warning")).to_contain_text("vnet-prod is a production network")
    test_network.check()  # ...and goes back to the test network
    expect(page.get_by_label("Subnet")).to_have_value("test")
    page.get_by_role("button", name="Test migration").click()
    expect(page.locator(".messages")).to_contain_text(f"Test migration of {server} started")

    # The job runs on the worker; the row follows it live.
    row = page.locator("#test-migrated-servers tr").filter(has_text=server)
    expect(row.locator(".test-state")).to_contain_text("Test clean up pending", timeout=JOB_TIMEOUT_MS)
    expect(row).to_contain_text(f"{server}-Test")
    menu = open_row_menu(page, server)
    expect(menu).to_contain_text("Clean up the test migration first.")  # Migrate waits
    menu.get_by_role("menuitem", name="Clean up test migration").click()
    expect(page.get_by_text("A test migration counts as done only when it's cleaned up")).to_be_visible()
    page.get_by_label("Comments").fill("The web app answered on the test network.")
    page.get_by_role("button", name="Clean up test migration").click()
    row = page.locator("#test-migrated-servers tr").filter(has_text=server)
    expect(row).to_contain_text("Succeeded (cleaned up)", timeout=JOB_TIMEOUT_MS)
    expect(row.locator(".test-state")).to_contain_text("None")

    # Migrate without shutting down: the portal warns what is lost, and how old the latest point is.
    open_row_menu(page, server).get_by_role("menuitem", name="Migrate", exact=True).click()
    expect(
        page.get_by_text("Shut down virtual machines and perform a planned migration with no data loss?")
    ).to_be_visible()
    expect(page.get_by_role("radio", name="Yes", exact=True)).to_be_checked()
    warning = page.locator("#no-shutdown-warning")
    expect(warning).to_be_hidden()
    page.get_by_role("radio", name="No", exact=True).check()
    expect(warning).to_contain_text("Changes made on the server after the latest recovery point are lost.")
    expect(page.locator("#recovery-point-age")).to_have_text(re.compile(r"^\d+ (second|minute)s?"))
    page.get_by_role("button", name="OK", exact=True).click()
    expect(page.locator(".messages")).to_contain_text(f"Migration of {server} started")
    row = page.locator("#test-migrated-servers tr").filter(has_text=server)
    expect(row).to_contain_text("Migration Succeeded", timeout=JOB_TIMEOUT_MS)

    # The VM under Virtual machines: its disk, its address in the target network, the checklist.
    page.get_by_role("link", name="Virtual machines").first.click()
    page.locator("#virtual-machines").get_by_role("link", name=server, exact=True).click()
    expect(page.get_by_role("heading", name=server, exact=True)).to_be_visible()
    expect(page.locator("#disks")).to_contain_text(f"{server}-disk0")
    expect(page.locator("#disks code.digest")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    expect(page.locator("#private-ip")).to_have_text(re.compile(r"^10\.10\.1\.\d+$"))  # vnet-prod / default
    expect(page.locator("#network-interfaces")).to_contain_text("vnet-prod")
    expect(page.locator("#best-practices")).to_contain_text("Azure Backup")
    page.get_by_label("Cut over traffic to the migrated Azure VM instance.").check()
    expect(page.locator("#step-cut-over")).to_contain_text("Done by admin@contoso.com")
    expect(page.get_by_label("Cut over traffic to the migrated Azure VM instance.")).to_be_checked()
