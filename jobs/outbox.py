"""The outbox: every Celery task the hub sends goes through here, so a broker outage loses nothing.

`send` writes an OutboxMessage in the caller's transaction; after the commit it tries to hand it to
the broker at once, and a failure there is only logged (the request that queued it still succeeds).
`deliver_due`, run every half second by jobs.periodic, hands over what is left or has come due,
retrying until the broker accepts. A row is claimed by a conditional update before it is sent and
deleted after, so two dispatchers do not send it twice at once; should a dispatcher die between
sending and deleting, the message goes out twice, which every task of the hub tolerates (each one is
idempotent).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hub.celery import app as celery_app
from jobs import workers
from jobs.models import OutboxMessage

logger = logging.getLogger(__name__)

# How long a dispatcher holds a row it is sending: longer than a publish can take.
CLAIM = timedelta(seconds=30)
# After a failed delivery the row waits this long times 2^attempts, at most RETRY_MAX.
RETRY_FIRST = timedelta(seconds=0.5)
RETRY_MAX = timedelta(seconds=5)
BATCH = 200


def send(task_name: str, args: list, *, countdown: float = 0) -> OutboxMessage:
    """Queue `task_name(*args)`, due after `countdown` seconds. Call it inside the transaction that
    makes the task necessary: the task is sent only if that transaction commits."""
    message = OutboxMessage.objects.create(
        task_name=task_name, args=[str(arg) for arg in args], due_at=timezone.now() + timedelta(seconds=countdown)
    )
    if countdown <= 0 and _broker_reachable_from_here():
        transaction.on_commit(lambda: _deliver_one(message.pk), robust=True)
    return message


def _broker_reachable_from_here() -> bool:
    """The embedded broker lives in memory in the process that runs the worker thread; another process
    (a manage.py command) would hand the message to a broker of its own that nobody reads. It leaves
    the row to the worker's dispatcher instead."""
    return not settings.EMBEDDED or workers.is_registered()


def deliver_due(limit: int = BATCH) -> int:
    """Hand every due message to the broker; stop at the first refusal (the broker is down, the others
    would fail the same way). Returns how many were delivered."""
    due = (
        OutboxMessage.objects.filter(due_at__lte=timezone.now())
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=timezone.now()))
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    delivered = 0
    for message_id in list(due):
        outcome = _deliver_one(message_id)
        if outcome is False:
            break
        delivered += bool(outcome)
    return delivered


def pending_args(task_name: str) -> list[list]:
    """The arguments of the messages of `task_name` not yet handed to the broker."""
    return list(OutboxMessage.objects.filter(task_name=task_name).values_list("args", flat=True))


def _deliver_one(message_id) -> bool | None:
    """True: delivered. False: the broker refused. None: another dispatcher holds it, or it is gone."""
    now = timezone.now()
    claimed = (
        OutboxMessage.objects.filter(pk=message_id)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM)
    )
    if not claimed:
        return None
    message = OutboxMessage.objects.filter(pk=message_id).first()
    if message is None:
        return None
    try:
        # No publish retries here: the row is the retry, and a request must not wait on a dead broker.
        celery_app.send_task(message.task_name, args=message.args, retry=False)
    except Exception as error:
        # The error's type only: a connection error's text can carry the broker's URL.
        logger.warning(
            "The broker refused %s (attempt %d, %s); it stays in the outbox",
            message.task_name,
            message.attempts + 1,
            error.__class__.__name__,
        )
        delay = min(RETRY_MAX, RETRY_FIRST * 2 ** min(message.attempts, 10))
        OutboxMessage.objects.filter(pk=message_id).update(
            claimed_until=None, attempts=message.attempts + 1, due_at=timezone.now() + delay
        )
        return False
    OutboxMessage.objects.filter(pk=message_id).delete()
    return True
