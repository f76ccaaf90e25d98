from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: str) -> None:
    from jobs.services import job_run

    job_run(job_id)


@shared_task
def resume_unfinished_jobs() -> int:
    from jobs.services import jobs_resume_unfinished

    return jobs_resume_unfinished()
