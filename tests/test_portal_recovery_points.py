"""Choosing a recovery point, clicked as a person would: a server with two points (its disk changed
between them), Test migrate from the older one, and the test VM's disk SHA-256 is the source's at that
point, not the latest; Migrate offers the same choice. DOCS_SCREENSHOTS=1 saves both blades (1400x900).

The replicating server is set up as in test_portal_migration.py (the in-process batch encoder of
replication/tests/encoder.py on the live hub), plus a delta cycle that changes its first block.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot, sign_in
from tests.hubs import unique
from tests.test_portal_migration import JOB_TIMEOUT_MS, SET_UP_REPLICATING_SERVER, open_row_menu

pytestmark = [pytest.mark.browser, pytest.mark.live]


# Run after SET_UP_REPLICATING_SERVER in the same shell: a second cycle changes block 0.
SECOND_POINT = """
import hashlib
from replication.tests.encoder import records
source = image(7, MIB)
first_sha = hashlib.sha256(source).hexdigest()
ps = ProcessServer(project)
time.sleep(1.1)  # the portal lists points to the second
source[0:4096] = b"changed after the first point".ljust(4096, b"!")
body = ps.body(item, "disk0", item.disks.get().stored_sequence + 1, 2, records(bytes(source), [0]), full=False,
               marker=encoder.marker(2, bytes(source)))
from replication import uploads
uploads.batch_store(item.appliance, body)
for _ in range(100):
    apply(item)
    if item.recovery_points.filter(cycle=2).exists():
        break
    time.sleep(0.2)
first = item.recovery_points.get(cycle=1)
print(json.dumps({"first_sha": first_sha, "latest_sha": hashlib.sha256(source).hexdigest(),
                  "first_label": first.captured_at.strftime("%Y-%m-%d %H:%M:%S") + " UTC",
                  "points": item.recovery_points.count()}))
"""


@pytest.fixture
def server_with_two_points(live_hub):
    project, server = unique("rpts")[:20], unique("web")
    script = SET_UP_REPLICATING_SERVER.format(project=project, server=server) + SECOND_POINT
    lines = live_hub.manage("shell", "-c", script).strip().splitlines()
    created, points = json.loads(lines[-2]), json.loads(lines[-1])
    assert points["points"] == 2
    return {"server": server, **created, **points}


def test_test_migrate_from_an_older_recovery_point(live_hub, page, server_with_two_points):
    server = server_with_two_points["server"]
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, live_hub)
    project = quote(server_with_two_points["project"], safe="")
    page.goto(f"{live_hub.url}/migrate/test-migrated-servers/?project={project}")
    open_row_menu(page, server).get_by_role("menuitem", name="Test migrate").click()
    expect(page.get_by_role("heading", name="Test Migration")).to_be_visible()
    choice = page.get_by_label("Recovery point")
    expect(choice.locator("option:checked")).to_have_text(re.compile(r"^Latest processed"))
    expect(choice.locator("option")).to_have_count(3)  # Latest processed and the two points
    older = server_with_two_points["first_label"]
    choice.select_option(label=f"{older} · crash-consistent")
    page.get_by_role("radio", name=re.compile("vnet-test")).check()
    # The subnets follow the network chosen (swapped in by the page): sent before that, the form refuses
    # the other network's subnet.
    expect(page.get_by_label("Subnet")).to_have_value("test")
    screenshot(page, "test-migrate-recovery-point.png")
    page.get_by_role("button", name="Test migration").click()
    # A loaded shared hub may take more than the default 5 s to answer the form.
    expect(page.locator(".messages")).to_contain_text(f"Test migration of {server} started", timeout=JOB_TIMEOUT_MS)
    row = page.locator("#test-migrated-servers tr").filter(has_text=server)
    expect(row.locator(".test-state")).to_contain_text("Test clean up pending", timeout=JOB_TIMEOUT_MS)

    # The test VM holds the older point: the disk as it was before block 0 changed.
    page.get_by_role("link", name="Virtual machines").first.click()
    page.locator("#virtual-machines").get_by_role("link", name=f"{server}-Test", exact=True).click()
    digest = page.locator("#disks code.digest")
    expect(digest).to_have_text(server_with_two_points["first_sha"])
    assert server_with_two_points["first_sha"] != server_with_two_points["latest_sha"]

    # Migrate offers the same choice (and waits for the clean-up first).
    page.goto(f"{live_hub.url}/migrate/test-migrated-servers/?project={project}")
    open_row_menu(page, server).get_by_role("menuitem", name="Clean up test migration").click()
    page.get_by_role("button", name="Clean up test migration").click()
    row = page.locator("#test-migrated-servers tr").filter(has_text=server)
    expect(row).to_contain_text("Succeeded (cleaned up)", timeout=JOB_TIMEOUT_MS)
    open_row_menu(page, server).get_by_role("menuitem", name="Migrate", exact=True).click()
    choice = page.get_by_label("Recovery point")
    expect(choice.locator("option")).to_have_count(3)
    choice.select_option(label=f"{older} · crash-consistent")
    page.get_by_role("radio", name="No", exact=True).check()
    screenshot(page, "migrate-recovery-point.png")
    page.get_by_role("button", name="OK", exact=True).click()
    row = page.locator("#test-migrated-servers tr").filter(has_text=server)
    expect(row).to_contain_text("Migration Succeeded", timeout=JOB_TIMEOUT_MS)
    page.get_by_role("link", name="Virtual machines").first.click()
    page.locator("#virtual-machines").get_by_role("link", name=server, exact=True).click()
    expect(page.locator("#disks code.digest")).to_have_text(server_with_two_points["first_sha"])
