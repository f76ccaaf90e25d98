"""The hub's Celery worker killed (SIGKILL) while it runs Migrate, ten times, at moments from the
request to about 1.5 s after it (before the job is picked up, during its steps, after it ended). No
job is lost (each ends Succeeded or Failed), no VM is built twice (at most one VM of the name, exactly
one after a success), and a Failed job leaves nothing behind and can be retried.

One real server replicates (a real appliance and agent, a disk image). Migrate runs without shutdown,
so each trial is quick: the point is the worker dying mid-job, not the final sync. The hub is one of
its own, with a worker the test controls and a short visibility timeout, so a task whose worker died
is handed out again within seconds."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pytest

from tests import hubs
from tests.azure_clients import compute_client
from tests.hubs import CONTOSO
from tests.replication_rig import CONTAINER, FABRIC, RG, enable_replication, one_disk_rig, wait_for, wait_for_state

pytestmark = pytest.mark.live

MIB = 1024 * 1024
TRIALS = 10
KILL_LATEST_SECONDS = 1.5
# A Migrate job runs for about half a second once a worker takes it, so the kill moments crowd the
# start: 0, 0.02, 0.07, 0.17, 0.30, 0.46, 0.67, 0.91, 1.19, 1.5 s after the request.
KILL_MOMENTS = [KILL_LATEST_SECONDS * (number / (TRIALS - 1)) ** 2 for number in range(TRIALS)]
VISIBILITY_TIMEOUT_SECONDS = 8
# A redelivered job: the visibility timeout, the worker's start, the job's own steps; with room to spare.
JOB_END_SECONDS = 45
APPLYING_AGAIN_SECONDS = 90
TERMINAL = ("Succeeded", "Failed", "Cancelled")
API_VERSION = "2025-08-01"

# Resets the fixture between trials, inside the hub (`manage.py shell`): a successful trial leaves the
# server migrated, and the next trial needs it replicating again. Rather than Stop replication and
# Replicate again (a new initial replication each time), the migrated VM is deleted (with its disk
# files) and the item put back to Replicating, with its replica and recovery points as they were.
RESET_TO_REPLICATING = """
import json
from replication.vm_build import delete_vm
from replication.models import MigrationItem, MigrationState, VirtualMachine

params = json.loads(PARAMS)
item = MigrationItem.objects.get(pk=params["item"])
for vm in VirtualMachine.objects.filter(migration_item=item, is_test=False):
    delete_vm(vm)
