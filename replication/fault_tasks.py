"""Health errors as tasks in a server's job (Azure lists a failed or warning task in a job's Tasks): a
fault the appliance or an agent reports (replication/fault_wire.py) opens one on each affected server's
latest ended job until the error goes away; a refusal the hub itself makes (replication/fault_effects.py)
notes one that has already ended, once per fault and server."""

from __future__ import annotations

from hub import clock
from jobs import services as jobs
from jobs.models import TERMINAL_STATES, Job

MAX_JOBS_NOTED = 50  # an appliance's problem adds a task to the jobs of at most this many of its servers


def latest_jobs(items) -> dict:
    """{item id: its latest ended job's id} of the first MAX_JOBS_NOTED items, in one query."""
    ids = [str(item.pk) for item in items[:MAX_JOBS_NOTED]]
    if not ids:
        return {}
    return dict(
        Job.objects.filter(target_object_id__in=ids, state__in=TERMINAL_STATES)
        .order_by("target_object_id", "-created_at")
        .distinct("target_object_id")
        .values_list("target_object_id", "pk")
    )


def task_name(code: str) -> str:
    return f"HealthError{code}"[:60]


def job_error(code: str, message: str, *, causes: str, action: str, level: str) -> dict:
    """A health error as a job task's error (jobs.services' shape), with its causes and action."""
    return {
        "serviceErrorDetails": {
            "code": code,
            "message": message,
            "possibleCauses": causes,
            "recommendedAction": action,
        },
        "errorLevel": level,
        "creationTime": clock.now().isoformat(),
    }


def note(job_ids, code: str, server_name: str, error: dict, *, ended: bool = False) -> None:
    friendly_name = f"Health error {code} on {server_name}"
    for job_id in job_ids:
        jobs.job_task_note(job_id, name=task_name(code), friendly_name=friendly_name, error=error, ended=ended)


def resolve(job_ids, code: str) -> None:
    jobs.job_task_resolve(job_ids, task_name(code))
