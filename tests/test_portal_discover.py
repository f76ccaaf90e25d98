"""Discover, as in the tutorial: Create resources locks the target region; the registration key
downloads only for users allowed to register applications, and expires five days later."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import sign_in
from tests.hubs import CONTOSO, unique
from tests.test_isolation import csrf, portal_session

pytestmark = [pytest.mark.browser, pytest.mark.live]


def verify(hub, key_text: str) -> requests.Response:
    return requests.post(f"{hub.url}/appliance-api/v1/registration-keys/verify", json={"key": key_text}, timeout=10)


def set_app_registrations(page, hub, value: str) -> None:
    page.goto(hub.url + "/aad/user-settings/")
    page.get_by_role("radio", name=value).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Successfully saved user settings.")).to_be_visible()


def test_discover_create_resources_then_a_key_for_those_allowed(live_hub, browser):
    project = unique("disc")[:20]
    path = f"/subscriptions/{CONTOSO}/resourceGroups/rg-migrate/providers/Microsoft.Migrate/migrateProjects/{project}"
    live_hub.api("PUT", path, json={"location": "westeurope"})
    live_hub.api("POST", f"{path}/registerTool", json={"tool": "ServerMigration"})

    admin = browser.new_context().new_page()
    sign_in(admin, live_hub)
    admin.goto(f"{live_hub.url}/migrate/servers/?project={quote(path, safe='')}")
    admin.locator("#tool-server-migration").get_by_role("link", name="Discover").click()
    expect(admin.get_by_role("heading", name="Discover machines").first).to_be_visible()
    admin.get_by_label("Not virtualized/Other").check()
    admin.get_by_label("Target region", exact=True).select_option(label="North Europe")
    admin.get_by_role("button", name="Create resources").click()
    expect(admin.locator(".field-error")).to_contain_text("Confirm the target region")
    admin.get_by_label("Confirm that the target region for migration is North Europe").check()
    admin.get_by_role("button", name="Create resources").click()
    expect(admin.locator("#region-locked")).to_contain_text("All migrations from this project go to North Europe")
    expect(admin.get_by_label("Target region", exact=True)).to_be_disabled()
    for _ in range(20):  # the job runs on the worker; the page shows its result on the next load
        if admin.locator("#install-appliance").count():
            break
        admin.wait_for_timeout(250)
        admin.reload()
    expect(admin.locator("#migration-resources")).not_to_contain_text("Pending")
    solution = live_hub.api("GET", f"{path}/solutions/Servers-Migration-ServerMigration").json()
    vault_id = solution["properties"]["details"]["extendedDetails"]["vaultId"]
    assert live_hub.api("GET", vault_id, params={"api-version": "2026-11-01"}).json()["location"] == "northeurope"

    # appdev may not register applications: the download says so and gives nothing.
    appdev = browser.new_context().new_page()
    sign_in(appdev, live_hub, "appdev@contoso.com")
    appdev.goto(admin.url)
    expect(appdev.locator("#register-denied")).to_contain_text("You can't register applications")
    appdev.get_by_role("button", name="Download").click()
    expect(appdev.locator(".messages")).to_contain_text(
        "You can't register applications in the Contoso directory, and registering a replication appliance creates "
        "an Azure AD app. Ask a Global administrator to set App registrations to Yes"
    )

    set_app_registrations(admin, live_hub, "Yes")
    try:
        appdev.reload()
        expect(appdev.locator("#register-denied")).to_have_count(0)
        with appdev.expect_download() as download_info:
            appdev.get_by_role("button", name="Download").click()
        download = download_info.value
        assert download.suggested_filename.startswith(project) and download.suggested_filename.endswith(
            ".MigrateHubKey"
        )
        key_text = Path(download.path()).read_text()
    finally:
        set_app_registrations(admin, live_hub, "No")

    verified = verify(live_hub, key_text)
    assert verified.status_code == 200, verified.text
    assert (verified.json()["project"], verified.json()["targetRegion"]) == (project, "northeurope")
    tampered = key_text.replace('"northeurope"', '"eastus"')
    assert verify(live_hub, tampered).json()["error"]["code"] == "RegistrationKeyTampered"

    # Five days later (on the emulator's clock) the key has expired.
    operator = portal_session(live_hub, "admin@contoso.com")
    try:
        moved = operator.post(
            f"{live_hub.url}/emulator/clock", data={"action": "advance", "duration": "5d", **csrf(operator)}
        )
        assert moved.json()["offsetSeconds"] == 5 * 86400
        refused = verify(live_hub, key_text)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "RegistrationKeyExpired"
        assert "valid for five days" in refused.json()["error"]["message"]
        admin.reload()
        expect(admin.locator(".emulated-time")).to_contain_text("Emulated time")
    finally:
        operator.post(f"{live_hub.url}/emulator/clock", data={"action": "reset", **csrf(operator)})
