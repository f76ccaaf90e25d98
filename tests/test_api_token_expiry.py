"""Personal API tokens expire: a token made in the portal with a chosen lifetime shows its expiry and
works; an expired one is refused to the official SDK with 401 ExpiredAuthenticationToken."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.mgmt.resource.resources import ResourceManagementClient
from playwright.sync_api import expect

from tests.azure_clients import HubCredential, client_options
from tests.conftest import sign_in
from tests.hubs import CONTOSO, unique

pytestmark = pytest.mark.live


def expire(hub, token_name: str) -> None:
    """Move the token's expiry into the past, as the days passing would."""
    hub.manage(
        "shell",
        "-c",
        "from datetime import timedelta; from django.utils import timezone; from hub.models import ApiToken; "
        f"ApiToken.objects.filter(name='{token_name}').update(expires_at=timezone.now() - timedelta(seconds=1))",
    )


def test_an_expired_token_is_refused_to_the_sdk(live_hub):
    name = unique("expiring")
    output = live_hub.manage("create_api_token", "migrator@contoso.com", "--name", name, "--days", "1")
    secret = output.strip().splitlines()[-1]
    client = ResourceManagementClient(HubCredential(secret), CONTOSO, **client_options(live_hub, secret))
    assert any(group.name == "rg-migrate" for group in client.resource_groups.list())

    expire(live_hub, name)
    with pytest.raises(ClientAuthenticationError) as refused:
        list(client.resource_groups.list())
    assert refused.value.status_code == 401
    assert refused.value.error.code == "ExpiredAuthenticationToken"
    assert "create_api_token" in refused.value.error.message


@pytest.mark.browser
def test_a_token_made_with_a_chosen_lifetime_shows_its_expiry(live_hub, page):
    sign_in(page, live_hub, "migrator@contoso.com")
    page.locator(".usermenu summary").click()
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_label("Expires in (days)")).to_have_value("90")

    page.get_by_label("Name").fill("short-lived")
    page.get_by_label("Expires in (days)").fill("1000")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("alert")).to_contain_text("at most 730 days")
    expect(page.get_by_label("New API token")).to_have_count(0)

    page.get_by_label("Expires in (days)").fill("30")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("New API token").input_value()
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).strftime("%Y-%m-%d")
    expect(page.get_by_role("status")).to_contain_text(f"expires on {expires}")
    row = page.get_by_role("row").filter(has_text="short-lived")
    expect(row).to_contain_text(expires)
    expect(row).to_contain_text("Active")

    url = f"{live_hub.url}/subscriptions/{CONTOSO}/resourcegroups"
    headers = {"Authorization": f"Bearer {secret}"}
    assert requests.get(url, params={"api-version": "1"}, headers=headers, timeout=10).status_code == 200
