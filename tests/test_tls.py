"""HTTPS beside plain http, in both topologies: the API verified against the hub's own certificate
authority, the official SDK sending its bearer token itself (no workaround policy over TLS), URLs the hub
writes keeping the client on https, the portal signed into over https with live pushes over wss, and
HUB_HOSTNAMES certified and served. (hub/tests/test_tls.py covers the authority itself.)"""

from __future__ import annotations

import signal
import socket
import ssl
from urllib.parse import urlsplit

import pytest
import requests
from azure.mgmt.resource.resources import ResourceManagementClient
from playwright.sync_api import expect

from hub import tls
from tests import hubs
from tests.azure_clients import HubCredential
from tests.conftest import sign_in
from tests.hubs import CONTOSO, unique

pytestmark = pytest.mark.live

HOSTNAME = "hub.contoso.test"


@pytest.fixture(scope="module")
def named_hub(tmp_path_factory):
    """An embedded hub reached by one more name, as HUB_HOSTNAMES gives it."""
    hub = hubs.embedded_hub(tmp_path_factory.mktemp("named-hub"), extra_env={"HUB_HOSTNAMES": f"{HOSTNAME},10.0.0.5"})
    yield hub
    hub.stop()


def tls_connection(hub: hubs.Hub, server_hostname: str) -> ssl.SSLSocket:
    """A TLS connection to the hub's https port, verified against its authority for `server_hostname`."""
    context = ssl.create_default_context(cafile=hub.ca_path)
    context.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default: what newer clients demand
    address = urlsplit(hub.https_url)
    return context.wrap_socket(
        socket.create_connection((address.hostname, address.port), timeout=30), server_hostname=server_hostname
    )


def certified_names(hub: hubs.Hub) -> set[str]:
    with tls_connection(hub, "127.0.0.1") as connection:
        return {value for _, value in connection.getpeercert()["subjectAltName"]}


def test_the_api_answers_over_https_and_its_urls_stay_on_https(any_hub):
    token = any_hub.token("admin@contoso.com")
    headers = {"Authorization": f"Bearer {token}"}
    answer = requests.get(
        any_hub.https_url + "/subscriptions",
        params={"api-version": "2022-12-01"},
        headers=headers,
        verify=any_hub.ca_path,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert CONTOSO in [s["subscriptionId"] for s in answer.json()["value"]]

    group = any_hub.new_resource_group("rg-tls")
    deleted = requests.delete(
        f"{any_hub.https_url}/subscriptions/{CONTOSO}/resourcegroups/{group}",
        params={"api-version": "2021-04-01"},
        headers=headers,
        verify=any_hub.ca_path,
        timeout=30,
    )
    assert deleted.status_code == 202, deleted.text
    assert deleted.headers["Location"].startswith(any_hub.https_url + "/")
    # The same operation asked over plain http answers with plain-http URLs: each follows its request.
    assert any_hub.api("GET", f"/subscriptions/{CONTOSO}/resourcegroups").status_code == 200
    polled = requests.get(deleted.headers["Location"], headers=headers, verify=any_hub.ca_path, timeout=30)
    assert polled.status_code in (200, 202, 204), polled.text


def test_the_certificate_names_the_loopback_addresses_and_localhost(any_hub):
    assert {"127.0.0.1", "localhost", "0:0:0:0:0:0:0:1"} <= certified_names(any_hub)
    with tls_connection(any_hub, "localhost") as connection:
        assert connection.version() in ("TLSv1.2", "TLSv1.3")
    # Anything else is refused by a verifying client.
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_connection(any_hub, "hub.elsewhere.test")


def test_the_official_sdk_sends_its_own_bearer_token_over_https(any_hub):
    """No HubBearerPolicy: over TLS the SDK's own bearer token policy sends the token."""
    client = ResourceManagementClient(
        HubCredential(any_hub.token("admin@contoso.com")),
        CONTOSO,
        base_url=any_hub.https_url,
        connection_verify=str(any_hub.ca_path),
        polling_interval=1,
        retry_total=0,
    )
    name = unique("rg-sdk-tls")
    client.resource_groups.create_or_update(name, {"location": "westeurope"})
    assert name in [group.name for group in client.resource_groups.list()]
    # A long-running operation: the SDK polls the Location the hub wrote, which must stay on https.
    client.resource_groups.begin_delete(name).result()
    assert client.resource_groups.check_existence(name) is False


def test_hub_hostnames_are_certified_and_served(named_hub):
    assert {HOSTNAME, "10.0.0.5", "127.0.0.1", "localhost"} <= certified_names(named_hub)
    # Reached by that name (resolved here to 127.0.0.1): the certificate verifies and the host is allowed.
    port = urlsplit(named_hub.https_url).port
    with tls_connection(named_hub, HOSTNAME) as connection:
        connection.sendall(f"GET /signin/ HTTP/1.1\r\nHost: {HOSTNAME}:{port}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def test_sigterm_stops_both_servers_and_the_authority_is_kept_for_the_next_start(named_hub):
    before = named_hub.ca_path.read_bytes()
    named_hub.stop()
    assert named_hub.process.returncode != -signal.SIGKILL, "SIGTERM alone should have stopped it"
    for url in (named_hub.url, named_hub.https_url):
        address = urlsplit(url)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address.hostname, address.port), timeout=5).close()
    named_hub.start()
    assert named_hub.ca_path.read_bytes() == before
    assert requests.get(named_hub.https_url + "/healthz", verify=named_hub.ca_path, timeout=30).ok


def test_a_certificate_by_path_is_served_instead_of_the_hubs_own(named_hub, tmp_path):
    """The production topology's TLS_CERT_FILE and TLS_KEY_FILE: that certificate, whoever issued it."""
    given = tls.local_certificate(tmp_path / "issuer", tls.hostnames(""))
    own = named_hub.ca_path.read_bytes()
    named_hub.stop()
    named_hub.env.update({"TLS_CERT_FILE": str(given.cert_path), "TLS_KEY_FILE": str(given.key_path)})
    try:
        named_hub.start()
        answer = requests.get(named_hub.https_url + "/healthz", verify=given.ca_path, timeout=30)
        assert answer.ok
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(named_hub.https_url + "/healthz", verify=named_hub.ca_path, timeout=30)
        assert named_hub.ca_path.read_bytes() == own  # the hub's own authority is left alone
    finally:
        named_hub.stop()
        del named_hub.env["TLS_CERT_FILE"], named_hub.env["TLS_KEY_FILE"]
        named_hub.start()


@pytest.mark.browser
def test_the_portal_over_https_signs_in_and_gets_live_pushes_over_wss(any_hub, browser):
    # Chromium does not read the hub's authority: it is told to accept the certificate (the API tests
    # above verify it).
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, any_hub, base_url=any_hub.https_url)  # a portal form POSTed over https: CSRF accepts it
        page.goto(any_hub.https_url + "/jobs/")
        expect(page.locator("body")).to_have_attribute("data-live", "connected")
        assert page.evaluate("location.protocol") == "https:"
        page.evaluate("window.notReloaded = true")

        group = any_hub.new_resource_group("rg-wss")
        assert any_hub.api("DELETE", f"/subscriptions/{CONTOSO}/resourcegroups/{group}").status_code == 202
        expect(page.locator("#job-rows")).to_contain_text(group, timeout=30_000)
        assert page.evaluate("window.notReloaded") is True
    finally:
        context.close()
