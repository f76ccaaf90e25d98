"""One Job model for every long action, shaped like an Azure Site Recovery job.

A job is created NotStarted with all its ordered tasks, moves to InProgress when a worker claims it,
and ends Succeeded or Failed. Only jobs.services and jobs.supervision write these rows. Beside them:
the outbox of Celery tasks not yet handed to the broker, and the workers' heartbeats.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from hub.scopes import visibility_q


class State(models.TextChoices):
    NOT_STARTED = "NotStarted", "Not started"
    IN_PROGRESS = "InProgress", "In progress"
    SUCCEEDED = "Succeeded", "Succeeded"
    FAILED = "Failed", "Failed"
    CANCELLED = "Cancelled", "Cancelled"


TERMINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)

# A task's states: a job's, and Warning, which only a task takes: a health error of level Warning noted
# on an ended job (jobs.services.job_task_note), open while the error lasts. Azure's job state
# CompletedWithWarnings would say the task had ended; Warning is the level its error carries.
TaskState = models.TextChoices(
    "TaskState", [(state.name, (state.value, state.label)) for state in State] + [("WARNING", ("Warning", "Warning"))]
)


class JobQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(visibility_q(user, subscription_field="subscription", rg_field="resource_group_name"))

    def unfinished(self):
        return self.exclude(state__in=TERMINAL_STATES)

    def in_group(self, group):
        """The jobs of a resource group (by its name, which a job keeps after the group is gone)."""
        return self.filter(subscription_id=group.subscription_id, resource_group_name__iexact=group.name)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    subscription = models.ForeignKey("projects.Subscription", on_delete=models.CASCADE, related_name="jobs")
    # Kept as a name, not a key: a job outlives the resource group it deleted.
    resource_group_name = models.CharField(max_length=90, blank=True)
    scenario_name = models.CharField(max_length=60)
    friendly_name = models.CharField(max_length=120)
    state = models.CharField(max_length=20, choices=State.choices, default=State.NOT_STARTED)
    state_description = models.CharField(max_length=60, blank=True)
    target_object_id = models.CharField(max_length=400, blank=True)
    target_object_name = models.CharField(max_length=120, blank=True)
    target_instance_type = models.CharField(max_length=60, blank=True)
    input = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Who runs it (jobs/supervision.py): the name of the worker that claimed it, "" while nobody does.
    # A claim held by a worker that stopped heartbeating is taken back and the job queued again.
    claimed_by = models.CharField(max_length=200, blank=True)
    # The run messages that may claim the job carry this ticket. It changes only when the job waits
    # (JobStepWaiting), so that a stale copy of an earlier message cannot start a second waiting loop.
    run_ticket = models.UUIDField(default=uuid.uuid4)
    # Real time (not hub.clock) when a run message was last queued: an unclaimed job queued long ago
    # lost its message (a broker restarted empty), so it is queued again.
    queued_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        # target_object_id: a replicating server's jobs, read by its blade and by every push of it.
        indexes = [
            models.Index(fields=["subscription", "-created_at"]),
            models.Index(fields=["target_object_id"]),
            # The supervisor's scans: unfinished jobs by claimer.
            models.Index(fields=["state", "claimed_by"]),
        ]

    def __str__(self) -> str:
        return f"{self.friendly_name} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def duration(self):
        if self.started_at and self.ended_at:
            return self.ended_at - self.started_at
        return None

    @property
    def first_error(self) -> dict | None:
        return self.errors[0] if self.errors else None


class JobTask(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tasks")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=60)
    friendly_name = models.CharField(max_length=120)
    state = models.CharField(max_length=20, choices=TaskState.choices, default=TaskState.NOT_STARTED)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="unique_task_position")]

    def __str__(self) -> str:
        return self.friendly_name


class Notification(models.Model):
    """What the portal's bell shows one user; a job's notification changes as the job ends."""

    class Level(models.TextChoices):
        IN_PROGRESS = "InProgress"
        SUCCEEDED = "Succeeded"
        FAILED = "Failed"
        INFO = "Info"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(max_length=120)
    message = models.CharField(max_length=400, blank=True)
    level = models.CharField(max_length=20, choices=Level.choices, default=Level.INFO)
    link = models.CharField(max_length=400, blank=True)
    read = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["user", "-updated_at"]), models.Index(fields=["user", "read"])]

    def __str__(self) -> str:
        return self.title


class OutboxMessage(models.Model):
    """A Celery task to hand to the broker, written in the transaction of the change it belongs to.

    jobs.outbox delivers it right after the commit and deletes it; if the broker is down the row stays
    and the dispatcher (jobs.periodic) delivers it later. A row due later (a countdown) waits here,
    not in the broker.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    # Real time, not hub.clock: delivery is about the machine, not the emulated days.
    due_at = models.DateTimeField(default=timezone.now)
    # A dispatcher holds a row while it hands it over, so a second dispatcher leaves it alone.
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["due_at"])]

    def __str__(self) -> str:
        return f"{self.task_name}{self.args}"


class WorkerHeartbeat(models.Model):
    """A running worker process (Celery, or the embedded thread), refreshed every few seconds.

    Jobs claimed by a worker whose heartbeat went stale are resumed elsewhere; /readyz wants a fresh one.
    """

    name = models.CharField(max_length=200, primary_key=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.name
