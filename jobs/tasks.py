"""The jobs app's Celery tasks: thin shells over jobs.services (which enqueues run_job by name)."""

from celery import shared_task

from jobs.services import RUN_JOB_TASK, job_run, jobs_resume_unfinished


@shared_task(name=RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: str) -> None:
    job_run(job_id)


@shared_task
def resume_unfinished_jobs() -> int:
    return jobs_resume_unfinished()
