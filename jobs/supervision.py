"""Jobs whose run was lost are queued again, within seconds of the loss.

A run can be lost three ways, each noticed here (jobs.periodic calls `jobs_resume_lost` every few
seconds in every worker process):

1. Its worker died while running it: the job is claimed by a worker whose heartbeat went stale. The
   claim is taken back and the job queued again; it resumes after its succeeded tasks.
2. Its worker died holding the run message before claiming it (a prefetched message): when a
   worker's heartbeat goes stale, every unclaimed job already due is queued again. The broker would
   hand the message out again too, but only after its visibility timeout.
3. The broker lost the message (restarted without persistence): an unclaimed job queued more than
   REQUEUE_UNCLAIMED_AFTER ago, with nothing left in the outbox, is queued again.

Extra copies are harmless: a run claims the job only if no live worker holds it and the message's
ticket is the job's (jobs.services.job_run), so a copy finds it claimed or finished and stops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs import outbox, workers
from jobs.models import Job, State
from jobs.services import RUN_JOB_TASK, job_queue_run

logger = logging.getLogger(__name__)

UNFINISHED = (State.NOT_STARTED, State.IN_PROGRESS)


def jobs_resume_lost() -> int:
    """All three checks; returns how many jobs were queued again."""
    return _forget_dead_workers() + _resume_abandoned_claims() + _requeue_unclaimed_waiting_too_long()


def jobs_requeue_unclaimed(*, queued_before=None) -> int:
    """Queue again every unfinished job nobody claims (queued before `queued_before`, if given): their
    messages may have been lost. Used at the embedded worker's start, whose in-memory broker died with
    the last process."""
    jobs = Job.objects.filter(state__in=UNFINISHED, claimed_by="")
    if queued_before is not None:
        jobs = jobs.filter(Q(queued_at__lte=queued_before) | Q(queued_at__isnull=True))
    return _requeue(jobs.values_list("pk", "run_ticket"))


# What domain apps do when a worker is found dead, beside queueing the unclaimed jobs again: a task of
# theirs it had fetched died with it too (registered from AppConfig.ready: this layer names no app).
_death_hooks: dict[str, Callable[[], object]] = {}


def on_worker_death(name: str, function: Callable[[], object]) -> None:
    """Call `function()` each time a worker is found dead (once per death, by one supervisor)."""
    _death_hooks[name] = function


def _forget_dead_workers() -> int:
    requeued = 0
    for name, last_seen in list(workers.stale().values_list("name", "last_seen_at")):
        # Conditional: of two supervisors noticing the same death, one acts on it.
        if workers.stale().filter(name=name, last_seen_at=last_seen).delete()[0]:
            logger.warning("Worker %s stopped heartbeating; resuming its jobs", name)
            requeued += jobs_requeue_unclaimed(queued_before=timezone.now())
            for hook_name, hook in list(_death_hooks.items()):
                try:
                    hook()
                except Exception:
                    logger.exception("After worker %s died: %s failed", name, hook_name)
    return requeued


def _resume_abandoned_claims() -> int:
    abandoned = (
        Job.objects.filter(state__in=UNFINISHED)
        .exclude(claimed_by="")
        .exclude(claimed_by__in=workers.live().values("name"))
        .values_list("pk", "claimed_by", "run_ticket")
    )
    resumed = 0
    for job_id, claimer, ticket in list(abandoned):
        with transaction.atomic():
            if Job.objects.filter(pk=job_id, claimed_by=claimer).update(claimed_by=""):
                job_queue_run(job_id, ticket)
                resumed += 1
    if resumed:
        logger.warning("Resumed %d job(s) claimed by workers that stopped heartbeating", resumed)
    return resumed


def _requeue_unclaimed_waiting_too_long() -> int:
    after = timedelta(seconds=settings.JOBS_REQUEUE_UNCLAIMED_SECONDS)
    queued_long_ago = Q(queued_at__lt=timezone.now() - after) | Q(queued_at__isnull=True)
    waiting = Job.objects.filter(queued_long_ago, state__in=UNFINISHED, claimed_by="")
    candidates = list(waiting.values_list("pk", "run_ticket")[:500])
    if not candidates:
        return 0
    in_outbox = {args[0] for args in outbox.pending_args(RUN_JOB_TASK) if args}
    requeued = _requeue((job_id, ticket) for job_id, ticket in candidates if str(job_id) not in in_outbox)
    if requeued:
        logger.warning("Queued again %d job(s) whose run message never arrived", requeued)
    return requeued


def _requeue(jobs) -> int:
    count = 0
    for job_id, ticket in list(jobs):
        with transaction.atomic():
            job_queue_run(job_id, ticket)
        count += 1
    return count
