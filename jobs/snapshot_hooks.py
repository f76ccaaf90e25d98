"""The jobs engine's part in hub snapshots (hub/snapshots.py).

While a snapshot is saved or restored the runner claims no job (jobs.services.job_run queues the run
again a little later); the snapshot waits for jobs a live worker already runs. After a restore, the
restored unfinished jobs have no run message any more (the broker's messages belong to the timeline
that was left): their claims are let go and each is queued again, resuming after its succeeded tasks.
"""

from __future__ import annotations

from jobs import workers
from jobs.models import Job, State
from jobs.supervision import UNFINISHED, jobs_requeue_unclaimed


def running_jobs() -> str:
    count = (
        Job.objects.filter(state=State.IN_PROGRESS)
        .exclude(claimed_by="")
        .filter(claimed_by__in=workers.live().values("name"))
        .count()
    )
    return f"{count} job(s) running" if count else ""


def resume_restored_jobs() -> None:
    Job.objects.filter(state__in=UNFINISHED).exclude(claimed_by="").update(claimed_by="")
    jobs_requeue_unclaimed()


def register() -> None:
    from hub import snapshots

    snapshots.register_participant("jobs", busy=running_jobs, after_restore=resume_restored_jobs)
