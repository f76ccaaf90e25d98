"""App registrations in the portal, clicked as a person would: register an application, add a client
secret (its value shown once), give its service principal a role in IAM, delete the application and
see the role assignment gone; and a New registration that is disabled, with the reason, for a user
the directory does not let register applications.

DOCS_SCREENSHOTS=1 also saves the blade's screenshots (1400x900) into docs/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import screenshot, sign_in
from tests.hubs import CONTOSO, unique

pytestmark = [pytest.mark.browser, pytest.mark.live]


def menu(page, entry: str):
    return page.get_by_role("navigation", name="Azure Active Directory menu").get_by_role("link", name=entry)


def test_register_add_a_secret_assign_a_role_and_delete(live_hub, page):
    name = unique("migrate-automation")
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, live_hub)
    page.get_by_role("link", name="Azure Active Directory").click()
    menu(page, "App registrations").click()
    page.get_by_role("link", name="New registration").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text(f"Successfully registered {name}.")).to_be_visible()
    client_id = page.locator("#application-client-id").inner_text()
    expect(page.locator("#application-essentials")).to_contain_text("Directory (tenant) ID")

    page.get_by_role("tab", name="Certificates & secrets").click()
    page.get_by_role("link", name="New client secret").click()
    expect(page.get_by_label("Expires")).to_have_value("180")
    page.get_by_label("Description").fill("pipeline")
    page.get_by_label("Expires").select_option(label="90 days (3 months)")
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#new-secret")).to_contain_text("It is not shown again")
    expect(page.locator("#new-secret")).to_contain_text("It expires on")
    value = page.get_by_label("Client secret value").input_value()
    assert len(value) == 40
    page.get_by_role("button", name="Copy to clipboard").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    screenshot(page, "app-secrets.png")
    # Once: a reload shows the hint only.
    page.get_by_role("tab", name="Certificates & secrets").click()
    expect(page.locator("#client-secrets")).to_contain_text(f"{value[:3]}*******")
    expect(page.locator("body")).not_to_contain_text(value)

    menu(page, "App registrations").click()
    expect(page.locator("#applications")).to_contain_text(client_id)
    screenshot(page, "app-registrations.png")

    # The service principal gets a role on the subscription, in its Access control (IAM).
    page.goto(f"{live_hub.url}/resource/subscriptions/{CONTOSO}/iam/")
    page.get_by_role("link", name="Add role assignment").click()
    expect(page.locator("#assign-access-to")).to_contain_text("User, group, or service principal")
    page.get_by_label("Role").select_option("Reader")
    page.get_by_label("Select").select_option(label=f"{name} (service principal)")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Added Reader for service principal {name}.")).to_be_visible()
    row = page.locator("#role-assignments tr").filter(has_text=name)
    expect(row).to_contain_text("App")
    expect(row).to_contain_text("Reader")

    page.goto(live_hub.url + "/aad/app-registrations/")
    page.get_by_role("link", name=name).click()
    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_text(f"Deleted application {name}")).to_be_visible()
    expect(page.locator("#applications")).not_to_contain_text(name)

    page.goto(f"{live_hub.url}/resource/subscriptions/{CONTOSO}/iam/?tab=assignments")
    expect(page.locator("#role-assignments")).not_to_contain_text(name)


def test_new_registration_is_disabled_with_the_reason(embedded_hub, page):
    sign_in(page, embedded_hub, "appdev@contoso.com")
    page.goto(embedded_hub.url + "/aad/")
    menu(page, "App registrations").click()
    expect(page.get_by_role("link", name="New registration")).to_have_count(0)
    disabled = page.locator("#new-registration-disabled")
    expect(disabled).to_have_text("✚ New registration")
    expect(disabled).to_have_attribute(
        "title",
        "You can't register applications in the Contoso directory, and "
        "registering a replication appliance creates an Azure AD app. Ask a Global "
        "administrator to set App registrations to Yes (Azure Active Directory > User "
        "settings), or to assign you the Application Developer role.",
    )
    expect(page.locator("#register-denied")).to_contain_text("Ask a Global administrator")
