"""The generic resources list narrowed by `$filter`, as `az resource list -g/-n/--resource-type/--tag`
asks it at subscription scope (azure-cli resource/custom.py builds these clauses)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from hub.models import ApiToken
from projects.models import User

pytestmark = pytest.mark.django_db

SUB = "/subscriptions/11111111-1111-1111-1111-111111111111"
API = "api-version=2021-04-01"


@pytest.fixture
def admin() -> APIClient:
    call_command("seed_demo", verbosity=0)
    _, secret = ApiToken.issue(User.objects.get(email="admin@contoso.com"), "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.put(f"{SUB}/resourcegroups/rg-other?{API}", {"location": "westeurope"}, format="json")
    project = f"{SUB}/resourceGroups/rg-other/providers/Microsoft.Migrate/migrateProjects/proj"
    client.put(f"{project}?{API}", {"location": "westeurope", "tags": {"wave": "2"}}, format="json")
    return client


def listed(client, expression: str = "") -> set[tuple[str, str]]:
    query = f"{API}&$filter={quote(expression, safe='')}" if expression else API
    return {(r["type"], r["name"]) for r in client.get(f"{SUB}/resources?{query}").json()["value"]}


def test_filters_narrow_the_subscription_wide_list(admin):
    everything = listed(admin)
    assert ("Microsoft.Migrate/migrateProjects", "proj") in everything
    assert ("Microsoft.Network/virtualNetworks", "vnet-prod") in everything
    assert listed(admin, "resourceGroup eq 'RG-OTHER'") == {("Microsoft.Migrate/migrateProjects", "proj")}
    assert listed(admin, "resourceGroup eq 'rg-migrate' and name eq 'vnet-test'") == {
        ("Microsoft.Network/virtualNetworks", "vnet-test")
    }
    assert listed(admin, "resourceType eq 'microsoft.network/virtualnetworks' and resourceGroup eq 'rg-other'") == set()
    assert listed(admin, "tagName eq 'wave' and tagValue eq '2'") == {("Microsoft.Migrate/migrateProjects", "proj")}
    assert listed(admin, "location eq 'eastus'") == set()
