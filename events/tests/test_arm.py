"""Microsoft.EventGrid/eventSubscriptions on the ARM API, in process: shapes, the secret shown once,
who may write, and bad input answered with ARM's envelope (the SDK test is tests/test_events_webhooks.py)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from events.models import EventSubscription
from hub.models import ApiToken
from projects import deletion
from projects.models import ResourceGroup, User
from projects.services import migrate_project_create_or_update

pytestmark = pytest.mark.django_db
API = "?api-version=2025-02-15"


@pytest.fixture
def project():
    call_command("seed_demo", verbosity=0)
    project, _ = migrate_project_create_or_update(
        user=User.objects.get(email="admin@contoso.com"),
        resource_group=ResourceGroup.objects.get(name="rg-migrate"),
        name="events",
        location="westeurope",
    )
    return project


def client(email: str = "admin@contoso.com") -> APIClient:
    _, secret = ApiToken.issue(User.objects.get(email=email), "tests")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


def body(url: str = "https://receiver.test/hook?code=s3cret", **properties) -> dict:
    return {
        "properties": {
            "destination": {"endpointType": "WebHook", "properties": {"endpointUrl": url}},
            "filter": {"includedEventTypes": ["Microsoft.Migrate.JobFailed"], "subjectBeginsWith": "/subscriptions"},
            "retryPolicy": {"maxDeliveryAttempts": 5, "eventTimeToLiveInMinutes": 60},
            **properties,
        }
    }


def test_it_creates_reads_lists_and_deletes_a_subscription_on_a_project(project):
    path = f"{project.arm_id}/providers/Microsoft.EventGrid/eventSubscriptions/on-failure"
    admin = client()
    created = admin.put(path + API, body(), format="json")
    assert created.status_code == 201, created.content
    properties = created.json()["properties"]
    assert created.json()["id"] == path
    assert properties["topic"] == project.arm_id
    assert properties["destination"]["properties"]["endpointBaseUrl"] == "https://receiver.test/hook"
    (secret,) = properties["destination"]["properties"]["deliveryAttributeMappings"]
    assert secret["name"] == "webhook-secret" and secret["properties"]["value"].startswith("whsec_")
    assert properties["retryPolicy"] == {"maxDeliveryAttempts": 5, "eventTimeToLiveInMinutes": 60}

    read = client("viewer@contoso.com").get(path + API).json()
    assert (
        read["properties"]["destination"]["properties"]["deliveryAttributeMappings"][0]["properties"]["value"] is None
    )
    assert read["properties"]["filter"]["includedEventTypes"] == ["Microsoft.Migrate.JobFailed"]
    listed = admin.get(f"{project.arm_id}/providers/Microsoft.EventGrid/eventSubscriptions" + API).json()["value"]
    assert [entry["name"] for entry in listed] == ["on-failure"]
    group_list = admin.get(f"{project.resource_group.arm_id}/providers/Microsoft.EventGrid/eventSubscriptions" + API)
    assert [entry["name"] for entry in group_list.json()["value"]] == ["on-failure"]

    replaced = admin.put(path + API, body("https://receiver.test/other"), format="json")
    assert replaced.status_code == 201
    assert (
        replaced.json()["properties"]["destination"]["properties"]["deliveryAttributeMappings"][0]["properties"][
            "value"
        ]
        is None
    ), "a replacement keeps the secret, and does not show it"
    assert admin.delete(path + API).status_code == 200
    assert admin.delete(path + API).status_code == 204
    assert admin.get(path + API).status_code == 404


def test_readers_may_not_write_and_other_tenants_see_nothing(project):
    path = f"{project.arm_id}/providers/Microsoft.EventGrid/eventSubscriptions/hook"
    refused = client("viewer@contoso.com").put(path + API, body(), format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "AuthorizationFailed"
    assert client().put(path + API, body(), format="json").status_code == 201
    assert client("viewer@contoso.com").delete(path + API).status_code == 403
    assert client("admin@fabrikam.com").get(path + API).status_code == 404
    assert EventSubscription.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "target"),
    [
        ({"destination": {"endpointType": "WebHook", "properties": {"endpointUrl": "ftp://x"}}}, "endpointUrl"),
        ({"destination": {"endpointType": "EventHub", "properties": {}}}, "properties.destination.endpointType"),
        ({"filter": {"includedEventTypes": ["Microsoft.Resources.ResourceWriteSuccess"]}}, "includedEventTypes"),
        ({"retryPolicy": {"maxDeliveryAttempts": 31}}, "properties.retryPolicy.maxDeliveryAttempts"),
        ({"filter": {"includedEventTypes": "JobFailed"}}, "properties.filter.includedEventTypes"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(project, change, target):
    path = f"{project.arm_id}/providers/Microsoft.EventGrid/eventSubscriptions/hook"
    answer = client().put(path + API, {"properties": {**body()["properties"], **change}}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["target"] == target


def test_a_bad_name_or_scope_is_refused(project):
    admin = client()
    bad_name = admin.put(
        f"{project.arm_id}/providers/Microsoft.EventGrid/eventSubscriptions/a_b" + API, body(), format="json"
    )
    assert bad_name.status_code == 400 and bad_name.json()["error"]["target"] == "name"
    network = f"{project.resource_group.arm_id}/providers/Microsoft.Network/virtualNetworks/x"
    other = admin.put(f"{network}/providers/Microsoft.EventGrid/eventSubscriptions/hook" + API, body(), format="json")
    assert other.status_code == 400 and other.json()["error"]["code"] == "InvalidScope"
    missing = f"{project.resource_group.arm_id}/providers/Microsoft.Migrate/migrateProjects/nope"
    gone = admin.put(f"{missing}/providers/Microsoft.EventGrid/eventSubscriptions/hook" + API, body(), format="json")
    assert gone.status_code == 404


def test_a_deleted_project_takes_its_subscriptions_with_it(project):
    admin = client()
    path = f"{project.arm_id}/providers/Microsoft.EventGrid/eventSubscriptions/hook"
    assert admin.put(path + API, body(), format="json").status_code == 201
    group_path = f"{project.resource_group.arm_id}/providers/Microsoft.EventGrid/eventSubscriptions/group-hook"
    assert admin.put(group_path + API, body(), format="json").status_code == 201
    deletion.remove_project(project)
    assert list(EventSubscription.objects.values_list("name", flat=True)) == ["group-hook"]
