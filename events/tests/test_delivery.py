"""Events out, in process: what a job announces becomes a signed Event Grid notification at a real
receiver process; a receiver that is down gets the retries once it is up; one that times out is
retried, then dead-lettered into the delivery log. The delivery threads' one step (deliver_next) is
called directly."""

from __future__ import annotations

import json
import socket
import time
from datetime import timedelta

import pytest
from django.core.management import call_command

from events import delivery, signing, watcher
from events.models import DeliveryState, Event, EventDelivery, EventSubscription, ProvisioningState
from events.services import SubscriptionSpec, event_subscription_put
from jobs import event_sources
from jobs.probe import PROBE_SCENARIO
from jobs.services import job_run, job_start
from projects.models import ResourceGroup, User
from projects.services import migrate_project_create_or_update
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db

EVENT_GRID_FIELDS = {"id", "topic", "subject", "eventType", "eventTime", "data", "dataVersion", "metadataVersion"}


@pytest.fixture(autouse=True)
def quick_delivery(settings):
    settings.EVENTS_CONNECT_TIMEOUT = 1
    settings.EVENTS_READ_TIMEOUT = 1
    settings.EVENTS_RETRY_FIRST_SECONDS = 0.2
    settings.EVENTS_RETRY_MAX_SECONDS = 0.4


@pytest.fixture
def project():
    call_command("seed_demo", verbosity=0)
    admin = User.objects.get(email="admin@contoso.com")
    project, _ = migrate_project_create_or_update(
        user=admin, resource_group=ResourceGroup.objects.get(name="rg-migrate"), name="events", location="westeurope"
    )
    return project


