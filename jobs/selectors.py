from __future__ import annotations

import uuid

from hub.arm.errors import ArmError
from jobs.models import Job


def get_visible_job(user, job_id, *, subscription=None) -> Job:
    try:
        job_uuid = uuid.UUID(str(job_id))
    except ValueError:
        job_uuid = None
    jobs = Job.objects.visible_to(user)
    if subscription is not None:
        jobs = jobs.filter(subscription=subscription)
    job = jobs.filter(pk=job_uuid).first() if job_uuid else None
    if job is None:
        raise ArmError(404, "ResourceNotFound", f"The operation '{job_id}' was not found.")
    return job
