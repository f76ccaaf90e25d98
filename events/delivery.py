"""Delivering events to webhooks: threads of each worker process, beside its Celery pool.

Why not Celery tasks: the hub's workers run one small pool that also applies replication batches,
and a receiver that times out would hold a slot of it for the whole timeout, once per retry. Here
the EventDelivery rows are the queue (written with the change they report, so nothing is lost when
the broker is down), and DELIVERY_THREADS threads per worker claim due rows by a conditional update,
so two workers never deliver one row at once. Each attempt POSTs with short connect and read
timeouts and is logged; a failure waits an exponential backoff with jitter, and after the
subscription's maxDeliveryAttempts (or its eventTimeToLive) the delivery is dead-lettered into the
log. Before any event, a new endpoint must pass Event Grid's validation handshake (`validate`). A
watcher thread (events.watcher) turns replication state and health changes into events.

Idle, the delivery threads cost nothing: one lookout thread asks, every IDLE_SECONDS, whether anything
is due (at most two queries), and wakes them only then; they deliver until nothing is left and wait again. Each
thread asking on its own cost two queries per thread and round, a measurable share of a worker that
applies replication in the same process.

As Event Grid, a delivery may arrive twice (a worker dying between the POST and the log), so
receivers dedupe on the event id (or webhook-id, the delivery's)."""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import ssl
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from events import signing, watcher
from events.models import DeliveryAttempt, DeliveryState, EventDelivery, EventSubscription, ProvisioningState
from hub import rounds

logger = logging.getLogger(__name__)

IDLE_SECONDS = 0.5
# A delivery thread with nothing to do also looks on its own this often: a safety net only (a wake-up that
# came while every thread was busy is made up by the threads' next look, or by the lookout's next round).
SPARE_WAIT_SECONDS = 10
CANDIDATES = 20
RESPONSE_BYTES = 64 * 1024

_lock = threading.Lock()
_stop = threading.Event()
_work_due = threading.Condition()  # the lookout notifies it when something is due
_threads: list[threading.Thread] = []


def start() -> None:
    with _lock:
        if any(thread.is_alive() for thread in _threads):
            return
        _stop.clear()
        _threads.clear()
        for index in range(settings.EVENTS_DELIVERY_THREADS):
            _threads.append(threading.Thread(target=_deliver_loop, name=f"events-delivery-{index}", daemon=True))
        _threads.append(threading.Thread(target=_lookout_loop, name="events-lookout", daemon=True))
        _threads.append(threading.Thread(target=_watch_loop, name="events-watcher", daemon=True))
        for thread in _threads:
            thread.start()


def stop() -> None:
    with _lock:
        _stop.set()
        with _work_due:
            _work_due.notify_all()
        # One deadline for all: a thread mid-POST finishes within its timeouts; none waits for another.
        deadline = time.monotonic() + settings.EVENTS_CONNECT_TIMEOUT + settings.EVENTS_READ_TIMEOUT + 1
        for thread in _threads:
            thread.join(timeout=max(0, deadline - time.monotonic()))
        _threads.clear()


def on_worker_init(**kwargs) -> None:
    start()


def on_worker_shutdown(**kwargs) -> None:
    stop()


def _deliver_loop() -> None:
    while not _stop.is_set():
        try:
            worked = deliver_next()
        except Exception:
            logger.exception("Event delivery failed; retrying")
            worked = False
        finally:
            close_old_connections()
        if not worked:
            with _work_due:
                if not _stop.is_set():  # under the lock: stop's notify cannot come between the check and the wait
                    _work_due.wait(SPARE_WAIT_SECONDS)


def _wake_deliverers_if_due() -> None:
    if anything_due():
        with _work_due:
            _work_due.notify_all()


def _lookout_loop() -> None:
    rounds.repeat_until_stopped(
        _stop,
        lambda: IDLE_SECONDS,
        _wake_deliverers_if_due,
        "Looking for due event deliveries failed; retrying",
        logger,
    )


def _watch_once_per_hub() -> None:
    # Every worker process runs this loop, but one round per interval is enough for the whole hub:
    # comparing every watched resource's state is the heavy part, and doing it in each worker only
    # repeats it.
    if rounds.claim_round("events-watcher", settings.EVENTS_WATCH_SECONDS * 0.9):
        watcher.watch_once()


