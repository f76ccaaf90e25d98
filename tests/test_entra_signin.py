"""Signing in to a live hub's Microsoft Entra ID endpoints with the real msal library, by client
credentials and by username/password, and driving an official SDK client with the tokens; and the
device code page, clicked in Chromium.

msal and azure-identity run unmodified over the hub's HTTPS, trusting its local CA. The token endpoint
is also exercised over the hub's plain http (which keeps working beside https) with the form posts msal
sends."""

from __future__ import annotations

import json
import os
from pathlib import Path

import msal
import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.resources import ResourceManagementClient
from playwright.sync_api import expect

from tests.azure_cli import environment_credential, secret_credential
from tests.azure_clients import HubCredential
from tests.conftest import sign_in
from tests.hubs import CONTOSO, DEMO_PASSWORD, ROOT, unique

pytestmark = pytest.mark.live

CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
ARM_SCOPE = "https://management.core.windows.net//.default"


def resource_client(hub, token: str) -> ResourceManagementClient:
    """The SDK over the hub's HTTPS, azure-core's own bearer policy carrying the token."""
    return ResourceManagementClient(
        HubCredential(token), CONTOSO, base_url=hub.https_url, connection_verify=str(hub.ca_path), retry_total=0
    )


class HubSession(requests.Session):
    """msal's HTTP client, trusting the hub's CA (not REQUESTS_CA_BUNDLE from the environment, which
    requests would otherwise prefer over the session's own setting).

    msal asks for user realm discovery at https://<authority's host name>/common/userrealm/..., leaving out
    the authority's port (msal/authority.py, user_realm_discovery uses the host name only), so on a hub
    whose HTTPS is not on 443 that request goes to port 443. This session sends it to the hub's port; `az
    login -u -p` has no such help and needs the hub's HTTPS on 443 (or something there that forwards)."""

    def __init__(self, hub):
        super().__init__()
        self.trust_env = False
        self.verify = str(hub.ca_path)
        host = hub.https_url.split("://", 1)[1].rsplit(":", 1)[0]
        self.portless_realm = f"https://{host}/common/userrealm/"
        self.hub_realm = f"{hub.https_url}/common/userrealm/"

    def request(self, method, url, *args, **kwargs):
        if url.startswith(self.portless_realm):
            url = self.hub_realm + url[len(self.portless_realm) :]
        return super().request(method, url, *args, **kwargs)


@pytest.fixture(scope="module")
def service_principal(live_hub):
    """An application with Contributor on Contoso Production: {appId, password, tenant, displayName}."""
    out = live_hub.manage(
        "create_service_principal", unique("msal"), "--role", "Contributor", "--scopes", f"/subscriptions/{CONTOSO}"
    )
    return json.loads(out[out.index("{") :])


def test_the_token_endpoint_over_http_gives_tokens_the_sdk_accepts(live_hub, service_principal):
    """The form posts msal sends, over the hub's plain http: client credentials and password."""
    token_url = f"{live_hub.url}/{service_principal['tenant']}/oauth2/v2.0/token"
    app_token = requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": service_principal["appId"],
            "client_secret": service_principal["password"],
            "scope": ARM_SCOPE,
        },
        timeout=10,
    ).json()["access_token"]
    client = resource_client(live_hub, app_token)
    group = unique("rg-sp")
    client.resource_groups.create_or_update(group, {"location": "westeurope"})
    assert group in [g.name for g in client.resource_groups.list()]
    user_token = requests.post(
        token_url,
        data={
            "grant_type": "password",
            "client_id": CLI,
            "username": "viewer@contoso.com",
            "password": DEMO_PASSWORD,
            "scope": f"{ARM_SCOPE} offline_access openid profile",
        },
        timeout=10,
    ).json()["access_token"]
    reader = resource_client(live_hub, user_token)
    assert "rg-migrate" in [g.name for g in reader.resource_groups.list()]
    with pytest.raises(HttpResponseError) as refused:
        reader.resource_groups.create_or_update(unique("rg-reader"), {"location": "westeurope"})
    assert refused.value.status_code == 403 and refused.value.error.code == "AuthorizationFailed"


