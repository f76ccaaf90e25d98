"""Malformed input at the sign-in endpoints: every answer is Entra's error shape, never a 5xx."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
BODIES = [
    (b"", FORM),
    (b"\xff\xfe\x00garbage", FORM),
    (b"grant_type=password&username=%ff%fe&password=%00&client_id=x&scope=y", FORM),
    (b"grant_type=" + b"a" * 10_000, FORM),
    (b"grant_type=client_credentials&client_id=" + b"9" * 5000, FORM),
    (b"&".join(b"grant_type=password" for _ in range(500)), FORM),
    (b"=" * 1000, FORM),
    (b'{"grant_type": "password"}', "application/json"),
    (b"--b\r\nContent-Disposition: form-data\r\n\r\nx", "multipart/form-data; boundary=b"),
    (b"x" * (3 * 1024 * 1024), FORM),
    (b"grant_type=refresh_token&client_id=04b07795-8ddb-461a-bbee-02f9e1bf7b46&refresh_token=%00", FORM),
    (b"grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id=a&device_code=" + b"z" * 4000, FORM),
    (b"grant_type=client_credentials&client_id=x&client_secret=y&scope=%20%20%20", FORM),
    (b"grant_type=password&client_id=x&username=a@b&password=p&scope=a/b%20c/d", FORM),
]
TENANTS = ["organizations", "contoso.onmicrosoft.com", "11111111-1111-1111-1111-111111111111", "x" * 300, "%ff"]


@pytest.fixture(autouse=True)
def demo():
    call_command("seed_demo", verbosity=0)


def test_token_and_device_code_endpoints_refuse_garbage_in_entras_shape():
    # One test over the whole corpus: the demo directory is seeded once.
    client = Client()
    for tenant in TENANTS:
        for body, content_type in BODIES:
            for endpoint in ("oauth2/v2.0/token", "oauth2/v2.0/devicecode", "oauth2/token"):
                response = client.post(f"/{tenant}/{endpoint}", data=body, content_type=content_type)
                case = (tenant[:20], endpoint, body[:60], response.content[:300])
                assert response.status_code < 500, case
                if response.status_code != 404:
                    assert response.json()["error"] and response.json()["error_codes"], case


@pytest.mark.parametrize(
    "path",
    [
        "/common/userrealm/" + "a" * 5000,
        "/common/userrealm/%00",
        "/common/discovery/instance?authorization_endpoint=" + "h" * 10_000,
        "/common/discovery/instance?authorization_endpoint=https://[::1",
        "/common/discovery/instance?authorization_endpoint=///",
        "/" + "t" * 1000 + "/v2.0/.well-known/openid-configuration",
        "/%ff%fe/discovery/v2.0/keys",
    ],
)
def test_discovery_endpoints_never_fail(path):
    assert Client().get(path).status_code < 500