def _watch_loop() -> None:
    rounds.repeat_until_stopped(
        _stop,
        lambda: settings.EVENTS_WATCH_SECONDS,
        _watch_once_per_hub,
        "Watching replication state for events failed; retrying",
        logger,
    )


def _due():
    now = timezone.now()
    return EventDelivery.objects.filter(
        state__in=(DeliveryState.PENDING, DeliveryState.RETRYING), due_at__lte=now
    ).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


def anything_due() -> bool:
    """Whether a delivery or a validation handshake is due and unclaimed: the lookout's one question,
    asked through the same querysets deliver_next and validate_next take from (one rule of "due")."""
    return _due().exists() or _validation_due().exists()


def claim_next() -> EventDelivery | None:
    """A due delivery, claimed for this thread (None when there is none)."""
    hold = timedelta(seconds=settings.EVENTS_CONNECT_TIMEOUT + settings.EVENTS_READ_TIMEOUT + 30)
    for delivery_id in list(_due().order_by("due_at").values_list("pk", flat=True)[:CANDIDATES]):
        if _due().filter(pk=delivery_id).update(claimed_until=timezone.now() + hold):
            return EventDelivery.objects.select_related("event", "event_subscription").get(pk=delivery_id)
    return None


def deliver_next() -> bool:
    """Claim and attempt one validation handshake or one delivery; False when nothing was due."""
    if validate_next():
        return True
    delivery = claim_next()
    if delivery is None:
        return False
    attempt(delivery)
    return True


def attempt(delivery: EventDelivery) -> None:
    subscription = delivery.event_subscription
    if timezone.now() >= delivery.expires_at:
        _dead_letter(delivery, "TimeToLiveExceeded", "The event's time to live passed before it was delivered.")
        return
    body = json.dumps([delivery.event.as_event_grid()], separators=(",", ":")).encode()
    message_id = f"{delivery.event_id}-{delivery.event_subscription_id}"
    headers = signed_headers(
        subscription, body, message_id, "Notification", delivery.attempts, delivery.event.data_version
    )
    started = timezone.now()
    clock_started = time.monotonic()
    status_code, _, error = post(subscription.endpoint_url, body, headers)
    latency_ms = int((time.monotonic() - clock_started) * 1000)
    _record(delivery, started, status_code, latency_ms, error)


def signed_headers(subscription, body: bytes, message_id: str, kind: str, count: int, data_version: str) -> dict:
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json",
        "User-Agent": "Migrate-Hub-EventGrid",
        "aeg-event-type": kind,
        "aeg-subscription-name": subscription.name.upper(),
        "aeg-delivery-count": str(count),
        "aeg-data-version": data_version,
        "aeg-metadata-version": "1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature(
            signing.unseal(subscription.secret_encrypted), message_id, timestamp, body
        ),
    }


