"""The absolute URLs the hub writes follow the request's scheme and host: a client that came over https
(the hub's own TLS, or a proxy's, SECURE_PROXY_SSL_HEADER) is sent on over https, one over plain http
stays there."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from hub.models import ApiToken
from projects.models import User

pytestmark = pytest.mark.django_db

CONTOSO = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def client():
    call_command("seed_demo", verbosity=0)
    _, secret = ApiToken.issue(User.objects.get(email="admin@contoso.com"), "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.mark.parametrize(("secure", "scheme"), [(True, "https"), (False, "http")])
def test_a_long_running_operation_names_its_status_urls_in_the_requests_scheme_and_host(
    client, django_capture_on_commit_callbacks, settings, secure, scheme
):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "hub.contoso.test"]  # as HUB_HOSTNAMES adds it
    group = f"/subscriptions/{CONTOSO}/resourcegroups/rg-{scheme}"
    query = "?api-version=2021-04-01"
    assert client.put(group + query, {"location": "westeurope"}, format="json", secure=secure).status_code == 201
    with django_capture_on_commit_callbacks():
        deleted = client.delete(group + query, secure=secure, HTTP_HOST="hub.contoso.test:8443")
    assert deleted.status_code == 202
    # hub.arm.views.absolute_url writes Location and Azure-AsyncOperation alike; nextLink is built the same way.
    assert deleted["Location"].startswith(f"{scheme}://hub.contoso.test:8443/"), deleted["Location"]
