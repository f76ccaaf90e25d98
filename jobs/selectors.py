from __future__ import annotations

from hub.arm.errors import ArmError
from hub.ids import parse_uuid
from jobs.models import Job


def get_visible_job(user, job_id, *, subscription=None) -> Job:
    job_uuid = parse_uuid(job_id)
    # Its starter always sees a job: a resource-group Owner who deleted the group lost the role with it.
    jobs = Job.objects.filter(pk__in=Job.objects.visible_to(user).values("pk")) | Job.objects.filter(created_by=user)
    if subscription is not None:
        jobs = jobs.filter(subscription=subscription)
    job = jobs.filter(pk=job_uuid).first() if job_uuid else None
    if job is None:
        raise ArmError(404, "ResourceNotFound", f"The operation '{job_id}' was not found.")
    return job
