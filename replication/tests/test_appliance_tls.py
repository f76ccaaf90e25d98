"""The appliance reaches an https hub trusting the hub's own certificate authority, which the
registration key carries, and nothing else unless the system trusts it."""

from __future__ import annotations

import ssl

import pytest

# The appliance is on sys.path from replication/tests/conftest.py, which pytest imports first.
from appliance.hub_client import HubClient, HubError

from hub import tls
from replication.tests.stubs import JsonPostServer


class PathEcho(JsonPostServer):
    def answer(self, path, headers, body):
        return 200, {"path": path}


@pytest.fixture
def https_hub(tmp_path):
    """A stand-in hub over https, its certificate from a local authority as the hub's is; (url, CA PEM)."""
    made = tls.local_certificate(tmp_path / "tls", tls.hostnames(""))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(made.cert_path, made.key_path)
    server = PathEcho(tls=context)
    yield server.url, made.ca_path.read_text()
    server.close()


def test_calls_and_uploads_verify_the_hub_against_the_authority_from_the_key(https_hub):
    url, authority = https_hub
    client = HubClient(url, credential="c", certificate_authority=authority)
    assert client.post("/appliance-api/v1/heartbeat", {}) == {"path": "/appliance-api/v1/heartbeat"}
    assert client.post_bytes("/appliance-api/v1/batches", [b"data"]) == {"path": "/appliance-api/v1/batches"}


def test_an_https_hub_nobody_said_to_trust_is_refused(https_hub):
    url, _ = https_hub
    with pytest.raises(HubError) as refused:
        HubClient(url).post("/appliance-api/v1/heartbeat", {})
    assert refused.value.code == "HubUnreachable"
    assert "CERTIFICATE_VERIFY_FAILED" in refused.value.message
