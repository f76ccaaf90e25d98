"""The job runner: ordered tasks, idempotent re-runs, failures that say what to do."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from jobs import scenarios
from jobs.models import Job, Notification, State
from jobs.services import job_run, job_start

pytestmark = pytest.mark.django_db
# The job engine sits below the apps that own users and subscriptions: it knows them only as its
# foreign keys' models (the demo seed provides the rows).
User = get_user_model()
Subscription = Job._meta.get_field("subscription").related_model
calls: list[str] = []


def _record(name):
    def step(job):
        calls.append(name)
        if job.input.get("fail_at") == name:
            raise scenarios.JobStepError(
                "TestFailure", f"{name} failed", possible_causes="a test said so", recommended_action="Retry."
            )

    return step


scenarios.register(
    scenarios.Scenario(
        name="TestScenario",
        friendly_name="Test scenario",
        steps=(
            scenarios.Step("First", "First step", _record("First")),
            scenarios.Step("Second", "Second step", _record("Second")),
        ),
        running_title="Testing {target}...",
        succeeded_title="Tested {target}",
        failed_title="Testing {target} failed",
    )
)


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    call_command("seed_demo", verbosity=0)
    calls.clear()
    user = User.objects.get(email="admin@contoso.com")

    def _start(**job_input):
        with django_capture_on_commit_callbacks() as callbacks:
            job = job_start(
                scenario_name="TestScenario",
                subscription=Subscription.objects.get(display_name="Contoso Production"),
                created_by=user,
                target_object_name="thing",
                job_input=job_input,
                notify=True,
            )
        assert len(callbacks) == 3, "enqueue and pushes wait for the commit"
        return job

    return _start


def test_it_runs_the_steps_in_order_and_updates_the_notification(start):
    job = start()
    assert job.state == State.NOT_STARTED
    assert Notification.objects.get(job=job).title == "Testing thing..."
    job_run(job.pk)
    job.refresh_from_db()
    assert calls == ["First", "Second"]
    assert (job.state, job.state_description) == (State.SUCCEEDED, "Completed")
    assert [t.state for t in job.tasks.all()] == [State.SUCCEEDED, State.SUCCEEDED]
    notification = Notification.objects.get(job=job)
    assert (notification.title, notification.level, notification.read) == ("Tested thing", "Succeeded", False)


def test_running_a_finished_job_again_does_nothing(start):
    job = start()
    job_run(job.pk)
    job_run(job.pk)
    assert calls == ["First", "Second"]


def test_a_redelivered_job_resumes_after_the_tasks_that_succeeded(start):
    job = start()
    Job.objects.filter(pk=job.pk).update(state=State.IN_PROGRESS)
    job.tasks.filter(name="First").update(state=State.SUCCEEDED)
    job_run(job.pk)
    assert calls == ["Second"]
    assert Job.objects.get(pk=job.pk).state == State.SUCCEEDED


def test_a_failure_is_recorded_with_causes_and_action(start):
    job = start(fail_at="First")
    job_run(job.pk)
    job.refresh_from_db()
    assert calls == ["First"], "no step runs after a failure"
    assert job.state == State.FAILED
    error = job.errors[0]["serviceErrorDetails"]
    assert error == {
        "code": "TestFailure",
        "message": "First failed",
        "possibleCauses": "a test said so",
        "recommendedAction": "Retry.",
    }
    assert [t.state for t in job.tasks.all()] == [State.FAILED, State.NOT_STARTED]
    notification = Notification.objects.get(job=job)
    assert (notification.title, notification.level) == ("Testing thing failed", "Failed")


def test_an_unexpected_error_fails_the_job_with_a_generic_action(start):
    job = start()
    Job.objects.filter(pk=job.pk).update(input={"fail_at": "none"})
    scenario = scenarios.get("TestScenario")
    original = scenario.steps[1].run
    object.__setattr__(scenario.steps[1], "run", lambda job: 1 / 0)
    try:
        job_run(job.pk)
    finally:
        object.__setattr__(scenario.steps[1], "run", original)
    job.refresh_from_db()
    assert job.state == State.FAILED
    assert job.errors[0]["serviceErrorDetails"]["code"] == "InternalError"
    assert job.errors[0]["taskId"] == "Second"


def test_the_bell_list_read_again_shows_only_the_users_own_notifications(start, client):
    """What the page asks for when its websocket (re)connects: a job that ended meanwhile shows."""
    job = start()
    job_run(job.pk)
    client.force_login(User.objects.get(email="admin@contoso.com"))
    html = client.get("/jobs/notifications/").content.decode()
    assert 'id="notification-list"' in html and "Tested thing" in html
    client.force_login(User.objects.get(email="admin@fabrikam.com"))
    assert "Tested thing" not in client.get("/jobs/notifications/").content.decode()
