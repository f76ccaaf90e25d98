"""For scripts that set a live hub up in its own `manage.py shell`: run a job there and return once it
has ended, whoever ran it. A worker that claimed the job first keeps it (jobs.services.job_run stops
at once in the script then), so the script waits for the worker's run instead of going on early."""

from __future__ import annotations

import time

from jobs.models import TERMINAL_STATES, Job
from jobs.services import job_run


def job_run_to_end(job_id, timeout: float = 30) -> Job:
    job_run(job_id)
    deadline = time.monotonic() + timeout
    job = Job.objects.get(pk=job_id)
    while job.state not in TERMINAL_STATES:
        if time.monotonic() > deadline:
            raise AssertionError(f"Job {job.friendly_name} is still {job.state} after {timeout} s")
        time.sleep(0.1)
        job.refresh_from_db()
    return job