MigrationItem.objects.filter(pk=item.pk, migration_state=MigrationState.MIGRATION_SUCCEEDED).update(
    migration_state=MigrationState.REPLICATING, current_job=None
)
"""


# A Redis DB apart from the session hub's (n) and the faults hub's (n + 6), so flushing it disturbs
# nobody: with the suite's 9 that is 5, with 5 it is 1.
worker_kill_hub = hubs.module_hub_fixture(
    "workerkill", redis_db_offset=12, extra_env={"CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_SECONDS)}
)


@dataclass
class Trial:
    number: int
    kill_after: float
    started: float = field(default_factory=time.monotonic)
    events: list[str] = field(default_factory=list)
    outcome: str = ""

    def note(self, text: str) -> None:
        self.events.append(f"{time.monotonic() - self.started:7.2f}s {text}")

    def __str__(self) -> str:
        head = f"trial {self.number} (kill {self.kill_after:.2f} s after the request): {self.outcome or 'unfinished'}"
        return "\n".join([head, *(f"    {event}" for event in self.events)])


def item_path(rig) -> str:
    return (
        f"/subscriptions/{CONTOSO}/resourceGroups/{RG}/providers/Microsoft.RecoveryServices/vaults/{rig.vault}"
        f"/replicationFabrics/{FABRIC}/replicationProtectionContainers/{CONTAINER}"
        f"/replicationMigrationItems/{rig.item_name}"
    )


def start_migrate(rig, trial: Trial) -> str:
    """POST migrate (no shutdown); the job's name from the 202 (ASR's x-ms-request-id)."""
    response = rig.hub.api(
        "POST",
        item_path(rig) + "/migrate",
        params={"api-version": API_VERSION},
        json={"properties": {"providerSpecificDetails": {"instanceType": "InMageRcm", "performShutdown": "false"}}},
    )
    assert response.status_code == 202, f"{response.status_code} {response.text}\n{trial}"
    job_name = response.headers["x-ms-request-id"].rsplit("/", 1)[1]
    trial.note(f"Migrate accepted: job {job_name}")
    return job_name


def job_state(rig, job_name: str) -> tuple[str, str]:
    """The job's state, and its tasks' states in order (S, I, N, F: succeeded, in progress...)."""
    job = rig.sdk().replication_jobs.get(RG, rig.vault, job_name)
    tasks = "".join((task.state or "?")[0] for task in job.properties.tasks)
    return job.properties.state, tasks


def wait_until_ended(rig, job_name: str, trial: Trial) -> str:
    deadline = time.monotonic() + JOB_END_SECONDS
    seen = None
    while True:
        state = job_state(rig, job_name)
        if state != seen:
            trial.note(f"job {job_name[:8]} {state[0]}, tasks {state[1]}")
            seen = state
        if state[0] in TERMINAL:
            return state[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_name} lost: still {state} after {JOB_END_SECONDS} s\n{trial}")
        time.sleep(0.2)


def wait_until_applying(rig, after_point: str | None, trial: Trial) -> str:
    """Until the item has a recovery point newer than `after_point`: the worker (just started, perhaps)
    is consuming tasks, so the kill that follows hits a working worker, not one still booting."""
    point = wait_for(
        lambda: rig.item().properties.provider_specific_details["lastRecoveryPointId"],
        lambda point: point is not None and point != after_point,
        # An apply task the last kill took with it is queued again once the worker is found dead (its
        # heartbeat 15 s stale; apply_lease.unreceived_marks_lapse): before that fix a loaded CI run saw
        # no apply for 57 s. A minute and a half leaves room for a slow machine.
        APPLYING_AGAIN_SECONDS,
    )
    trial.note("the worker applies replication (a new recovery point)")
    return point


def vms_named(compute, name: str) -> int:
    return sum(1 for vm in compute.virtual_machines.list(RG) if vm.name.lower() == name.lower())


def test_migrate_survives_its_worker_killed_at_any_moment(worker_kill_hub, tmp_path):
    hub = worker_kill_hub
    rig, image = one_disk_rig(hub, tmp_path, 4, seed=31)
    trials: list[Trial] = []
    try:
        enable_replication(rig)
        wait_for_state(rig, "Replicating")
        compute = compute_client(hub, "admin@contoso.com", CONTOSO)
        name = rig.host_name
        point = None
        for number, kill_after in enumerate(KILL_MOMENTS, start=1):
            trial = Trial(number, kill_after)
            trials.append(trial)
            point = wait_until_applying(rig, point, trial)
            item = rig.item()
            assert "Migrate" in item.properties.allowed_operations, f"Migrate not allowed before the trial\n{trial}"

            requested = time.monotonic()
            job_name = start_migrate(rig, trial)
            time.sleep(max(0.0, requested + trial.kill_after - time.monotonic()))
            hub.kill_worker()
            trial.note("worker killed (SIGKILL)")
            trial.note("job {} tasks {} when the worker died".format(*job_state(rig, job_name)))
            # Any recovery point after this one is the new worker's doing (see wait_until_applying).
            point = rig.item().properties.provider_specific_details["lastRecoveryPointId"]
            hub.start_worker()
            trial.note("worker started again")

            outcome = wait_until_ended(rig, job_name, trial)
            count = vms_named(compute, name)
            trial.note(f"{count} VM(s) named {name}")
            if outcome == "Failed":
                assert count == 0, f"a failed Migrate left a VM behind\n{trial}"
                item = rig.item()
                assert "Migrate" in item.properties.allowed_operations, f"a failed Migrate can't be retried\n{trial}"
                retry = start_migrate(rig, trial)
                outcome = "Failed, retried: " + wait_until_ended(rig, retry, trial)
                assert outcome.endswith("Succeeded"), f"the retry did not succeed\n{trial}"
                count = vms_named(compute, name)
            trial.outcome = outcome
            assert outcome.endswith("Succeeded"), f"job {job_name} ended {outcome}\n{trial}"
            assert count == 1, f"{count} VMs named {name} after a successful Migrate\n{trial}"
            assert rig.item().properties.migration_state == "MigrationSucceeded", str(trial)

            hub.manage("shell", "-c", f"PARAMS = {json.dumps({'item': rig.item_id})!r}\n{RESET_TO_REPLICATING}")
            trial.note("fixture reset: VM deleted, item Replicating again")
    except BaseException:
        print("\n".join(str(trial) for trial in trials))
        raise
    finally:
        rig.stop()
    print("\n".join(str(trial) for trial in trials))
