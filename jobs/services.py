"""Starting and running jobs.

job_start creates the job, its tasks, the starter's notification and the run message (jobs.outbox)
in one transaction: once it commits, the job will run, even if the broker is down at that moment.
job_run claims the job for this worker with a conditional update (one runner at a time: a second
copy of the message finds it claimed by a live worker and stops), runs each task under a row lock
and skips tasks that already succeeded, so a resumed job carries on where it stopped.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from hub import clock, snapshots
from jobs import event_sources, outbox, push, scenarios, workers
from jobs.models import TERMINAL_STATES, Job, JobTask, Notification, State, TaskState

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
            queued_at=timezone.now(),
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
                message=_about(job)[:400],
                level=Notification.Level.IN_PROGRESS,
                # A notification always leads somewhere: where it was started from, else the job.
                link=link or reverse("jobs:detail", args=[job.pk]),
            )
        outbox.send(RUN_JOB_TASK, [job.pk, job.run_ticket])
        _announce(job)
        transaction.on_commit(lambda: push.job_changed(job))
        if notification is not None:
            transaction.on_commit(lambda: push.notification_changed(notification))
    return job


# By name, so that this module does not import the task module that calls it (jobs.tasks registers
# the task under this name).
RUN_JOB_TASK = "jobs.tasks.run_job"


# A run that finds a snapshot being saved or restored is queued again this much later.
SNAPSHOT_RETRY_SECONDS = 2.0


def job_queue_run(job_id, ticket, *, countdown: float = 0) -> None:
    """Queue a run message carrying the job's current ticket (in the caller's transaction)."""
    outbox.send(RUN_JOB_TASK, [job_id, ticket], countdown=countdown)
    Job.objects.filter(pk=job_id).update(queued_at=timezone.now() + timedelta(seconds=countdown))


def _claim(job_id, ticket, claimer: str) -> bool:
    """Take the job for `claimer` if nobody live holds it (and, with a ticket, if it is the job's)."""
    unfinished = Job.objects.filter(pk=job_id, state__in=[State.NOT_STARTED, State.IN_PROGRESS])
    if ticket:
        unfinished = unfinished.filter(run_ticket=ticket)
    free = Q(claimed_by="") | ~Q(claimed_by__in=workers.live().values("name"))
    return bool(
        unfinished.filter(free).update(
            state=State.IN_PROGRESS, claimed_by=claimer, started_at=Coalesce("started_at", clock.now())
        )
    )


def job_run(job_id, ticket=None) -> None:
    """Run the job's remaining tasks. `ticket` (from the run message) must be the job's current one;
    None (a direct call) runs it whatever its ticket."""
    claimer = workers.current_name()
    if snapshots.writes_paused():
        # A snapshot is being saved or restored (hub/snapshots.py): run once it is done.
        with transaction.atomic():
            current = Job.objects.filter(pk=job_id).values_list("run_ticket", flat=True).first()
            if current is not None and (ticket is None or str(ticket) == str(current)):
                job_queue_run(job_id, current, countdown=SNAPSHOT_RETRY_SECONDS)
        return
    if not _claim(job_id, ticket, claimer):
        logger.info("Job %s is finished, gone, waiting or run by a live worker; nothing to do", job_id)
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
                # The claim is re-checked under the job's lock: a supervisor that judged this worker
                # dead (it could not heartbeat) has given the job to another, which now runs it.
                locked_job = Job.objects.select_for_update().only("state", "claimed_by").get(pk=job.pk)
                if locked_job.state in TERMINAL_STATES or locked_job.claimed_by != claimer:
                    return
                locked = JobTask.objects.select_for_update().get(pk=task.pk)
                if locked.state == State.SUCCEEDED:
                    continue
                if step.atomic:
                    step.run(job)
                JobTask.objects.filter(pk=task.pk).update(state=State.SUCCEEDED, ended_at=clock.now())
        except scenarios.JobStepWaiting as waiting:
            _wait(job, claimer, waiting.retry_after)
            return
        except Exception as error:
            _finish(job, scenario, failed_task=task, error=error)
            return
    _finish(job, scenario)


def _wait(job: Job, claimer: str, retry_after: float) -> None:
    """Let go of the job and queue its next run; a new ticket makes older copies of its messages void."""
    with transaction.atomic():
        ticket = uuid.uuid4()
        if Job.objects.filter(pk=job.pk, claimed_by=claimer).update(claimed_by="", run_ticket=ticket):
            job_queue_run(job.pk, ticket, countdown=retry_after)


def _finish(job: Job, scenario, *, failed_task: JobTask | None = None, error: Exception | None = None) -> None:
    ended = clock.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.state in TERMINAL_STATES:
            return
        if failed_task is None:
            job.state, job.state_description = State.SUCCEEDED, "Completed"
            title, level = _title(scenario.succeeded_title, job), Notification.Level.SUCCEEDED
            message = _title(scenario.succeeded_message, job) or _about(job)
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
        job.ended_at, job.claimed_by = ended, ""
        job.save(update_fields=["state", "state_description", "errors", "ended_at", "claimed_by"])
        _announce(job)
        notifications = list(job.notifications.all())
        for notification in notifications:
            notification.title, notification.message, notification.level = title[:120], message[:400], level
            notification.read, notification.updated_at = False, ended
            notification.save(update_fields=["title", "message", "level", "read", "updated_at"])
        transaction.on_commit(lambda: push.job_changed(job))
        for notification in notifications:
            transaction.on_commit(lambda n=notification: push.notification_changed(n))


# The event each state of a job announces (jobs.event_sources; the events app lists them for subscribers).
JOB_EVENT_TYPES = {
    State.NOT_STARTED: "Microsoft.Migrate.JobStarted",
    State.SUCCEEDED: "Microsoft.Migrate.JobSucceeded",
    State.FAILED: "Microsoft.Migrate.JobFailed",
    State.CANCELLED: "Microsoft.Migrate.JobCancelled",
}


def _announce(job: Job) -> None:
    """Publish the job's new state in the caller's transaction: a subscriber's rows commit with it."""
    event_sources.publish(
        event_type=JOB_EVENT_TYPES[job.state],
        subscription_id=job.subscription_id,
        resource_group_name=job.resource_group_name,
        subject=f"replicationJobs/{job.pk}",
        data={
            "jobName": str(job.pk),
            "scenarioName": job.scenario_name,
            "friendlyName": job.friendly_name,
            "state": job.state,
            "stateDescription": job.state_description,
            "targetObjectId": job.target_object_id,
            "targetObjectName": job.target_object_name,
            "targetInstanceType": job.target_instance_type,
            "startTime": job.started_at.isoformat() if job.started_at else None,
            "endTime": job.ended_at.isoformat() if job.ended_at else None,
            "errors": job.errors,
        },
    )


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


# Tasks added after a job ended: a health error that struck what the job acts on (an injected fault in the
# appliance or the agent, replication.fault_wire), as Azure lists a failed or warning task in the job's
# Tasks. Only ended jobs get them, so a running job's steps stay the scenario's; an error that recurs
# while its task is open adds nothing, and a job takes at most MAX_NOTED_TASKS of them.
MAX_NOTED_TASKS = 40


def job_task_note(job_id, *, name: str, friendly_name: str, error: dict, ended: bool = False) -> bool:
    """Append a task for `error` (a job error detail: errorLevel "Error" makes the task Failed, else it is
    a Warning), open until job_task_resolve, or `ended` as it starts (an event, not a state). False when
    nothing was added."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id, state__in=TERMINAL_STATES).first()
        if job is None or job.tasks.filter(name=name, ended_at__isnull=True).exists():
            return False
        counts = job.tasks.aggregate(last=Max("position"), noted=Count("pk", filter=Q(name__startswith="Health")))
        if counts["noted"] >= MAX_NOTED_TASKS:
            return False
        state = TaskState.FAILED if error.get("errorLevel") == "Error" else TaskState.WARNING
        now = clock.now()
        JobTask.objects.create(
            job=job,
            position=(counts["last"] or 0) + 1,
            name=name[:60],
            friendly_name=friendly_name[:120],
            state=state,
            started_at=now,
            ended_at=now if ended else None,
            errors=[{**error, "taskId": name[:60]}],
        )
        transaction.on_commit(lambda: push.job_changed(job))
    return True


def job_task_resolve(job_ids, name: str) -> None:
    """The noted tasks `name` of these jobs end now: their error went away."""
    ended = JobTask.objects.filter(job_id__in=list(job_ids), name=name, ended_at__isnull=True).update(
        ended_at=clock.now()
    )
    if ended:
        for job in Job.objects.filter(pk__in=list(job_ids)):
            transaction.on_commit(lambda job=job: push.job_changed(job))


def _about(job: Job) -> str:
    """The job and its target: "Test migration cleanup: web01"."""
    return ": ".join(part for part in (job.friendly_name, job.target_object_name) if part)


def _title(template: str, job: Job) -> str:
    """A notification's words about the job's target. Every notification names what it is about: a
    scenario whose words leave the target out gets it appended."""
    target = job.target_object_name
    if "{target}" in template or not target or not template:
        return template.replace("{target}", target)
    if template.endswith("..."):
        return f"{template[:-3]} for {target}..."
    return f"{template} for {target}"


def notifications_mark_read(user) -> None:
    Notification.objects.filter(user=user, read=False).update(read=True)
