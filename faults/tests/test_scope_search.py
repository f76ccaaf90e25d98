"""The Faults tab finds a scope by a bounded search on the server and names each fault's scope: the
search reads the directory's own resources of the kinds the chosen fault goes on, at most a page per
kind, with a message for bad input or no match; the list shows each scope by its resource's name with
the id beneath."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from faults import scopes, services
from faults.project_scopes import region_scope
from projects.models import User, VirtualNetwork

pytestmark = pytest.mark.django_db
CONTOSO_SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
GONE = f"/subscriptions/{CONTOSO_SUBSCRIPTION}/resourcegroups/gone"


@pytest.fixture
def operator():
    call_command("seed_demo", verbosity=0)
    return User.objects.get(email="admin@contoso.com")


def signed_in() -> Client:
    client = Client()
    client.login(email="admin@contoso.com", password="migrate-demo")
    return client


def search(client: Client, **params) -> str:
    answer = client.get("/emulator/portal/faults/scopes/", params, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_search_offers_only_the_kinds_the_fault_goes_on_and_matches_names(operator):
    client = signed_in()
    page = search(client, kind="networkRoutesToProduction", scope_search="TEST")
    assert "vnet-test (rg-migrate, westeurope)" in page
    assert "vnet-prod" not in page and "(project," not in page
    page = search(client, kind="targetQuotaExceeded", scope_search="")
    assert "Contoso Production / westeurope" in page and "vnet-test" not in page


def test_an_id_finds_exactly_its_resource_and_another_directorys_stays_unknown(operator):
    vnet = VirtualNetwork.objects.get(name="vnet-test")
    page = search(signed_in(), kind="networkRoutesToProduction", scope_search=vnet.arm_id.upper())
    assert "vnet-test (rg-migrate, westeurope)" in page
    fabrikam = User.objects.get(email="admin@fabrikam.com").tenant
    assert not scopes.search(fabrikam, vnet.arm_id)
    assert scopes.scope_of(fabrikam, vnet.arm_id) is None


def test_bad_input_and_no_match_are_messages_in_the_list(operator):
    client = signed_in()
    page = search(client, kind="keyVaultAccessRevoked", scope_search="x" * 101)
    assert 'role="alert"' in page and "at most 100 characters" in page
    page = search(client, kind="keyVaultAccessRevoked", scope_search="no-such-project")
    assert "No project of your directory matches “no-such-project”." in page
    page = search(client, kind="no-such-kind", scope_search="vnet-test")
    assert "vnet-test" in page  # an unknown kind searches every kind; the form refuses it on submit


def test_the_search_is_bounded_per_kind_whatever_the_directorys_size(operator):
    group = VirtualNetwork.objects.get(name="vnet-test").resource_group
    VirtualNetwork.objects.bulk_create(
        VirtualNetwork(resource_group=group, name=f"vnet-bulk-{index:04d}", location="westeurope")
        for index in range(scopes.MAX_RESULTS_PER_KIND + 30)
    )
    found = scopes.search(operator.tenant, "vnet-bulk", ["virtualNetwork"])
    assert len(found.groups["virtualNetwork"]) == scopes.MAX_RESULTS_PER_KIND
    assert found.more == {"virtualNetwork"}
    assert "More resources match than are shown" in search(
        signed_in(), kind="networkRoutesToProduction", scope_search="vnet-bulk"
    )
    # The last one is found by typing more of its name.
    last = f"vnet-bulk-{scopes.MAX_RESULTS_PER_KIND + 29:04d}"
    assert [choice.name for choice in scopes.search(operator.tenant, last).groups["virtualNetwork"]] == [last]


def test_the_list_names_each_scope_with_its_id_beneath(operator):
    region = region_scope(CONTOSO_SUBSCRIPTION, "westeurope")
    vnet = VirtualNetwork.objects.get(name="vnet-test")
    for kind, scope, scope_kind in (
        ("targetQuotaExceeded", region, "targetRegion"),
        ("networkRoutesToProduction", vnet.arm_id, "virtualNetwork"),
        ("keyVaultAccessRevoked", f"{GONE}/providers/microsoft.migrate/migrateprojects/p", "project"),
    ):
        services.inject(tenant=operator.tenant, injected_by=operator, kind=kind, scope=scope, scope_kind=scope_kind)
    client = signed_in()
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/emulator/portal/faults/").content.decode()
    assert '<span class="scope-name">Contoso Production / westeurope</span>' in page
    assert f'<small class="scope-id" title="Resource ID">{region}</small>' in page
    assert '<span class="scope-name">vnet-test</span>' in page
    assert f'<small class="scope-id" title="Resource ID">{vnet.arm_id.lower()}</small>' in page
    assert "Resource not found" in page  # a project that is gone keeps its id
    assert len(queries) < 40, [query["sql"] for query in queries]