@pytest.fixture
def receiver(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    receiver = Receiver(port, tmp_path / "received.jsonl")
    yield receiver
    receiver.stop()


def subscribe(project, url: str, *, handshake: bool = True, **spec):
    """A subscription whose endpoint passed the validation handshake: over the network with a running
    receiver (handshake=True), or marked so when the test is about something else."""
    group = project.resource_group
    subscription, created, secret = event_subscription_put(
        subscription=group.subscription,
        resource_group_name=group.name,
        scope_id=project.arm_id,
        name=spec.pop("name", "webhook"),
        spec=SubscriptionSpec(endpoint_url=url, **spec),
        created_by=User.objects.get(email="admin@contoso.com"),
    )
    assert created
    if not handshake:
        EventSubscription.objects.filter(pk=subscription.pk).update(provisioning_state=ProvisioningState.SUCCEEDED)
    subscription.refresh_from_db()
    assert subscription.provisioning_state == ProvisioningState.SUCCEEDED, subscription.validation_error
    return subscription, secret


def start_probe(project):
    group = project.resource_group
    return job_start(
        scenario_name=PROBE_SCENARIO,
        subscription=group.subscription,
        created_by=User.objects.get(email="admin@contoso.com"),
        resource_group_name=group.name,
        target_object_name="probe",
    )


def deliver_until(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if not delivery.deliver_next():
            time.sleep(0.05)
    raise AssertionError("the deliveries did not get there in time")


def all_settled() -> bool:
    return not EventDelivery.objects.filter(state__in=(DeliveryState.PENDING, DeliveryState.RETRYING)).exists()


def test_it_delivers_a_jobs_events_signed_in_the_event_grid_schema(
    project, receiver, django_capture_on_commit_callbacks
):
    receiver.start()
    subscription, secret = subscribe(project, receiver.url)
    assert secret.startswith("whsec_")
    job = start_probe(project)
    job_run(job.pk)
    deliver_until(all_settled)

    requests = receiver.wait_for(lambda received: len(received) == 2)
    events = [json.loads(request["body"])[0] for request in requests]
    assert [event["eventType"] for event in events] == [
        "Microsoft.Migrate.JobStarted",
        "Microsoft.Migrate.JobSucceeded",
    ]
    vault_free_subject = f"{project.resource_group.arm_id}/replicationJobs/{job.pk}"
    for request, event in zip(requests, events, strict=True):
        assert set(event) == EVENT_GRID_FIELDS
        assert event["topic"] == project.resource_group.arm_id
        assert event["subject"] == vault_free_subject
        assert (event["dataVersion"], event["metadataVersion"]) == ("1.0", "1")
        assert event["data"]["jobName"] == str(job.pk)
        headers = {key.lower(): value for key, value in request["headers"].items()}
        assert headers["aeg-event-type"] == "Notification"
        assert headers["aeg-subscription-name"] == "WEBHOOK"
        assert headers["aeg-delivery-count"] == "0"
        # What a receiver does with the secret it was shown once.
        assert signing.verify(
            secret,
            headers["webhook-id"],
            headers["webhook-timestamp"],
            request["body"].encode(),
            headers["webhook-signature"],
        )
        assert not signing.verify(
            "whsec_" + "A" * 32,
            headers["webhook-id"],
            headers["webhook-timestamp"],
            request["body"].encode(),
            headers["webhook-signature"],
        )
    assert events[1]["data"]["state"] == "Succeeded"
    log = EventDelivery.objects.filter(event_subscription=subscription)
    assert {row.state for row in log} == {DeliveryState.DELIVERED}
    assert all(row.attempt_log.get().status_code == 200 for row in log)


def test_it_writes_nothing_when_nobody_subscribed(project):
    start_probe(project)
    assert not Event.objects.exists()


def test_a_receiver_down_for_a_while_gets_the_retried_events_once_it_is_up(project, receiver):
    receiver.start()
    subscription, _ = subscribe(project, receiver.url)
    receiver.stop()
    start_probe(project)
    deliver_until(lambda: EventDelivery.objects.filter(attempts__gte=2).exists())
    retrying = EventDelivery.objects.get(event_subscription=subscription)
    assert retrying.state == DeliveryState.RETRYING
    assert retrying.last_error == "The endpoint refused the connection."
    assert retrying.last_status_code is None

    receiver.start()
    deliver_until(all_settled)
    retrying.refresh_from_db()
    assert retrying.state == DeliveryState.DELIVERED
    attempts = list(retrying.attempt_log.all())
    assert [attempt.status_code for attempt in attempts][-1] == 200
    assert all(attempt.status_code is None for attempt in attempts[:-1])
    (request,) = receiver.requests()
    headers = {key.lower(): value for key, value in request["headers"].items()}
    assert headers["aeg-delivery-count"] == str(len(attempts) - 1)


def settled_delivery(project, receiver, **subscription_options) -> EventDelivery:
    """The one delivery to a new subscription of `receiver`, once every delivery of the probe job has settled."""
    subscription, _ = subscribe(project, receiver.url, **subscription_options)
    start_probe(project)
    deliver_until(all_settled)
    return EventDelivery.objects.get(event_subscription=subscription)


def test_a_receiver_that_times_out_is_retried_then_dead_lettered(project, receiver):
    receiver.start(delay=3)
    dead = settled_delivery(project, receiver, max_delivery_attempts=2)
    assert (dead.state, dead.dead_letter_reason, dead.attempts) == (
        DeliveryState.DEAD_LETTERED,
        "MaxDeliveryAttemptsExceeded",
        2,
    )
    assert [attempt.error for attempt in dead.attempt_log.all()] == ["The endpoint did not answer in time."] * 2
    # The read timeout cut each attempt short: no attempt waited for the receiver's 3 s.
    assert all(attempt.latency_ms < 2500 for attempt in dead.attempt_log.all())


def test_a_receiver_answering_an_error_is_retried_with_the_status_logged(project, receiver):
    receiver.start(status=503)
    dead = settled_delivery(project, receiver, max_delivery_attempts=3)
    assert dead.state == DeliveryState.DEAD_LETTERED
    assert [attempt.status_code for attempt in dead.attempt_log.all()] == [503, 503, 503]
    assert len(receiver.requests()) == 3


def test_an_expired_event_is_dead_lettered_without_an_attempt(project, receiver):
    subscription, _ = subscribe(project, receiver.url, handshake=False)
    start_probe(project)
    EventDelivery.objects.update(expires_at=EventDelivery.objects.get().due_at - timedelta(seconds=1))
    deliver_until(all_settled)
    dead = EventDelivery.objects.get(event_subscription=subscription)
    assert (dead.state, dead.dead_letter_reason, dead.attempts) == (
        DeliveryState.DEAD_LETTERED,
        "TimeToLiveExceeded",
        0,
    )


def test_the_filter_chooses_event_types_and_subjects(project, receiver):
    only_ends, _ = subscribe(
        project, receiver.url, name="ends", included_event_types=["microsoft.migrate.jobfailed"], handshake=False
    )
    assert only_ends.included_event_types == ["Microsoft.Migrate.JobFailed"]
    elsewhere, _ = subscribe(
        project, receiver.url, name="elsewhere", subject_begins_with="/subscriptions/other", handshake=False
    )
    everything, _ = subscribe(project, receiver.url, name="everything", subject_ends_with="", handshake=False)
    start_probe(project)
    assert EventDelivery.objects.filter(event_subscription=only_ends).count() == 0
    assert EventDelivery.objects.filter(event_subscription=elsewhere).count() == 0
    assert EventDelivery.objects.filter(event_subscription=everything).count() == 1


def test_the_watcher_publishes_state_changes_of_new_resources_not_old_ones(project, receiver):
    group = project.resource_group
    subscription, _ = subscribe(project, receiver.url, handshake=False)
    states = {}

    def source(scopes):
        assert (str(group.subscription_id), group.name.lower()) in scopes
        for subject, (created, values) in states.items():
            yield event_sources.ObservedState(
                str(group.subscription_id), group.name, subject, created, values, {"machineName": subject[-3:]}
            )

    event_sources.register_state_source("test", source)
    try:
        states["/old"] = (
            subscription.created_at - timedelta(days=1),
            {"migrationState": "Replicating", "health": "Normal"},
        )
        states["/new"] = (
            subscription.created_at + timedelta(seconds=1),
            {"migrationState": "InitialSeedingInProgress", "health": "None"},
        )
        assert watcher.watch_once() == 2  # the new one's two values, none of the old one's
        states["/old"] = (states["/old"][0], {"migrationState": "Replicating", "health": "Critical"})
        assert watcher.watch_once() == 1
        assert watcher.watch_once() == 0  # nothing changed since
    finally:
        event_sources._state_sources.pop("test")
    changed = Event.objects.get(subject="/old")
    assert changed.event_type == "Microsoft.Migrate.ReplicationHealthChanged"
    assert (changed.data["previousHealth"], changed.data["health"]) == ("Normal", "Critical")
    assert changed.data["machineName"] == "old"


def test_an_endpoint_that_fails_the_validation_handshake_gets_no_events(project, receiver):
    group = project.resource_group
    subscription, _, _ = event_subscription_put(
        subscription=group.subscription,
        resource_group_name=group.name,
        scope_id=project.arm_id,
        name="nobody-home",
        spec=SubscriptionSpec(endpoint_url=receiver.url),
        created_by=User.objects.get(email="admin@contoso.com"),
    )
    deadline = time.monotonic() + 20
    while EventSubscription.objects.filter(pk=subscription.pk, provisioning_state="Creating").exists():
        assert time.monotonic() < deadline
        if not delivery.validate_next():
            time.sleep(0.05)
    subscription.refresh_from_db()
    # One attempt in the PUT itself, two more by the delivery threads.
    assert (subscription.provisioning_state, subscription.validation_attempts) == (ProvisioningState.FAILED, 3)
    assert subscription.validation_error == "Webhook validation handshake failed: The endpoint refused the connection."
    start_probe(project)
    assert not EventDelivery.objects.exists()


def test_the_validation_handshake_is_event_grids(project, receiver):
    receiver.start()
    subscribe(project, receiver.url)
    (request,) = receiver.validations()
    (event,) = json.loads(request["body"])
    assert request["headers"]["aeg-event-type"] == "SubscriptionValidation"
    assert event["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent"
    assert event["topic"] == project.arm_id and set(event["data"]) == {"validationCode", "validationUrl"}