def test_msal_client_credentials_drive_the_resource_manager_sdk(live_hub, service_principal):
    authority_host, http = live_hub.https_url, HubSession(live_hub)
    app = msal.ConfidentialClientApplication(
        service_principal["appId"],
        client_credential=service_principal["password"],
        authority=f"{authority_host}/{service_principal['tenant']}",
        http_client=http,
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[ARM_SCOPE])
    assert "access_token" in result, result
    client = resource_client(live_hub, result["access_token"])
    group = unique("rg-msal")
    client.resource_groups.create_or_update(group, {"location": "westeurope"})
    assert group in [g.name for g in client.resource_groups.list()]

    wrong = msal.ConfidentialClientApplication(
        service_principal["appId"],
        client_credential="not-the-secret",
        authority=f"{authority_host}/{service_principal['tenant']}",
        http_client=http,
        instance_discovery=False,
    ).acquire_token_for_client(scopes=[ARM_SCOPE])
    assert wrong["error"] == "invalid_client" and wrong["error_description"].startswith("AADSTS7000215:")


def test_msal_username_password_as_az_login_does(live_hub):
    authority_host, http = live_hub.https_url, HubSession(live_hub)
    app = msal.PublicClientApplication(
        CLI, authority=f"{authority_host}/organizations", http_client=http, instance_discovery=False
    )
    result = app.acquire_token_by_username_password("migrator@contoso.com", DEMO_PASSWORD, scopes=[ARM_SCOPE])
    assert "access_token" in result, result
    groups = [g.name for g in resource_client(live_hub, result["access_token"]).resource_groups.list()]
    assert "rg-migrate" in groups

    refused = app.acquire_token_by_username_password("migrator@contoso.com", "wrong", scopes=[ARM_SCOPE])
    assert refused["error"] == "invalid_grant" and refused["error_codes"] == [50126]


def test_azure_identity_client_secret_credential_over_https_without_a_custom_policy(live_hub, service_principal):
    credential = secret_credential(live_hub, service_principal)
    # No credential_scopes: the SDK asks for https://management.azure.com/.default, which the hub takes too.
    client = ResourceManagementClient(
        credential, CONTOSO, base_url=live_hub.https_url, connection_verify=str(live_hub.ca_path)
    )
    assert "rg-migrate" in [g.name for g in client.resource_groups.list()]


@pytest.mark.browser
def test_device_code_sign_in_is_confirmed_on_the_devicelogin_page(live_hub, page):
    start = requests.post(
        f"{live_hub.url}/organizations/oauth2/v2.0/devicecode", data={"client_id": CLI, "scope": ARM_SCOPE}, timeout=10
    )
    flow = start.json()
    assert flow["verification_uri"] == f"{live_hub.url}/devicelogin"
    poll = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "client_id": CLI,
        "device_code": flow["device_code"],
    }
    token_url = f"{live_hub.url}/organizations/oauth2/v2.0/token"
    assert requests.post(token_url, data=poll, timeout=10).json()["error"] == "authorization_pending"

    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, live_hub, "migrator@contoso.com")
    page.goto(flow["verification_uri"])
    expect(page.get_by_role("heading", name="Enter code")).to_be_visible()
    page.get_by_label("Code").fill(flow["user_code"])
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Are you trying to sign in to Microsoft Azure CLI?")).to_be_visible()
    if os.environ.get("UPDATE_SCREENSHOTS"):
        page.screenshot(path=str(Path(ROOT) / "docs" / "screenshots" / "devicelogin.png"))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("status")).to_contain_text("You have signed in to the application on your device")

    granted = requests.post(token_url, data=poll, timeout=10)
    assert granted.status_code == 200
    client = resource_client(live_hub, granted.json()["access_token"])
    assert "rg-migrate" in [g.name for g in client.resource_groups.list()]


@pytest.mark.browser
def test_a_wrong_code_is_refused_on_the_form(live_hub, page):
    sign_in(page, live_hub)
    page.goto(live_hub.url + "/devicelogin")
    page.get_by_label("Code").fill("WRONGCODE")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text("That code wasn't recognized")


def test_default_azure_credential_from_environment_variables(live_hub, service_principal, monkeypatch):
    """The SDK's usual set-up: a service principal in AZURE_* variables, the hub's CA in REQUESTS_CA_BUNDLE."""
    credential = environment_credential(live_hub, service_principal, monkeypatch)
    client = ResourceManagementClient(credential, CONTOSO, base_url=live_hub.https_url, credential_scopes=[ARM_SCOPE])
    assert "rg-migrate" in [g.name for g in client.resource_groups.list()]
