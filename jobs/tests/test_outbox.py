"""The outbox against real brokers: the suite's Redis, and a port where nothing listens."""

import logging

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.utils import timezone

from jobs import outbox
from jobs.models import OutboxMessage
from tests.hubs import free_port

pytestmark = pytest.mark.django_db
TASK = "jobs.tests.outbox_probe"  # never registered: nobody consumes it, the test reads the queue


@pytest.fixture
def queue():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("celery")
    yield client
    client.delete("celery")


def test_a_due_message_is_handed_to_the_broker_and_removed(queue):
    outbox.send(TASK, ["a", 1])
    later = outbox.send(TASK, ["b"], countdown=60)
    assert outbox.deliver_due() == 1
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [later.pk], "the later one waits"
    assert queue.llen("celery") == 1


def test_a_refusing_broker_keeps_the_message_for_later_and_the_log_names_no_address(monkeypatch, caplog):
    port = free_port()
    refused = Celery("refused")
    refused.config_from_object("django.conf:settings", namespace="CELERY")  # the hub's own broker settings
    refused.conf.broker_url = f"redis://:s3cret@127.0.0.1:{port}/0"
    monkeypatch.setattr(outbox, "celery_app", refused)
    message = outbox.send(TASK, ["a"])
    with caplog.at_level(logging.WARNING, logger="jobs.outbox"):
        assert outbox.deliver_due() == 0
    message.refresh_from_db()
    assert message.attempts == 1 and message.claimed_until is None
    assert message.due_at > timezone.now(), "retried after a backoff"
    assert caplog.messages and all(str(port) not in text and "s3cret" not in text for text in caplog.messages)


def test_a_message_another_dispatcher_holds_is_left_alone(queue):
    message = outbox.send(TASK, ["a"])
    OutboxMessage.objects.filter(pk=message.pk).update(claimed_until=timezone.now() + outbox.CLAIM)
    assert outbox.deliver_due() == 0
    assert queue.llen("celery") == 0
