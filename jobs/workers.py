"""Which worker this process is, and its heartbeat row.

A worker process (a Celery worker, or the embedded worker thread's process) registers a name when it
starts and refreshes its WorkerHeartbeat row every few seconds (jobs.periodic). A job claimed by this
process records that name (jobs.services.job_run); one whose worker's row went stale is resumed
elsewhere (jobs.supervision). A process that runs a job without being a registered worker (a shell,
a test) claims under a name no heartbeat refreshes, so its claims count as abandoned.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from django.utils import timezone

from hub.health import CheckFailed
from jobs.models import WorkerHeartbeat

HEARTBEAT_SECONDS = 5.0
# Three missed heartbeats: the worker is dead (or cut off from the database, which is as bad).
STALE_AFTER = timedelta(seconds=15)

_registered_name = ""
_unregistered_name = f"unsupervised:{socket.gethostname()}:{os.getpid()}"


def current_name() -> str:
    """The name this process claims jobs under."""
    return _registered_name or _unregistered_name


def is_registered() -> bool:
    return bool(_registered_name)


def register() -> str:
    """Become a worker: a fresh name, written at once (before any task is taken), so no claim of ours
    is ever seen without its heartbeat."""
    global _registered_name
    _registered_name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        name=_registered_name, defaults={"last_seen_at": now}, create_defaults={"started_at": now, "last_seen_at": now}
    )
    return _registered_name


def beat() -> None:
    if _registered_name:
        now = timezone.now()
        updated = WorkerHeartbeat.objects.filter(name=_registered_name).update(last_seen_at=now)
        if not updated:  # declared dead while cut off (and its jobs resumed): carry on as a live worker
            WorkerHeartbeat.objects.create(name=_registered_name, started_at=now, last_seen_at=now)


def unregister() -> None:
    """A clean stop: our claims are abandoned at once rather than after STALE_AFTER."""
    global _registered_name
    if _registered_name:
        WorkerHeartbeat.objects.filter(name=_registered_name).delete()
        _registered_name = ""


def mark_dead(pid: int) -> None:
    """A worker process of this host known to be dead (its parent saw it exit): its heartbeat is made
    stale now, so the supervision resumes its jobs on its next round instead of 15 s later."""
    WorkerHeartbeat.objects.filter(name__startswith=f"{socket.gethostname()}:{pid}:").update(
        last_seen_at=timezone.now() - STALE_AFTER * 2
    )


def live():
    """The heartbeat rows of live workers."""
    return WorkerHeartbeat.objects.filter(last_seen_at__gte=timezone.now() - STALE_AFTER)


def require_live_worker() -> None:
    """The readiness check (hub.health): some worker heartbeats."""
    if not live().exists():
        raise CheckFailed("No worker has sent a heartbeat in the last 15 seconds.")


def stale():
    return WorkerHeartbeat.objects.filter(last_seen_at__lt=timezone.now() - STALE_AFTER)
