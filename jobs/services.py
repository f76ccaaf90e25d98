"""Starting and running jobs.

job_start creates the job, its tasks and the starter's notification in one transaction and enqueues
the run only after commit. job_run claims the job with a conditional update, runs each task under a
row lock and skips tasks that already succeeded, so a redelivered job resumes where it stopped.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models.functions import Coalesce

from hub import clock
from hub.celery import app as celery_app
from jobs import push, scenarios
from jobs.models import TERMINAL_STATES, Job, JobTask, Notification, State

logger = logging.getLogger(__name__)


def job_start(
    *,
    scenario_name: str,
    subscription,
    created_by,
    resource_group_name: str = "",
    target_object_id: str = "",
    target_object_name: str = "",
    target_instance_type: str = "",
    job_input: dict | None = None,
    notify: bool = False,
    link: str = "",
) -> Job:
    scenario = scenarios.get(scenario_name)
    with transaction.atomic():
        job = Job.objects.create(
            subscription=subscription,
            resource_group_name=resource_group_name,
            scenario_name=scenario.name,
            friendly_name=scenario.friendly_name,
            target_object_id=target_object_id,
            target_object_name=target_object_name,
            target_instance_type=target_instance_type,
            input=job_input or {},
            created_by=created_by,
            created_at=clock.now(),
        )
        JobTask.objects.bulk_create(
            JobTask(job=job, position=index, name=step.name, friendly_name=step.friendly_name)
            for index, step in enumerate(scenario.steps)
        )
        notification = None
        if notify and created_by is not None:
            notification = Notification.objects.create(
                user=created_by,
                job=job,
                title=_title(scenario.running_title, job)[:120],
                message=f"{scenario.friendly_name}: {job.target_object_name}"[:400],
                level=Notification.Level.IN_PROGRESS,
                link=link,
            )
        transaction.on_commit(lambda: _enqueue(job.pk))
        transaction.on_commit(lambda: push.job_changed(job))
        if notification is not None:
            transaction.on_commit(lambda: push.notification_changed(notification))
    return job


# By name, so that this module does not import the task module that calls it (jobs.tasks registers
# the task under this name).
RUN_JOB_TASK = "jobs.tasks.run_job"


def _enqueue(job_id, countdown: float = 0) -> None:
    celery_app.send_task(RUN_JOB_TASK, args=[str(job_id)], countdown=countdown or None)


def job_run(job_id) -> None:
    now = clock.now()
    claimed = Job.objects.filter(pk=job_id, state__in=[State.NOT_STARTED, State.IN_PROGRESS]).update(
        state=State.IN_PROGRESS, started_at=Coalesce("started_at", now)
    )
    if not claimed:
        logger.info("Job %s is finished or gone; nothing to run", job_id)
        return
    job = Job.objects.select_related("subscription", "created_by").get(pk=job_id)
    push.job_changed(job)
    scenario = scenarios.get(job.scenario_name)
    for task in list(job.tasks.all()):
        if task.state == State.SUCCEEDED:
            continue
        # Visible progress; conditional, so it never overwrites another runner's Succeeded.
        JobTask.objects.filter(pk=task.pk, state=State.NOT_STARTED).update(
            state=State.IN_PROGRESS, started_at=clock.now()
        )
        step = scenario.step(task.name)
        try:
            if not step.atomic:
                step.run(job)
            with transaction.atomic():
                # A redelivered job can have two runners: the job lock serialises them, and the
                # second one finds the task succeeded (skip) or the job finished (stop).
                if Job.objects.select_for_update().get(pk=job.pk).state in TERMINAL_STATES:
                    return
                locked = JobTask.objects.select_for_update().get(pk=task.pk)
                if locked.state == State.SUCCEEDED:
                    continue
                if step.atomic:
                    step.run(job)
                JobTask.objects.filter(pk=task.pk).update(state=State.SUCCEEDED, ended_at=clock.now())
        except scenarios.JobStepWaiting as waiting:
            _enqueue(job.pk, countdown=waiting.retry_after)
            return
        except Exception as error:
            _finish(job, scenario, failed_task=task, error=error)
            return
    _finish(job, scenario)


def _finish(job: Job, scenario, *, failed_task: JobTask | None = None, error: Exception | None = None) -> None:
    ended = clock.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.state in TERMINAL_STATES:
            return
        if failed_task is None:
            job.state, job.state_description = State.SUCCEEDED, "Completed"
            title, level = _title(scenario.succeeded_title, job), Notification.Level.SUCCEEDED
            message = _title(scenario.succeeded_message, job) or job.friendly_name
        else:
            detail = _error_detail(error, failed_task)
            JobTask.objects.filter(pk=failed_task.pk).update(state=State.FAILED, ended_at=ended, errors=[detail])
            job.state, job.state_description, job.errors = State.FAILED, "Failed", [detail]
            if scenario.on_failure is not None:
                scenario.on_failure(job)
            title, level = _title(scenario.failed_title, job), Notification.Level.FAILED
            message = detail["serviceErrorDetails"]["message"]
            if not isinstance(error, scenarios.JobStepError):
                logger.exception("Job %s failed in task %s", job.pk, failed_task.name, exc_info=error)
        job.ended_at = ended
        job.save(update_fields=["state", "state_description", "errors", "ended_at"])
        notifications = list(job.notifications.all())
        for notification in notifications:
            notification.title, notification.message, notification.level = title[:120], message[:400], level
            notification.read, notification.updated_at = False, ended
            notification.save(update_fields=["title", "message", "level", "read", "updated_at"])
        transaction.on_commit(lambda: push.job_changed(job))
        for notification in notifications:
            transaction.on_commit(lambda n=notification: push.notification_changed(n))


def _error_detail(error: Exception, task: JobTask) -> dict:
    code = getattr(error, "code", "InternalError")
    message = getattr(error, "message", None) or str(error) or error.__class__.__name__
    return {
        "serviceErrorDetails": {
            "code": code,
            "message": message,
            "possibleCauses": getattr(error, "possible_causes", ""),
            "recommendedAction": getattr(error, "recommended_action", "")
            or "Retry the operation. If it fails again, check the hub's worker log.",
        },
        "errorLevel": "Error",
        "creationTime": clock.now().isoformat(),
        "taskId": task.name,
    }


def _title(template: str, job: Job) -> str:
    return template.replace("{target}", job.target_object_name)


def jobs_resume_unfinished(*, older_than: timedelta = timedelta(seconds=60), include_started: bool = False) -> int:
    """Enqueue again jobs whose run was lost: by default those no worker ever claimed (a crash between
    commit and enqueue); a started job is the broker's to redeliver (acks_late). With
    `include_started`, every unfinished job: for an in-memory broker that died with its process.
    Safe either way, because job_run is idempotent."""
    stale = Job.objects.unfinished().filter(created_at__lt=clock.now() - older_than)
    if not include_started:
        stale = stale.filter(state=State.NOT_STARTED)
    job_ids = list(stale.values_list("pk", flat=True))
    for job_id in job_ids:
        _enqueue(job_id)
    return len(job_ids)


def notifications_mark_read(user) -> None:
    Notification.objects.filter(user=user, read=False).update(read=True)
