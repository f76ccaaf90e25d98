"""The periodic work of every worker process, in a thread beside its Celery worker.

Every half second the outbox's due messages go to the broker; every HEARTBEAT_SECONDS lost runs are
resumed (jobs.supervision). The worker's heartbeat has a thread of its own: a slow round here (a large
prune, a broker that does not answer) must not make a live worker look dead, or its running jobs would
be handed to another worker while it still runs them. It starts with any Celery worker
of the hub (the `worker_init` signal, connected in JobsConfig.ready): a `celery worker` process, the
child `manage.py serve` runs, and the embedded worker thread of `make run`. No beat is needed.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections

from hub import rounds
from jobs import outbox, supervision, workers

logger = logging.getLogger(__name__)

DISPATCH_SECONDS = 0.5

_lock = threading.Lock()
# Periodic work a domain app registers (name -> [seconds between rounds, function, next due]): the jobs
# layer cannot import the apps above it, so they hand their rounds in from AppConfig.ready.
_rounds: dict[str, list] = {}


def every(seconds: float, name: str, function) -> None:
    """Run `function()` in every worker's periodic loop, at most once per `seconds`."""
    _rounds[name] = [seconds, function, 0.0]


_stop = threading.Event()
_thread: threading.Thread | None = None
_beat_thread: threading.Thread | None = None


def start() -> None:
    """Register this process as a worker and start the loop (once per process)."""
    global _thread, _beat_thread, _next_supervision
    with _lock:
        if _thread is not None and _thread.is_alive():
            return
        _next_supervision = 0.0  # a (re)started worker looks for lost runs at once
        name = workers.register()
        close_old_connections()
        _stop.clear()
        _beat_thread = threading.Thread(target=_beat_loop, name="migratehub-heartbeat", daemon=True)
        _beat_thread.start()
        _thread = threading.Thread(target=_loop, name="migratehub-periodic", daemon=True)
        _thread.start()
        logger.info("Worker %s: heartbeat, outbox dispatcher and job supervision started", name)


def stop() -> None:
    global _thread, _beat_thread
    with _lock:
        _stop.set()
        for thread in (_thread, _beat_thread):
            if thread is not None:
                thread.join(timeout=10)
        _thread = _beat_thread = None
        try:
            workers.unregister()
        except Exception:
            logger.exception("Could not remove this worker's heartbeat")
        finally:
            close_old_connections()


def _beat_loop() -> None:
    rounds.repeat_until_stopped(
        _stop, lambda: workers.HEARTBEAT_SECONDS, workers.beat, "Heartbeat failed; retrying", logger
    )


_next_supervision = 0.0


def _periodic_round() -> None:
    global _next_supervision
    if time.monotonic() >= _next_supervision:
        supervision.jobs_resume_lost()
        _next_supervision = time.monotonic() + workers.HEARTBEAT_SECONDS
    outbox.deliver_due()
    _run_due_rounds()


def _loop() -> None:
    # A failure here is the database or the broker away: said, and tried again on the next round.
    rounds.repeat_until_stopped(
        _stop, lambda: DISPATCH_SECONDS, _periodic_round, "Periodic work failed; retrying", logger
    )


def _run_due_rounds() -> None:
    for name, entry in list(_rounds.items()):
        seconds, function, due = entry
        if time.monotonic() < due:
            continue
        entry[2] = time.monotonic() + seconds
        try:
            function()
        except Exception:
            logger.exception("Periodic round %s failed; retrying next round", name)


def on_worker_init(**kwargs) -> None:
    start()


# A forked pool child's inherited connection pools, kept referenced and never closed: closing (or
# garbage-collecting) a connection sends the server its goodbye over a socket the parent still uses.
_inherited_pools: list = []


def on_worker_process_init(**kwargs) -> None:
    """A prefork child: leave the parent's database pools to the parent and open its own."""
    from django.db import connections

    for connection in connections.all(initialized_only=False):
        pools = getattr(type(connection), "_connection_pools", None)
        if pools:
            _inherited_pools.extend(pools.values())
            pools.clear()


def on_worker_shutdown(**kwargs) -> None:
    stop()
