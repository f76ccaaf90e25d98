"""The delivery threads around deliver_next: idle, only the lookout asks the database; once something is
due they are woken and deliver until nothing is left. The database side of "due" is anything_due."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from events import delivery
from events.models import DeliveryState, EventDelivery, EventSubscription, ProvisioningState
from events.tests.test_delivery import project, start_probe, subscribe  # noqa: F401 (a fixture)


def wait_for(condition, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.01)


@pytest.fixture
def delivery_threads(monkeypatch, settings):
    """The threads started with deliver_next and anything_due replaced by a queue in memory."""
    settings.EVENTS_DELIVERY_THREADS = 3
    monkeypatch.setattr(delivery, "IDLE_SECONDS", 0.05)
    monkeypatch.setattr(delivery, "_watch_loop", lambda: None)
    state = {"queue": [], "looks": 0, "delivered": 0}
    lock = threading.Lock()

    def deliver_next() -> bool:
        with lock:
            state["looks"] += 1
            if not state["queue"]:
                return False
            state["queue"].pop()
            state["delivered"] += 1
            return True

    monkeypatch.setattr(delivery, "deliver_next", deliver_next)
    monkeypatch.setattr(delivery, "anything_due", lambda: bool(state["queue"]))
    delivery.start()
    yield state
    delivery.stop()


def test_idle_delivery_threads_look_once_then_wait_for_the_lookout(delivery_threads):
    wait_for(lambda: delivery_threads["looks"] == 3)
    time.sleep(0.5)  # ten of the lookout's rounds
    assert delivery_threads["looks"] == 3


def test_the_lookout_wakes_the_threads_and_they_deliver_everything_due(delivery_threads):
    wait_for(lambda: delivery_threads["looks"] == 3)
    delivery_threads["queue"].extend(range(20))
    wait_for(lambda: delivery_threads["delivered"] == 20, timeout=2)
    time.sleep(0.3)
    # Each thread's last look found nothing; none went on looking after that.
    looks = delivery_threads["looks"]
    assert looks <= 20 + 3 * 3
    time.sleep(0.3)
    assert delivery_threads["looks"] == looks


@pytest.mark.django_db
def test_anything_due_sees_what_deliver_next_would_take(project):  # noqa: F811
    assert not delivery.anything_due()
    subscription, _ = subscribe(project, "http://127.0.0.1:9/", handshake=False)
    start_probe(project)
    assert EventDelivery.objects.filter(event_subscription=subscription).exists()
    assert delivery.anything_due()

    later = timezone.now() + timedelta(minutes=5)
    EventDelivery.objects.update(claimed_until=later)
    assert not delivery.anything_due()
    EventDelivery.objects.update(claimed_until=None, due_at=later)
    assert not delivery.anything_due()
    EventDelivery.objects.update(due_at=timezone.now(), state=DeliveryState.DELIVERED)
    assert not delivery.anything_due()

    EventSubscription.objects.filter(pk=subscription.pk).update(
        provisioning_state=ProvisioningState.CREATING, validation_due_at=timezone.now()
    )
    assert delivery.anything_due()
    EventSubscription.objects.filter(pk=subscription.pk).update(validation_claimed_until=later)
    assert not delivery.anything_due()
