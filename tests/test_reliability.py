"""The hub under faults, as `manage.py serve` runs it (daphne + a supervised worker child) against a
Redis server of the test's own: Redis stopped and restarted, the worker killed.

- A broker outage: job-starting calls still answer 202, /readyz says the broker is down, and every
  job runs once Redis is back (the outbox).
- Redis restarted under a busy worker, several times: the same worker process carries on.
- The worker SIGKILLed mid-batch: serve starts another, no probe job is lost, none's effects happen
  twice, and the dead worker's jobs are resumed within seconds (bench/worker_kill.py: 20 trials).

The order matters a little: the module shares one hub, and each test leaves it healthy.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests import hubs
from tests.hubs import CONTOSO
from tests.probes import TERMINAL, KillTrial, job_rows, kill_serve_worker, probe_report, start_probes
from tests.redis_server import RedisServer

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("reliability-redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def hub(tmp_path_factory, redis_server):
    import os

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        pytest.skip("needs DATABASE_URL (make test sets it)")
    hub = hubs.production_hub(
        tmp_path_factory.mktemp("reliability-hub"),
        database_url,
        redis_server.url(),
        name="reliability",
        # Messages a restarted (empty) Redis lost are queued again after 10 s rather than a minute.
        extra_env={"JOBS_REQUEUE_UNCLAIMED_SECONDS": "10"},
    )
    yield hub
    hub.stop()


def wait_ready(hub, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        response = requests.get(hub.url + "/readyz", timeout=10)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response.json()
        time.sleep(0.3)


def wait_terminal(hub, job_ids: list[str], seconds: float) -> dict[str, tuple[str, str]]:
    deadline = time.monotonic() + seconds
    while True:
        rows = job_rows(hub, job_ids)
        if all(state in TERMINAL for state, _ in rows.values()) or time.monotonic() > deadline:
            return rows
        time.sleep(0.3)


def test_healthz_and_readyz_answer_json_revealing_nothing(hub, redis_server):
    assert requests.get(hub.url + "/healthz", timeout=10).json() == {"status": "ok"}
    ready = wait_ready(hub)
    assert ready == {
        "status": "ok",
        "checks": {name: {"status": "ok"} for name in ("database", "broker", "channelLayer", "worker")},
    }


def test_a_broker_outage_still_answers_202_and_every_job_runs_once_redis_is_back(hub, redis_server):
    groups = [hub.new_resource_group("rg-outage") for _ in range(6)]
    redis_server.kill()
    try:
        readiness = requests.get(hub.url + "/readyz", timeout=20)
        assert readiness.status_code == 503
        assert readiness.json()["checks"]["broker"]["status"] == "fail"
        assert str(redis_server.port) not in readiness.text
        for group in groups:
            response = hub.api("DELETE", f"/subscriptions/{CONTOSO}/resourcegroups/{group}")
            assert response.status_code == 202, f"{response.status_code} {response.text[:300]}"
    finally:
        time.sleep(2)  # the worker's dispatcher meets the outage too
        redis_server.start()
    deadline = time.monotonic() + 60
    remaining = set(groups)
    while remaining and time.monotonic() < deadline:
        for group in list(remaining):
            status = hub.api("GET", f"/subscriptions/{CONTOSO}/resourcegroups/{group}")
            if status.status_code == 404:
                remaining.discard(group)
        time.sleep(0.5)
    assert not remaining, f"resource groups never deleted after the outage: {remaining}"
    import psycopg

    with psycopg.connect(hub.env["DATABASE_URL"], autocommit=True) as connection:
        orphans = connection.execute("SELECT count(*) FROM jobs_job WHERE state = 'NotStarted'").fetchone()[0]
        waiting = connection.execute("SELECT count(*) FROM jobs_outboxmessage").fetchone()[0]
    assert orphans == 0, f"{orphans} job(s) left NotStarted"
    assert waiting == 0, f"{waiting} message(s) still in the outbox"
    assert wait_ready(hub)["status"] == "ok"


def test_the_worker_survives_redis_restarts_under_load(hub, redis_server):
    [worker] = hub.worker_children()
    job_ids = []
    for _ in range(3):
        job_ids += start_probes(hub, 8, 0.3)
        time.sleep(0.5)
        redis_server.restart(down_seconds=1)
    assert hub.worker_children() == [worker], "the worker process died (serve started another)"
    # Probes whose message an empty Redis lost are queued again 10 s after (JOBS_REQUEUE_UNCLAIMED_SECONDS).
    rows = wait_terminal(hub, job_ids, 60)
    report = probe_report(hub, job_ids)
    assert report["states"] == {"Succeeded": len(job_ids)}, report
    assert report["effects_wrong"] == [], report
    assert hub.worker_children() == [worker]
    assert all(state == "Succeeded" for state, _ in rows.values())


def test_serve_restarts_a_killed_worker_and_no_job_is_lost_or_doubled(hub):
    wait_ready(hub)
    for number in range(3):
        [before] = hub.worker_children()
        trial = KillTrial(count=40, seconds=0.5, kill_after=1.0 + number * 0.7, deadline_seconds=60).run(
            hub, lambda: kill_serve_worker(hub)
        )
        print(trial.summary())
        after = hub.worker_children()
        assert after and after != [before], "serve did not start another worker"
        assert (trial.lost, trial.doubled, trial.failed) == (0, 0, 0), trial.report
        assert trial.held_at_kill, "the kill hit no running job: the trial proves nothing"
        assert trial.max_resume_seconds < 30, trial.summary()


def test_the_embedded_hub_runs_the_periodic_work_too(embedded_hub):
    """`make run`'s worker thread heartbeats (so /readyz is ready) and runs jobs started meanwhile."""
    ready = wait_ready(embedded_hub)
    assert ready["status"] == "ok", ready
    job_ids = start_probes(embedded_hub, 3, 0.1)  # from another process: the dispatcher hands them over
    import json

    deadline = time.monotonic() + 30
    while True:
        report = json.loads(embedded_hub.manage("probe_jobs", "--report", *job_ids).strip().splitlines()[-1])
        if report["states"] == {"Succeeded": 3} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert report["states"] == {"Succeeded": 3} and report["effects_wrong"] == [], report
