"""Events out, live: Event Grid subscriptions made through the official EventGridManagementClient;
a real appliance and agent replicate a server while three receiver processes listen: one answers,
one times out (retried, then dead-lettered), one is down until replication is done (it then gets the
retried events). Replication reaches its replica unslowed by either; every event arrives signed."""

from __future__ import annotations

import json
import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.eventgrid import EventGridManagementClient
from azure.mgmt.eventgrid.models import (
    EventSubscription,
    EventSubscriptionFilter,
    RetryPolicy,
    StaticDeliveryAttributeMapping,
    WebHookEventSubscriptionDestination,
)
from playwright.sync_api import expect

from events.signing import verify
from tests import hubs
from tests.azure_clients import sdk_client
from tests.conftest import screenshot, sign_in
from tests.disk_images import sha256_of
from tests.replication_rig import enable_replication, one_disk_rig, wait_for, wait_for_state
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.live

MIB = 1024 * 1024
RG_SCOPE = f"/subscriptions/{hubs.CONTOSO}/resourceGroups/rg-migrate"
# Quick retries and short timeouts, so a test sees several attempts in seconds.
FAST_EVENTS = {
    "EVENTS_CONNECT_TIMEOUT": "1",
    "EVENTS_READ_TIMEOUT": "1",
    "EVENTS_RETRY_FIRST_SECONDS": "0.5",
    "EVENTS_RETRY_MAX_SECONDS": "2",
    "EVENTS_WATCH_SECONDS": "0.5",
}


events_hub = hubs.module_hub_fixture("events", redis_db_offset=9, extra_env=FAST_EVENTS)


@pytest.fixture
def receivers(tmp_path):
    started = {name: Receiver(hubs.free_port(), tmp_path / f"{name}.jsonl") for name in ("good", "slow", "late")}
    yield started
    for receiver in started.values():
        receiver.stop()


def event_grid(hub, email: str = "admin@contoso.com") -> EventGridManagementClient:
    return sdk_client(EventGridManagementClient, hub, email, hubs.CONTOSO)


def webhook(url: str, secret: str | None = None, **filter_and_retry) -> EventSubscription:
    mappings = [StaticDeliveryAttributeMapping(name="webhook-secret", value=secret, is_secret=True)] if secret else None
    retry = filter_and_retry.pop("max_delivery_attempts", None)
    return EventSubscription(
        destination=WebHookEventSubscriptionDestination(endpoint_url=url, delivery_attribute_mappings=mappings),
        filter=EventSubscriptionFilter(**filter_and_retry),
        retry_policy=RetryPolicy(max_delivery_attempts=retry or 30, event_time_to_live_in_minutes=60),
    )


def shown_secret(subscription) -> str:
    (mapping,) = subscription.destination.delivery_attribute_mappings
    return mapping.value


def headers_of(request) -> dict:
    return {key.lower(): value for key, value in request["headers"].items()}


def signed_with(secret: str, request) -> bool:
    """Whether a delivered request carries a valid Standard Webhooks signature under `secret`."""
    headers = headers_of(request)
    signed = headers["webhook-id"], headers["webhook-timestamp"], request["body"].encode()
    return verify(secret, *signed, headers["webhook-signature"])


def delivery_states(hub, name: str) -> dict:
    script = (
        "import json; from django.db.models import Count; from events.models import EventDelivery; "
        f"print(json.dumps(dict(EventDelivery.objects.filter(event_subscription__name={name!r}).order_by()"
        ".values('state').annotate(n=Count('pk')).values_list('state', 'n'))))"
    )
    return json.loads(hub.manage("shell", "-c", script).strip().splitlines()[-1])


