"""The jobs engine's part in hub snapshots (jobs/snapshot_hooks.py): no claim while a snapshot holds
the hub (the run is queued again for later), running jobs are named, and restored unfinished jobs are
let go and queued again."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from hub import snapshots
from jobs import outbox, scenarios, snapshot_hooks
from jobs.models import Job, State, WorkerHeartbeat
from jobs.services import RUN_JOB_TASK, job_run, job_start

pytestmark = pytest.mark.django_db
User = get_user_model()
Subscription = Job._meta.get_field("subscription").related_model

scenarios.register(
    scenarios.Scenario(
        name="SnapshotHookScenario",
        friendly_name="Snapshot hook scenario",
        steps=(scenarios.Step("Step", "Step", lambda job: None),),
        running_title="Running {target}...",
        succeeded_title="Ran {target}",
        failed_title="Running {target} failed",
    )
)


@pytest.fixture
def job(settings, tmp_path):
    settings.SNAPSHOT_DIR = tmp_path / "snapshots"
    call_command("seed_demo", verbosity=0)
    return job_start(
        scenario_name="SnapshotHookScenario",
        subscription=Subscription.objects.get(display_name="Contoso Production"),
        created_by=User.objects.get(email="admin@contoso.com"),
        target_object_name="thing",
    )


def run_messages(job) -> list[list]:
    return [args for args in outbox.pending_args(RUN_JOB_TASK) if args[0] == str(job.pk)]


def test_no_job_is_claimed_while_a_snapshot_holds_the_hub(job, settings):
    settings.SNAPSHOT_DIR.mkdir(parents=True)
    (settings.SNAPSHOT_DIR / ".hold").write_text(json.dumps({"operation": "save", "name": "x"}))
    before = len(run_messages(job))
    job_run(job.pk, job.run_ticket)
    job.refresh_from_db()
    assert job.state == State.NOT_STARTED and job.claimed_by == ""
    assert len(run_messages(job)) == before + 1, "queued again for after the snapshot"
    (settings.SNAPSHOT_DIR / ".hold").unlink()
    assert not snapshots.writes_paused()
    job_run(job.pk, job.run_ticket)
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED


def test_running_jobs_are_named_and_restored_ones_queued_again(job):
    WorkerHeartbeat.objects.create(name="worker-live", last_seen_at=timezone.now())
    Job.objects.filter(pk=job.pk).update(state=State.IN_PROGRESS, claimed_by="worker-live")
    assert snapshot_hooks.running_jobs() == "1 job(s) running"
    before = len(run_messages(job))
    snapshot_hooks.resume_restored_jobs()
    job.refresh_from_db()
    assert job.claimed_by == "" and len(run_messages(job)) == before + 1
    assert snapshot_hooks.running_jobs() == ""
