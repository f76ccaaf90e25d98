"""Prepare Azure in the portal, clicked as a person would: directory settings, IAM, virtual networks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import sign_in
from tests.hubs import CONTOSO, unique

pytestmark = [pytest.mark.browser, pytest.mark.live]
RG_IAM = f"/resource/subscriptions/{CONTOSO}/resourceGroups/rg-migrate/iam/"


def create_refused_then_accepted(page, error: str, field: str, corrected: str, created: str) -> None:
    """Press Create and see `error` beside a field; set `field` to `corrected`, press Create again and
    see the message `created`."""
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".field-error")).to_contain_text(error)
    page.get_by_label(field).fill(corrected)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text(created)).to_be_visible()


def test_check_access_shows_an_inherited_owner(live_hub, page):
    sign_in(page, live_hub, "viewer@contoso.com")
    page.get_by_role("link", name="Resource groups").first.click()
    page.get_by_role("link", name="rg-migrate").click()
    page.get_by_role("link", name="Access control (IAM)").click()
    page.get_by_role("tab", name="Check access").click()
    page.get_by_label("Find").fill("admin@contoso.com")
    page.get_by_role("button", name="Check access").click()
    row = page.locator("#effective-access tbody tr").filter(has_text="Owner")
    expect(row).to_contain_text("Subscription (Inherited)")
    expect(row).to_contain_text(f"/subscriptions/{CONTOSO}")
    # A Reader sees the assignments but cannot add one, and is told why.
    expect(page.locator("#add-denied")).to_contain_text("You need Owner or User Access Administrator")

    # The same from the subscription: Subscriptions > Contoso Production > Access control (IAM).
    page.get_by_role("link", name="Subscriptions").first.click()
    page.get_by_role("link", name="Contoso Production").click()
    expect(page.locator("table.props")).to_contain_text("Reader")
    page.get_by_role("link", name="Access control (IAM)").click()
    page.get_by_role("tab", name="Role assignments").click()
    expect(page.locator("#role-assignments")).to_contain_text("admin@contoso.com")
    expect(page.locator("#role-assignments tr").filter(has_text="admin@contoso.com")).to_contain_text("This resource")


def test_an_owner_adds_and_removes_a_role_assignment(live_hub, page):
    group = unique("rg-iam")
    live_hub.api("PUT", f"/subscriptions/{CONTOSO}/resourcegroups/{group}", json={"location": "westeurope"})
    sign_in(page, live_hub)
    page.goto(f"{live_hub.url}/resource/subscriptions/{CONTOSO}/resourceGroups/{group}/iam/")
    page.get_by_role("link", name="Add role assignment").click()
    page.get_by_label("Role").select_option("User Access Administrator")
    page.get_by_label("Select").select_option(label="Contoso Migration Engineer (migrator@contoso.com)")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Added User Access Administrator for migrator@contoso.com.")).to_be_visible()
    row = page.locator("#role-assignments tr").filter(has_text="User Access Administrator")
    expect(row).to_contain_text("This resource")

    page.get_by_role("tab", name="Check access").click()
    page.get_by_label("Find").fill("migrator@contoso.com")
    page.get_by_role("button", name="Check access").click()
    expect(page.locator("#effective-access")).to_contain_text("Contributor")
    expect(page.locator("#effective-access")).to_contain_text("User Access Administrator")

    page.get_by_role("tab", name="Role assignments").click()
    page.locator("#role-assignments tr").filter(has_text="User Access Administrator").get_by_role(
        "button", name="Remove"
    ).click()
    expect(page.get_by_text("Removed User Access Administrator from migrator@contoso.com.")).to_be_visible()
    expect(page.locator("#role-assignments")).not_to_contain_text("User Access Administrator")


def test_app_registrations_follow_the_directory_setting(live_hub, browser):
    appdev = browser.new_context().new_page()
    sign_in(appdev, live_hub, "appdev@contoso.com")
    appdev.get_by_role("link", name="Azure Active Directory").click()
    expect(appdev.locator("#can-register")).to_contain_text(
        "Not allowed. You can't register applications in the Contoso directory"
    )
    expect(appdev.locator("#can-register")).to_contain_text(
        "Ask a Global administrator to set App registrations to Yes"
    )
    appdev.get_by_role("link", name="User settings").click()
    expect(appdev.get_by_role("button", name="Save")).to_be_disabled()

    admin = browser.new_context().new_page()
    sign_in(admin, live_hub)
    admin.get_by_role("link", name="Azure Active Directory").click()
    admin.get_by_role("link", name="User settings").click()
    admin.get_by_role("radio", name="Yes").check()
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_text("Successfully saved user settings.")).to_be_visible()
    try:
        appdev.get_by_role("link", name="Overview").click()
        expect(appdev.locator("#can-register")).to_have_text("Allowed")
    finally:
        admin.get_by_role("radio", name="No").check()
        admin.get_by_role("button", name="Save").click()
        expect(admin.get_by_text("Successfully saved user settings.")).to_be_visible()
    appdev.reload()
    expect(appdev.locator("#can-register")).to_contain_text("Not allowed")


def test_the_application_developer_role_allows_app_registration(live_hub, browser):
    admin = browser.new_context().new_page()
    sign_in(admin, live_hub)
    admin.goto(live_hub.url + "/aad/")
    admin.get_by_role("link", name="Roles and administrators").click()
    admin.get_by_role("link", name="Application Developer").click()
    admin.get_by_label("Add assignments").select_option("netadmin@contoso.com")
    admin.get_by_role("button", name="Add").click()
    expect(admin.get_by_text("netadmin@contoso.com now holds Application Developer.")).to_be_visible()

    netadmin = browser.new_context().new_page()
    sign_in(netadmin, live_hub, "netadmin@contoso.com")
    netadmin.goto(live_hub.url + "/aad/")
    expect(netadmin.locator("#can-register")).to_have_text("Allowed")
    expect(netadmin.locator("#my-permissions")).to_contain_text("Application Developer")

    admin.get_by_role("row").filter(has_text="netadmin@contoso.com").get_by_role("button", name="Remove").click()
    expect(admin.get_by_text("Removed Application Developer from netadmin@contoso.com.")).to_be_visible()
    netadmin.reload()
    expect(netadmin.locator("#can-register")).to_contain_text("Not allowed")


def test_a_global_administrator_adds_a_user_who_can_sign_in(live_hub, browser):
    email = f"{unique('newhire')}@contoso.com"
    admin = browser.new_context().new_page()
    sign_in(admin, live_hub)
    admin.goto(live_hub.url + "/aad/users/")
    admin.get_by_role("link", name="New user").click()
    admin.get_by_label("Name", exact=True).fill("New Hire")
    admin.get_by_label("User name").fill(email)
    admin.get_by_label("Password").fill("short")
    create_refused_then_accepted(
        admin, "at least 8 characters", "Password", "a-long-enough-password", f"Created user {email}."
    )
    expect(admin.locator("table.grid")).to_contain_text(email)

    newcomer = browser.new_context().new_page()
    newcomer.goto(live_hub.url + "/signin/")
    newcomer.get_by_label("Email, phone, or Skype").fill(email)
    newcomer.get_by_label("Password").fill("a-long-enough-password")
    newcomer.get_by_role("button", name="Sign in").click()
    newcomer.goto(live_hub.url + "/resource-groups/")
    expect(newcomer.get_by_text("No resource groups you can see.")).to_be_visible()


def test_a_virtual_network_is_created_checked_and_deleted(live_hub, page):
    name = unique("vnet")
    sign_in(page, live_hub, "migrator@contoso.com")
    page.get_by_role("link", name="Virtual networks").first.click()
    expect(page.locator("#networks")).to_contain_text("vnet-test")
    page.get_by_role("link", name="Create").click()
    page.get_by_label("Resource group").select_option(label="rg-migrate (Contoso Production)")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("IPv4 address space").fill("10.60.0.0/16")
    page.get_by_label("Subnet address range").fill("10.61.0.0/24")
    page.get_by_label("Environment tag").select_option("test")
    create_refused_then_accepted(
        page,
        "outside the IP address range of virtual network",
        "Subnet address range",
        "10.60.1.0/24",
        f"Created virtual network {name}.",
    )
    expect(page.locator("#subnets")).to_contain_text("10.60.1.0/24")

    page.get_by_label("Name", exact=True).fill("overlap")
    page.get_by_label("Subnet address range").fill("10.60.1.128/25")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error")).to_contain_text("overlaps with that of an existing subnet")

    page.get_by_label("Name", exact=True).fill("second")
    page.get_by_label("Subnet address range").fill("10.60.2.0/24")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#subnets")).to_contain_text("second")
    page.locator("#subnets tr").filter(has_text="second").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Deleted subnet second.")).to_be_visible()
    expect(page.locator("#subnets")).not_to_contain_text("second")
    network = live_hub.api(
        "GET", f"/subscriptions/{CONTOSO}/resourceGroups/rg-migrate/providers/Microsoft.Network/virtualNetworks/{name}"
    )
    assert network.json()["tags"] == {"environment": "test"}

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").first.click()
    expect(page.get_by_text(f"Deleted virtual network {name}.")).to_be_visible()
    expect(page.locator("#networks")).not_to_contain_text(name)
