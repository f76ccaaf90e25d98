"""Resource groups through the unmodified azure-mgmt-resource client, against a live hub on PostgreSQL."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.azure_clients import resource_client
from tests.hubs import CONTOSO, unique

pytestmark = pytest.mark.live


@pytest.fixture
def client(live_hub):
    return resource_client(live_hub, "admin@contoso.com", CONTOSO)


def test_it_runs_the_whole_resource_group_lifecycle(client):
    name = unique("rg-sdk")
    created = client.resource_groups.create_or_update(name, {"location": "West Europe", "tags": {"env": "rehearsal"}})
    assert (created.name, created.location, created.tags) == (name, "westeurope", {"env": "rehearsal"})
    assert created.id == f"/subscriptions/{CONTOSO}/resourceGroups/{name}"
    assert created.properties.provisioning_state == "Succeeded"

    assert client.resource_groups.check_existence(name) is True
    assert client.resource_groups.get(name.upper()).name == name, "names are case-insensitive"
    assert name in [group.name for group in client.resource_groups.list()]

    updated = client.resource_groups.update(name, {"tags": {"owner": "migration-team"}})
    assert updated.tags == {"owner": "migration-team"}, "PATCH replaces tags as a whole"
    replaced = client.resource_groups.create_or_update(name, {"location": "westeurope"})
    assert replaced.tags == {}, "PUT is create-or-replace"

    client.resource_groups.begin_delete(name).result()
    assert client.resource_groups.check_existence(name) is False
    with pytest.raises(ResourceNotFoundError) as missing:
        client.resource_groups.get(name)
    assert missing.value.error.code == "ResourceGroupNotFound"


def test_it_lists_with_top(client):
    for _ in range(2):
        client.resource_groups.create_or_update(unique("rg-top"), {"location": "eastus"})
    assert len(list(client.resource_groups.list(top=1))) == 1


def test_it_refuses_a_bad_name_with_the_rule(client):
    with pytest.raises(HttpResponseError) as refused:
        client.resource_groups.create_or_update("bad name!", {"location": "westeurope"})
    assert refused.value.status_code == 400
    assert refused.value.error.code == "InvalidResourceGroupName"
    assert "1 to 90 characters" in refused.value.error.message


def test_it_refuses_an_unknown_region(client):
    with pytest.raises(HttpResponseError) as refused:
        client.resource_groups.create_or_update(unique("rg"), {"location": "atlantis"})
    assert refused.value.error.code == "LocationNotAvailableForResourceGroup"


def test_it_refuses_to_move_an_existing_group(client):
    name = unique("rg-move")
    client.resource_groups.create_or_update(name, {"location": "westeurope"})
    with pytest.raises(HttpResponseError) as refused:
        client.resource_groups.create_or_update(name, {"location": "eastus"})
    assert refused.value.status_code == 409
    assert refused.value.error.code == "InvalidResourceGroupLocation"


def test_an_unknown_subscription_is_not_found(live_hub):
    client = resource_client(live_hub, "admin@contoso.com", "33333333-3333-3333-3333-333333333333")
    with pytest.raises(ResourceNotFoundError) as missing:
        client.resource_groups.get("rg-migrate")
    assert missing.value.error.code == "SubscriptionNotFound"


def test_a_reader_is_refused_with_azures_wording(live_hub):
    client = resource_client(live_hub, "viewer@contoso.com", CONTOSO)
    assert client.resource_groups.get("rg-migrate").name == "rg-migrate", "a Reader sees everything in scope"
    with pytest.raises(HttpResponseError) as refused:
        client.resource_groups.create_or_update(unique("rg-viewer"), {"location": "westeurope"})
    assert refused.value.status_code == 403
    assert refused.value.error.code == "AuthorizationFailed"
    message = refused.value.error.message
    assert "viewer@contoso.com" in message
    assert "Microsoft.Resources/subscriptions/resourceGroups/write" in message
    assert f"/subscriptions/{CONTOSO}/resourcegroups/rg-viewer-" in message


def test_subscriptions_and_their_regions_through_subscription_client(live_hub):
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    from tests.azure_clients import sdk_client

    client = sdk_client(SubscriptionClient, live_hub, "migrator@contoso.com")
    assert [s.subscription_id for s in client.subscriptions.list()] == [CONTOSO]
    subscription = client.subscriptions.get(CONTOSO)
    assert (subscription.display_name, subscription.state) == ("Contoso Production", "Enabled")
    regions = {location.name: location.display_name for location in client.subscriptions.list_locations(CONTOSO)}
    assert regions["westeurope"] == "West Europe" and regions["westcentralus"] == "West Central US"
    with pytest.raises(ResourceNotFoundError):
        client.subscriptions.get("22222222-2222-2222-2222-222222222222")