def test_replication_events_reach_webhooks_signed_and_failing_receivers_never_slow_it(events_hub, receivers, tmp_path):
    hub, good, slow, late = events_hub, receivers["good"], receivers["slow"], receivers["late"]
    good.start()
    slow.start(delay=3)  # longer than the hub's 1 s read timeout
    late.start()  # up for the validation handshake, then down until replication is done
    client = event_grid(hub).event_subscriptions
    scope = RG_SCOPE
    made = client.begin_create_or_update(scope, "all-events", webhook(good.url)).result()
    secret = shown_secret(made)
    assert secret.startswith("whsec_") and made.topic == RG_SCOPE
    client.begin_create_or_update(
        scope,
        "slow-jobs",
        webhook(
            slow.url,
            "a-secret-the-user-chose",
            included_event_types=["Microsoft.Migrate.JobStarted", "Microsoft.Migrate.JobSucceeded"],
            max_delivery_attempts=2,
        ),
    ).result()
    late_secret = "whsec_" + "c2VjcmV0LWZvci10aGUtbGF0ZS1yZWNlaXZlcg=="
    client.begin_create_or_update(
        scope,
        "late-state",
        webhook(late.url, late_secret, included_event_types=["Microsoft.Migrate.ReplicationStateChanged"]),
    ).result()
    late.stop()
    assert made.provisioning_state == "Succeeded", "the endpoint passed the validation handshake"
    assert len(good.validations()) == 1
    assert shown_secret(client.get(scope, "all-events")) is None, "the secret is shown once"
    assert sorted(s.name for s in client.list_global_by_resource_group("rg-migrate")) == [
        "all-events",
        "late-state",
        "slow-jobs",
    ]

    rig, image = one_disk_rig(hub, tmp_path, 8)
    try:
        enable_replication(rig)
        wait_for_state(rig, "Replicating", seconds=120)
        rig.wait_until_replica_equals("disk0", sha256_of(image))
        # The receiver that was down all along comes up: the retried state changes reach it.
        late.start()
        late_requests = late.wait_for(
            lambda received: any(json.loads(r["body"])[0]["data"]["migrationState"] == "Replicating" for r in received),
            what="the Replicating state change",
        )
    finally:
        rig.stop()

    for request in late_requests:
        headers = headers_of(request)
        assert int(headers["aeg-delivery-count"]) >= 1, "it was retried while the receiver was down"
        assert signed_with(late_secret, request)

    received = good.wait_for(
        lambda requests: (
            {"Microsoft.Migrate.ReplicationHealthChanged", "Microsoft.Migrate.JobSucceeded"}
            <= {json.loads(r["body"])[0]["eventType"] for r in requests}
        ),
        what="job and health events",
    )
    for request in received:
        headers = headers_of(request)
        (event,) = json.loads(request["body"])
        assert set(event) == {
            "id",
            "topic",
            "subject",
            "eventType",
            "eventTime",
            "data",
            "dataVersion",
            "metadataVersion",
        }
        assert headers["aeg-event-type"] == "Notification" and headers["aeg-subscription-name"] == "ALL-EVENTS"
        assert signed_with(secret, request)
    replication = [json.loads(r["body"])[0] for r in received]
    item_events = [e for e in replication if e["eventType"] == "Microsoft.Migrate.ReplicationStateChanged"]
    assert item_events and item_events[0]["subject"].endswith(f"/replicationMigrationItems/{rig.item_name}")
    assert "Replicating" in [e["data"]["migrationState"] for e in item_events]

    # The receiver that timed out: each delivery tried twice (it got both, answered too late), then dead-lettered.
    wait_for(lambda: delivery_states(hub, "slow-jobs"), lambda states: states and set(states) == {"DeadLettered"})
    counts = [headers_of(r)["aeg-delivery-count"] for r in slow.requests()]
    assert counts.count("0") == counts.count("1") == len(counts) // 2

    client.begin_delete(scope, "slow-jobs").result()
    with pytest.raises(ResourceNotFoundError):
        client.get(scope, "slow-jobs")


def test_an_endpoint_that_never_answers_the_handshake_fails_the_create(events_hub):
    client = event_grid(events_hub).event_subscriptions
    with pytest.raises(HttpResponseError):
        client.begin_create_or_update(
            RG_SCOPE, "nobody-home", webhook(f"http://127.0.0.1:{hubs.free_port()}/events")
        ).result()
    assert client.get(RG_SCOPE, "nobody-home").provisioning_state == "Failed"
    client.begin_delete(RG_SCOPE, "nobody-home").result()


def test_readers_list_but_may_not_create_and_bad_input_is_an_arm_error(events_hub):
    reader = event_grid(events_hub, "viewer@contoso.com").event_subscriptions
    scope = RG_SCOPE
    with pytest.raises(HttpResponseError) as refused:
        reader.begin_create_or_update(scope, "reader-hook", webhook("https://receiver.test/hook")).result()
    assert refused.value.error.code == "AuthorizationFailed"
    list(reader.list_global_by_resource_group("rg-migrate"))
    admin = event_grid(events_hub).event_subscriptions
    with pytest.raises(HttpResponseError) as bad:
        admin.begin_create_or_update(
            scope, "bad-hook", webhook("https://receiver.test/hook", max_delivery_attempts=99)
        ).result()
    assert bad.value.status_code == 400


