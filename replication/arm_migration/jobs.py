"""ARM: Site Recovery jobs of a vault (replicationJobs, with $filter and paging) and the operation
status every ASR job is polled at (replicationOperationStatus)."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub.arm.errors import found
from hub.arm.odata import filter_clauses, filter_time, narrowed, paged_list
from hub.arm.schema import members
from hub.arm.views import arm_time
from hub.ids import parse_uuid
from jobs.models import Job, State, TaskState
from replication.arm import VAULT_TYPE, Vault, VaultView
from replication.arm_migration import openapi
from replication.arm_migration.shapes import job_id

# How ASR writes "not ended yet" in a task.
NOT_ENDED = "0001-01-01T00:00:00"


def _state_label(state: str) -> str:
    return TaskState(state).label if state in TaskState.values else state


def _time_or_not_ended(moment) -> str:
    return arm_time(moment) if moment else NOT_ENDED


def _job_error(error: dict) -> dict:
    service = error.get("serviceErrorDetails") or {}
    return {
        "serviceErrorDetails": {
            "code": service.get("code"),
            "message": service.get("message"),
            "possibleCauses": service.get("possibleCauses") or "",
            "recommendedAction": service.get("recommendedAction") or "",
            "activityId": None,
        },
        # Errors raised by the hub itself: no provider (appliance) error to report.
        "providerErrorDetails": None,
        "errorLevel": error.get("errorLevel", "Error"),
        "creationTime": error.get("creationTime"),
        "taskId": error.get("taskId"),
    }


def job_body(vault: Vault, job: Job) -> dict:
    return {
        "id": job_id(vault, job.pk),
        "name": str(job.pk),
        "type": f"{VAULT_TYPE}/replicationJobs",
        "properties": {
            **openapi.JOB_FIXED,
            **members(openapi.JOB_PROPERTIES, job=job),
            "stateDescription": job.state_description or _state_label(job.state),
            "tasks": [
                {
                    **openapi.TASK_FIXED,
                    **members(openapi.JOB_TASK, task=task),
                    "startTime": _time_or_not_ended(task.started_at),
                    "endTime": _time_or_not_ended(task.ended_at),
                    "stateDescription": _state_label(task.state),
                    "errors": [_job_error(error) for error in task.errors],
                }
                for task in job.tasks.all()
            ],
            "errors": [_job_error(error) for error in job.errors],
            "startTime": arm_time(job.started_at or job.created_at),
        },
    }


OPERATION_STATUS = {
    State.NOT_STARTED: "InProgress",
    State.IN_PROGRESS: "InProgress",
    State.SUCCEEDED: "Succeeded",
    State.FAILED: "Failed",
    # azure-core only stops polling on "Canceled"; ASR spells the job state "Cancelled".
    State.CANCELLED: "Canceled",
}


def job_failure(job: Job, default_code: str = "OperationFailed", default_message: str = "The job failed.") -> dict:
    """What an ended job that did not succeed says in ARM's error: its first error's code and message."""
    error = (job.first_error or {}).get("serviceErrorDetails", {})
    return {"code": error.get("code") or default_code, "message": error.get("message") or default_message}


def operation_status_body(vault: Vault, job: Job) -> dict:
    tasks = list(job.tasks.all())
    done = sum(1 for task in tasks if task.state == State.SUCCEEDED)
    status = OPERATION_STATUS.get(job.state, "InProgress")
    body = {
        **members(openapi.OPERATION_STATUS, job=job),
        "id": f"{vault.id}/replicationOperationStatus/{job.pk}",
        "status": status,
        "startTime": arm_time(job.started_at or job.created_at),
        "percentComplete": 100 if job.is_terminal else int(100 * done / len(tasks)) if tasks else 0,
    }
    if status in ("Failed", "Canceled"):
        code = "OperationCanceled" if status == "Canceled" else "OperationFailed"
        body["error"] = job_failure(job, code, f"{job.friendly_name} {status.lower()}.")
    return body


def vault_jobs(request, vault: Vault):
    """The jobs of the vault's resource group, as far as the caller may see them."""
    return Job.objects.visible_to(request.user).in_group(vault.resource.resource_group)


JOB_STATES = {state.lower(): state for state in State.values} | {"canceled": State.CANCELLED}


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",")]


# $filter names a job list understands (ASR's JobQueryParameter), besides startTime and endTime.
JOB_FILTERS = {
    "affectedobjecttypes": lambda value: Q(target_instance_type__in=_names(value)),
    "jobstatus": lambda value: Q(state__in=[JOB_STATES[name] for name in _names(value.lower()) if name in JOB_STATES]),
    "jobname": lambda value: Q(scenario_name__iexact=value) | Q(friendly_name__iexact=value),
    "scenarioname": lambda value: Q(scenario_name__iexact=value) | Q(friendly_name__iexact=value),
    "targetobjectname": lambda value: Q(target_object_name__iexact=value),
}


def _filtered_jobs(jobs, text: str | None):
    for name, operator, value in filter_clauses(text):
        if name in ("starttime", "endtime"):
            # ASR's startTime means "from" and endTime "up to"; an explicit ge/le/gt/lt says it outright.
            default = "gte" if name == "starttime" else "lte"
            lookup = {"ge": "gte", "gt": "gt", "le": "lte", "lt": "lt"}.get(operator, default)
            jobs = jobs.filter(**{f"created_at__{lookup}": filter_time(value)})
    return narrowed(jobs, text, JOB_FILTERS)


class JobListView(VaultView):
    @extend_schema(operation_id="ReplicationJobs_List", responses={200: openapi.JOB_LIST})
    def get(self, request, **parents):
        jobs = _filtered_jobs(vault_jobs(request, self.vault), request.query_params.get("$filter"))
        jobs = jobs.prefetch_related("tasks").order_by("-created_at", "pk")
        return paged_list(request, jobs, lambda page: [job_body(self.vault, job) for job in page])


class JobChildView(VaultView):
    """At a job of the vault (the job itself, its operation status, an item's operation result): the job
    the URL names is a parent too, resolved after the vault into `self.job` (404 unless the caller sees it)."""

    def resolve_parents(self, request, job_name, **parents):
        super().resolve_parents(request, **parents)
        job = vault_jobs(request, self.vault).filter(pk=parse_uuid(job_name)).prefetch_related("tasks").first()
        self.job = found(job, "JobNotFound", f"Job '{job_name}' was not found in vault {self.vault.resource.name}.")


class JobView(JobChildView):
    @extend_schema(operation_id="ReplicationJobs_Get", responses={200: openapi.JOB})
    def get(self, request, **route):
        return Response(job_body(self.vault, self.job))


class OperationStatusView(JobChildView):
    """`Azure-AsyncOperation` of every ASR job: always 200, the job's state in ARM's words."""

    @extend_schema(operation_id="ReplicationOperationStatus_Get", responses={200: openapi.OPERATION_STATUS})
    def get(self, request, **route):
        return Response(operation_status_body(self.vault, self.job))
