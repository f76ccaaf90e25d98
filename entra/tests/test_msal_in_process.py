"""The real msal library against the hub's Entra ID endpoints, in process: msal's HTTP goes through
Django's test client (msal insists on an https authority; the test client answers as https), so each
request msal makes, and each answer it parses, is the real one. The same over a live hub with TLS is
tests/test_entra_signin.py."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import msal
import pytest
from django.core.management import call_command
from django.test import Client

from entra.tests.conftest import application_with_role
from projects.models import User

pytestmark = pytest.mark.django_db

CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
ARM_SCOPE = "https://management.core.windows.net//.default"
CONTOSO_SUB = "11111111-1111-1111-1111-111111111111"
AUTHORITY_HOST = "https://testserver"


class HubResponse:
    def __init__(self, response):
        self.status_code = response.status_code
        self.text = response.content.decode()
        self.headers = dict(response.headers)

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.text}")


class DjangoHttpClient:
    """msal's http_client interface (get/post/close), answered by the hub in this process."""

    def __init__(self):
        self.client = Client()
        self.requests: list[str] = []

    def _target(self, url: str, params) -> tuple[str, bool]:
        parts = urlsplit(url)
        assert parts.netloc == "testserver", f"msal asked another host: {url}"
        query = "&".join(q for q in (parts.query, urlencode(params or {})) if q)
        self.requests.append(f"{parts.path}?{query}" if query else parts.path)
        return (f"{parts.path}?{query}" if query else parts.path), parts.scheme == "https"

    @staticmethod
    def _headers(headers) -> dict:
        return {k: v for k, v in (headers or {}).items() if v is not None and k.lower() != "content-type"}

    def get(self, url, params=None, headers=None, **kwargs):
        path, secure = self._target(url, params)
        return HubResponse(self.client.get(path, headers=self._headers(headers), secure=secure))

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        path, secure = self._target(url, params)
        body = urlencode(data or {})
        response = self.client.post(
            path,
            body,
            content_type="application/x-www-form-urlencoded",
            headers=self._headers(headers),
            secure=secure,
        )
        return HubResponse(response)

    def close(self):
        pass


@pytest.fixture
def demo(settings):
    call_command("seed_demo", verbosity=0)
    return {"admin": User.objects.get(email="admin@contoso.com"), "password": settings.DEMO_PASSWORD}


def arm_status(token: str) -> int:
    return (
        Client()
        .get(
            f"/subscriptions/{CONTOSO_SUB}/resourcegroups?api-version=2021-04-01",
            headers={"Authorization": f"Bearer {token}"},
        )
        .status_code
    )


def test_msal_client_credentials_with_and_without_instance_discovery(demo):
    application, secret = application_with_role(demo["admin"], "msal-app", "Reader", CONTOSO_SUB)
    tenant = demo["admin"].tenant
    for instance_discovery in (False, f"{AUTHORITY_HOST}/common/discovery/instance"):
        http = DjangoHttpClient()
        app = msal.ConfidentialClientApplication(
            str(application.app_id),
            client_credential=secret,
            authority=f"{AUTHORITY_HOST}/{tenant.domain}",
            http_client=http,
            instance_discovery=instance_discovery,
        )
        result = app.acquire_token_for_client(scopes=[ARM_SCOPE])
        assert "access_token" in result, result
        assert arm_status(result["access_token"]) == 200
        assert any(p.startswith(f"/{tenant.pk}/oauth2/v2.0/token") for p in http.requests)

    wrong = msal.ConfidentialClientApplication(
        str(application.app_id),
        client_credential="not-the-secret",
        authority=f"{AUTHORITY_HOST}/{tenant.pk}",
        http_client=DjangoHttpClient(),
        instance_discovery=False,
    ).acquire_token_for_client(scopes=[ARM_SCOPE])
    assert wrong["error"] == "invalid_client" and wrong["error_codes"] == [7000215]


def test_msal_username_password_then_silent_refresh_for_graph(demo):
    http = DjangoHttpClient()
    app = msal.PublicClientApplication(
        CLI, authority=f"{AUTHORITY_HOST}/organizations", http_client=http, instance_discovery=False
    )
    result = app.acquire_token_by_username_password("admin@contoso.com", demo["password"], scopes=[ARM_SCOPE])
    assert "access_token" in result, result
    assert "/common/userrealm/admin@contoso.com?api-version=1.0" in http.requests
    assert arm_status(result["access_token"]) == 200
    [account] = app.get_accounts(username="admin@contoso.com")
    graph = app.acquire_token_silent(["https://graph.microsoft.com/.default"], account=account)
    assert graph and "access_token" in graph, graph
    me = Client().get("/v1.0/me", headers={"Authorization": f"Bearer {graph['access_token']}"})
    assert me.json()["userPrincipalName"] == "admin@contoso.com"

    refused = app.acquire_token_by_username_password("admin@contoso.com", "wrong", scopes=[ARM_SCOPE])
    assert refused["error"] == "invalid_grant" and refused["error_codes"] == [50126]


def test_msal_device_flow_completes_after_the_person_confirms(demo):
    app = msal.PublicClientApplication(
        CLI, authority=f"{AUTHORITY_HOST}/organizations", http_client=DjangoHttpClient(), instance_discovery=False
    )
    flow = app.initiate_device_flow(scopes=[ARM_SCOPE])
    assert flow["verification_uri"] == f"{AUTHORITY_HOST}/devicelogin", flow
    browser = Client()
    browser.force_login(demo["admin"])
    browser.post("/devicelogin", {"code": flow["user_code"], "decision": "continue"}, secure=True)
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == "admin@contoso.com"