def post(url: str, body: bytes, headers: dict) -> tuple[int | None, bytes, str]:
    """(status code, answer's body, "") for any answer; (None, b"", why) when there was none."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    kwargs = {"context": ssl.create_default_context()} if parts.scheme == "https" else {}
    connection = connection_class(parts.hostname, parts.port, timeout=settings.EVENTS_CONNECT_TIMEOUT, **kwargs)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.connect()
        connection.sock.settimeout(settings.EVENTS_READ_TIMEOUT)
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(RESPONSE_BYTES), ""
    except TimeoutError:
        return None, b"", "The endpoint did not answer in time."
    except ConnectionRefusedError:
        return None, b"", "The endpoint refused the connection."
    except (OSError, http.client.HTTPException, socket.gaierror) as failure:
        # The error's class and text, never the URL (its query string may hold a secret).
        return None, b"", f"{failure.__class__.__name__}: {failure}"[:400]
    finally:
        connection.close()


def backoff_seconds(attempts: int) -> float:
    """Exponential, capped, with jitter: half the delay fixed, half random, so receivers that come
    back are not hit by every retry at once."""
    delay = min(settings.EVENTS_RETRY_MAX_SECONDS, settings.EVENTS_RETRY_FIRST_SECONDS * 2 ** (attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def _record(delivery: EventDelivery, started, status_code: int | None, latency_ms: int, error: str) -> None:
    number = delivery.attempts + 1
    delivered = status_code is not None and 200 <= status_code < 300
    if not delivered and not error:
        error = f"The endpoint answered {status_code}."
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=started,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
        )
        now = timezone.now()
        changes = {"attempts": number, "last_status_code": status_code, "last_error": error, "claimed_until": None}
        if delivered:
            changes.update(state=DeliveryState.DELIVERED, delivered_at=now)
        elif number >= delivery.event_subscription.max_delivery_attempts:
            changes.update(
                state=DeliveryState.DEAD_LETTERED,
                dead_lettered_at=now,
                dead_letter_reason="MaxDeliveryAttemptsExceeded",
            )
        else:
            changes.update(state=DeliveryState.RETRYING, due_at=now + timedelta(seconds=backoff_seconds(number)))
        EventDelivery.objects.filter(pk=delivery.pk).update(**changes)
    if not delivered:
        logger.info(
            "Event %s to subscription %s: attempt %d failed (%s)",
            delivery.event_id,
            delivery.event_subscription.name,
            number,
            error,
        )


def _dead_letter(delivery: EventDelivery, reason: str, error: str) -> None:
    EventDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.DEAD_LETTERED,
        dead_lettered_at=timezone.now(),
        dead_letter_reason=reason,
        last_error=error,
        claimed_until=None,
    )


# The validation handshake: a new endpoint has this many tries to echo its code before the
# subscription fails, as Event Grid's create fails when the handshake does.
VALIDATION_ATTEMPTS = 3


def _validation_due():
    now = timezone.now()
    return EventSubscription.objects.filter(
        provisioning_state=ProvisioningState.CREATING, validation_due_at__lte=now
    ).filter(Q(validation_claimed_until__isnull=True) | Q(validation_claimed_until__lt=now))


def validate_next() -> bool:
    for subscription_id in list(_validation_due().values_list("pk", flat=True)[:CANDIDATES]):
        if validate_now(subscription_id):
            return True
    return False


def validate_now(subscription_id) -> bool:
    """The handshake of one subscription, if it is due and nobody else is doing it."""
    hold = timedelta(seconds=settings.EVENTS_CONNECT_TIMEOUT + settings.EVENTS_READ_TIMEOUT + 30)
    if not _validation_due().filter(pk=subscription_id).update(validation_claimed_until=timezone.now() + hold):
        return False
    validate(EventSubscription.objects.get(pk=subscription_id))
    return True


def validate(subscription: EventSubscription) -> None:
    """Send Event Grid's SubscriptionValidationEvent; the endpoint proves it wants the events by
    answering {"validationResponse": <the code>}."""
    event = {
        "id": str(subscription.pk),
        "topic": subscription.scope_id,
        "subject": "",
        "data": {"validationCode": subscription.validation_code, "validationUrl": None},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": timezone.now().isoformat().replace("+00:00", "Z"),
        "metadataVersion": "1",
        "dataVersion": "2",
    }
    body = json.dumps([event], separators=(",", ":")).encode()
    headers = signed_headers(
        subscription,
        body,
        f"validation-{subscription.pk}",
        "SubscriptionValidation",
        subscription.validation_attempts,
        "2",
    )
    status_code, answer, error = post(subscription.endpoint_url, body, headers)
    echoed = None
    if status_code == 200:
        try:
            echoed = {str(k).lower(): v for k, v in json.loads(answer).items()}.get("validationresponse")
        except (ValueError, AttributeError):
            echoed = None
    attempts = subscription.validation_attempts + 1
    changes = {"validation_attempts": attempts, "validation_claimed_until": None}
    if echoed == subscription.validation_code:
        changes.update(provisioning_state=ProvisioningState.SUCCEEDED, validation_error="")
    else:
        why = error or (
            f"it answered {status_code}" if status_code != 200 else "its answer did not echo the validationCode"
        )
        changes["validation_error"] = (f"Webhook validation handshake failed: {why}")[:400]
        if attempts >= VALIDATION_ATTEMPTS:
            changes["provisioning_state"] = ProvisioningState.FAILED
        else:
            changes["validation_due_at"] = timezone.now() + timedelta(seconds=backoff_seconds(attempts))
    # Conditional: a PUT that changed the endpoint meanwhile has started a new handshake.
    EventSubscription.objects.filter(pk=subscription.pk, validation_code=subscription.validation_code).update(**changes)