def start_probe_job(hub, group: str) -> None:
    """A job in the resource group (the worker probe, which does nothing else), as any operation there would start."""
    hub.manage(
        "shell",
        "-c",
        "from jobs.probe import PROBE_SCENARIO; from jobs.services import job_start; "
        "from projects.models import Subscription, User; "
        f"job_start(scenario_name=PROBE_SCENARIO, subscription=Subscription.objects.get(pk={hubs.CONTOSO!r}), "
        f"created_by=User.objects.get(email='admin@contoso.com'), resource_group_name={group!r}, "
        "target_object_name='probe')",
    )


def create_in_portal(page, name: str, url: str, attempts: str) -> None:
    page.locator(".commandbar").get_by_role("link", name="Event subscription").click()
    form = page.locator("#new-event-subscription")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Subscriber endpoint").fill(url)
    form.get_by_label("JobStarted").check()
    form.get_by_label("JobSucceeded").check()
    form.get_by_label("Max delivery attempts").fill(attempts)
    form.get_by_role("button", name="Create").click()
    expect(page.locator("#created-subscription")).to_contain_text(f"Created the event subscription {name}.")


@pytest.mark.browser
def test_create_a_webhook_subscription_see_its_delivery_log_and_delete_it(events_hub, receivers, page):
    hub, good = events_hub, receivers["good"].start()
    group = hub.new_resource_group("rg-events")
    project = f"/subscriptions/{hubs.CONTOSO}/resourceGroups/{group}/providers/Microsoft.Migrate/migrateProjects/events"
    assert hub.api("PUT", project, json={"location": "westeurope"}).status_code in (200, 201)
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, hub)
    page.goto(hub.url + "/migrate/")
    page.get_by_role("navigation", name="Azure Migrate menu").get_by_role("link", name="Event subscriptions").click()
    page.get_by_label("Migrate project").select_option(value=project)
    expect(page.locator(".blade-title")).to_contain_text(f"resource group {group}")

    create_in_portal(page, "ops-webhook", good.url, "30")
    expect(page.locator("#created-subscription")).to_contain_text("It is not shown again")
    secret = page.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_")
    # A receiver that passes the handshake, then goes away for good.
    gone = receivers["late"].start()
    create_in_portal(page, "unreachable", gone.url, "2")
    gone.stop()
    expect(page.get_by_label("Signing secret")).to_have_count(1)
    expect(page.locator("#event-subscriptions")).to_contain_text("Succeeded")

    start_probe_job(hub, group)
    requests = good.wait_for(lambda received: len(received) == 2, what="the probe job's two events")
    for request in requests:
        assert signed_with(secret, request)

    page.get_by_role("link", name="Refresh").click()
    expect(page.locator("#event-subscriptions")).to_contain_text("ops-webhook")
    screenshot(page, "event-subscriptions.png")
    page.get_by_role("link", name="unreachable").click()
    log = page.locator("#delivery-log")
    deadline = time.monotonic() + 30
    while log.get_by_text("Dead-lettered").count() < 2 and time.monotonic() < deadline:
        page.get_by_role("link", name="Refresh").click()
        time.sleep(0.5)
    expect(log.get_by_text("Dead-lettered")).to_have_count(2)
    expect(log).to_contain_text("MaxDeliveryAttemptsExceeded")
    expect(log).to_contain_text("The endpoint refused the connection.")
    # Each delivery's two attempts, neither answered.
    expect(log.locator(".delivery-attempts").first.get_by_text("no answer")).to_have_count(2)
    screenshot(page, "event-subscription-delivery-log.png")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Deleted the event subscription unreachable.")).to_be_visible()
    expect(page.locator("#event-subscriptions")).not_to_contain_text("unreachable")
    expect(page.locator("#event-subscriptions")).to_contain_text("ops-webhook")


@pytest.mark.browser
def test_a_reader_sees_why_they_cannot_create_a_subscription(events_hub, page):
    sign_in(page, events_hub, "viewer@contoso.com")
    page.goto(events_hub.url + "/migrate/event-subscriptions/")
    expect(page.locator(".commandbar")).to_contain_text("You need Contributor or Owner")
    expect(page.locator(".commandbar").get_by_role("link", name="Event subscription")).to_have_count(0)
