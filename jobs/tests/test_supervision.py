"""Claims, heartbeats and the outbox: one runner at a time, and no run lost when a worker dies."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from jobs import outbox, scenarios, supervision, workers
from jobs.models import Job, OutboxMessage, State, WorkerHeartbeat
from jobs.services import RUN_JOB_TASK, job_run, job_start

pytestmark = pytest.mark.django_db
User = get_user_model()
Subscription = Job._meta.get_field("subscription").related_model
ran: list[str] = []


def _wait_once(job):
    if not ran.count("waited"):
        ran.append("waited")
        raise scenarios.JobStepWaiting("the agent's final sync", retry_after=30)
    ran.append("done")


scenarios.register(
    scenarios.Scenario(
        name="SupervisionScenario",
        friendly_name="Supervision scenario",
        steps=(
            scenarios.Step("Count", "Count", lambda job: ran.append("count")),
            scenarios.Step("Wait", "Wait for something", _wait_once),
        ),
        running_title="Running {target}...",
        succeeded_title="Ran {target}",
        failed_title="Running {target} failed",
    )
)


@pytest.fixture
def start():
    call_command("seed_demo", verbosity=0)
    ran.clear()

    def _start() -> Job:
        return job_start(
            scenario_name="SupervisionScenario",
            subscription=Subscription.objects.get(display_name="Contoso Production"),
            created_by=User.objects.get(email="admin@contoso.com"),
            target_object_name="thing",
        )

    return _start


def run_messages(job) -> list[list]:
    return [args for args in outbox.pending_args(RUN_JOB_TASK) if args[0] == str(job.pk)]


def live_worker(name: str) -> None:
    WorkerHeartbeat.objects.create(name=name, last_seen_at=timezone.now())


def test_the_job_and_its_run_message_are_written_together_or_not_at_all(start):
    with pytest.raises(RuntimeError), transaction.atomic():
        start()
        raise RuntimeError("the request failed after starting the job")
    assert not Job.objects.exists() and not OutboxMessage.objects.exists()
    job = start()
    assert run_messages(job) == [[str(job.pk), str(job.run_ticket)]]


def test_a_job_claimed_by_a_live_worker_is_left_alone(start):
    job = start()
    live_worker("alive")
    Job.objects.filter(pk=job.pk).update(state=State.IN_PROGRESS, claimed_by="alive")
    job_run(job.pk, str(job.run_ticket))  # a second copy of the message, redelivered by the broker
    assert ran == []
    OutboxMessage.objects.all().delete()
    assert supervision.jobs_resume_lost() == 0
    assert run_messages(job) == []


def test_a_job_claimed_by_a_dead_worker_is_resumed_after_its_succeeded_tasks(start):
    job = start()
    WorkerHeartbeat.objects.create(name="killed", last_seen_at=timezone.now() - workers.STALE_AFTER * 2)
    Job.objects.filter(pk=job.pk).update(state=State.IN_PROGRESS, claimed_by="killed")
    job.tasks.filter(name="Count").update(state=State.SUCCEEDED)
    OutboxMessage.objects.all().delete()
    assert supervision.jobs_resume_lost() == 1
    assert not WorkerHeartbeat.objects.filter(name="killed").exists()
    assert Job.objects.get(pk=job.pk).claimed_by == ""
    assert run_messages(job) == [[str(job.pk), str(job.run_ticket)]]
    job_run(job.pk, str(job.run_ticket))
    assert ran == ["waited"], "the succeeded task is not run again"


def test_a_dead_workers_prefetched_messages_are_queued_again(start):
    queued = start()
    OutboxMessage.objects.all().delete()  # delivered, then taken by the worker that died
    WorkerHeartbeat.objects.create(name="killed", last_seen_at=timezone.now() - workers.STALE_AFTER * 2)
    assert supervision.jobs_resume_lost() == 1
    assert run_messages(queued) == [[str(queued.pk), str(queued.run_ticket)]]


def test_an_unclaimed_job_whose_message_never_came_is_queued_again(start, settings):
    settings.JOBS_REQUEUE_UNCLAIMED_SECONDS = 60
    job = start()
    Job.objects.filter(pk=job.pk).update(queued_at=timezone.now() - timedelta(seconds=61))
    assert supervision.jobs_resume_lost() == 0, "its message is still in the outbox"
    OutboxMessage.objects.all().delete()  # delivered to a broker that then restarted empty
    assert supervision.jobs_resume_lost() == 1
    assert supervision.jobs_resume_lost() == 0, "queued just now"


def test_a_waiting_job_lets_go_and_older_copies_of_its_message_are_void(start):
    job = start()
    first_ticket = str(job.run_ticket)
    OutboxMessage.objects.all().delete()
    job_run(job.pk, first_ticket)
    waiting = Job.objects.get(pk=job.pk)
    assert (waiting.state, waiting.claimed_by, ran) == (State.IN_PROGRESS, "", ["count", "waited"])
    assert str(waiting.run_ticket) != first_ticket
    [message] = OutboxMessage.objects.all()
    assert message.args == [str(job.pk), str(waiting.run_ticket)]
    assert message.due_at > timezone.now() + timedelta(seconds=25), "due after the step's retry_after"
    job_run(job.pk, first_ticket)  # a stale copy: it must not start a second waiting loop
    assert ran == ["count", "waited"]
    job_run(job.pk, str(waiting.run_ticket))
    assert ran == ["count", "waited", "done"]
    assert Job.objects.get(pk=job.pk).state == State.SUCCEEDED


def test_a_worker_registers_before_it_claims_and_leaves_on_a_clean_stop():
    name = workers.register()
    try:
        assert workers.current_name() == name and workers.live().filter(name=name).exists()
        workers.beat()
    finally:
        workers.unregister()
    assert not WorkerHeartbeat.objects.filter(name=name).exists()
    assert workers.current_name().startswith("unsupervised:")
