"""A health error of level Warning noted on a server's ended job is a task in state Warning
(jobs.models.TaskState, one of the model's choices), shown so in the portal's job and in ASR's job."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from hub.models import ApiToken
from jobs import services as jobs
from jobs.models import JobTask, State, TaskState
from projects import services
from replication.fault_tasks import job_error
from replication.tests.conftest import admin, start_replication_job

pytestmark = pytest.mark.django_db


def test_a_warning_task_is_a_choice_shown_as_warning_in_the_portal_and_the_api(project, client):
    job = start_replication_job(project, State.SUCCEEDED, "item-1", "web01")
    for code, level in (("78012", "Warning"), ("78601", "Error")):
        error = job_error(code, f"problem {code}", causes="causes", action="action", level=level)
        assert jobs.job_task_note(job.pk, name=f"HealthError{code}", friendly_name=f"Health error {code}", error=error)
    warning, failed = JobTask.objects.filter(job=job, name__startswith="Health").order_by("position")
    assert (warning.state, failed.state) == (TaskState.WARNING, TaskState.FAILED)
    warning.full_clean()  # the state is one of the field's choices
    assert warning.get_state_display() == "Warning"
    assert "Warning" not in State.values, "a job itself never warns"

    client.force_login(admin())
    html = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert '<span class="state-badge state-warning">Warning</span>' in html

    _, secret = ApiToken.issue(admin(), "tests")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    vault = services.project_vault(project)
    answer = api.get(f"{vault.arm_id}/replicationJobs/{job.pk}?api-version=2018-07-10")
    assert answer.status_code == 200, answer.content
    tasks = {task["name"]: task for task in answer.json()["properties"]["tasks"]}
    assert (tasks["HealthError78012"]["state"], tasks["HealthError78012"]["stateDescription"]) == ("Warning", "Warning")
    assert tasks["HealthError78601"]["state"] == "Failed"
