"""The Emulator blade's Snapshots tab, clicked as an operator would: save the hub as "cutover-night",
change it, restore it after the confirmation, and reset it to the demo data. Against a hub of its own
(the embedded default: SQLite), since a restore rewinds everything other tests made.
DOCS_SCREENSHOTS=1 also saves the tab (1400x900) into docs/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import hubs
from tests.conftest import screenshot, sign_in

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def snapshot_portal_hub(tmp_path_factory):
    hub = hubs.embedded_hub(tmp_path_factory.mktemp("snapshot-portal-hub"))
    yield hub
    hub.stop()


def resource_group_exists(hub, name: str) -> bool:
    response = hub.api("GET", f"/subscriptions/{hubs.CONTOSO}/resourcegroups/{name}")
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


def test_save_change_restore_and_reset_from_the_snapshots_tab(snapshot_portal_hub, page):
    hub = snapshot_portal_hub
    hub.token("admin@contoso.com")  # made before the snapshot, so it outlives the restore
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, hub)
    page.locator("#nav-emulator").click()
    page.get_by_role("tab", name="Snapshots").click()
    expect(page.get_by_role("heading", name="No snapshots")).to_be_visible()

    # A name that is no name is refused on the form.
    page.get_by_label("Snapshot name").fill("../cutover")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error")).to_contain_text("A snapshot name is 1 to 63 letters")

    page.get_by_label("Snapshot name").fill("cutover-night")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Saved snapshot cutover-night")
    row = page.locator("#snapshot-list tr[data-snapshot='cutover-night']")
    expect(row).to_contain_text("admin@contoso.com")

    # The rehearsal changes the hub.
    group = hubs.unique("rg-after-snapshot")
    created = hub.api("PUT", f"/subscriptions/{hubs.CONTOSO}/resourcegroups/{group}", json={"location": "westeurope"})
    assert created.status_code == 201, created.text
    assert resource_group_exists(hub, group)

    # Restore asks first; dismissing changes nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Restore").click()
    assert resource_group_exists(hub, group)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Restore").click()
    expect(page.locator(".messages")).to_contain_text("Restored snapshot cutover-night")
    assert not resource_group_exists(hub, group)
    expect(page.get_by_role("tab", name="Snapshots")).to_have_attribute("aria-selected", "true")  # still signed in
    screenshot(page, "emulator-snapshots.png")

    # Reset to the demo data: the operator signs in again; the snapshots stay.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#reset-hub").click()
    page.wait_for_url("**/signin/**")
    sign_in(page, hub)
    page.goto(hub.url + "/emulator/portal/snapshots/")
    expect(page.locator("#snapshot-list tr[data-snapshot='cutover-night']")).to_be_visible()
