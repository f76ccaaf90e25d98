"""The jobs app's Celery task: a thin shell over jobs.services (which enqueues run_job by name)."""

from celery import shared_task

from jobs.services import RUN_JOB_TASK, job_run


@shared_task(name=RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: str, ticket: str | None = None) -> None:
    job_run(job_id, ticket)
