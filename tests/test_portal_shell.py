"""The portal shell: sign-in, search, API tokens from the user menu."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import sign_in
from tests.hubs import CONTOSO

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_a_wrong_password_is_refused_on_the_form(live_hub, page):
    page.goto(live_hub.url + "/signin/")
    page.get_by_label("Email, phone, or Skype").fill("admin@contoso.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Your account or password is incorrect")


def test_search_finds_services_and_resources(live_hub, page):
    sign_in(page, live_hub)
    page.get_by_label("Search").fill("rg-migrate")
    page.get_by_label("Search").press("Enter")
    page.get_by_role("link", name="rg-migrate").click()
    expect(page.get_by_role("heading", name="rg-migrate")).to_be_visible()
    expect(page.locator("table.props")).to_contain_text("Owner")


def test_a_token_made_in_the_user_menu_works_until_revoked(live_hub, page):
    sign_in(page, live_hub, "migrator@contoso.com")
    page.locator(".usermenu summary").click()
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("pipeline")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("New API token").input_value()
    assert secret.startswith("mhub_")

    url = f"{live_hub.url}/subscriptions/{CONTOSO}/resourcegroups"
    headers = {"Authorization": f"Bearer {secret}"}
    assert requests.get(url, params={"api-version": "1"}, headers=headers, timeout=10).status_code == 200

    page.get_by_role("row").filter(has_text="pipeline").get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Token 'pipeline' was revoked")).to_be_visible()
    revoked = requests.get(url, params={"api-version": "1"}, headers=headers, timeout=10)
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_error_pages_are_portal_pages_that_name_no_setting(live_hub, page):
    sign_in(page, live_hub)
    missing = page.goto(live_hub.url + f"/resource/subscriptions/{CONTOSO}/resourceGroups/no-such-group/")
    assert missing.status == 404
    expect(page.get_by_role("heading", name="The resource was not found")).to_be_visible()
    page.get_by_role("link", name="Go to the home page").click()
    expect(page).to_have_url(live_hub.url + "/")

    # A form whose CSRF cookie is gone (a session that expired in another tab): a page that says what to do.
    page.goto(live_hub.url + "/settings/api-tokens/")
    page.context.clear_cookies(name="csrftoken")
    page.get_by_label("Name").fill("stale")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Your session needs refreshing")).to_be_visible()
    for value in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "Traceback", "postgres://"):
        assert value not in page.content()
