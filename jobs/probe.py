"""The worker probe: a job whose every effect can be counted, for the worker-kill test and bench.

Two atomic steps each leave one notification for the starter ("Probe effect 1", "Probe effect 2",
linked to the probe by `link`, not by `job`: a job's own notifications are rewritten as it ends);
between them a non-atomic step holds the worker for a while, so a worker killed mid-job is killed
inside it. A finished probe with anything but one of each effect ran a step twice or lost one.
Started only by `manage.py probe_jobs`; nothing in the portal or the API starts it.
"""

from __future__ import annotations

import time

from jobs.models import Job, Notification
from jobs.scenarios import Scenario, Step, register

PROBE_SCENARIO = "WorkerProbe"
EFFECT_TITLES = ("Probe effect 1", "Probe effect 2")


def _effect(title: str):
    def step(job: Job) -> None:
        Notification.objects.create(user=job.created_by, title=title, link=_link(job.pk), level=Notification.Level.INFO)

    return step


def _link(job_id) -> str:
    return f"probe:{job_id}"


def _hold_the_worker(job: Job) -> None:
    time.sleep(float(job.input.get("seconds", 0)))


register(
    Scenario(
        name=PROBE_SCENARIO,
        friendly_name="Worker probe",
        steps=(
            Step("FirstEffect", "Leave the first effect", _effect(EFFECT_TITLES[0])),
            Step("Work", "Hold the worker", _hold_the_worker, atomic=False),
            Step("SecondEffect", "Leave the second effect", _effect(EFFECT_TITLES[1])),
        ),
        running_title="Probing {target}...",
        succeeded_title="Probed {target}",
        failed_title="Probing {target} failed",
    )
)


def probe_report(job_ids) -> dict:
    """Each job's state and how many times each effect happened."""
    jobs = Job.objects.filter(pk__in=job_ids)
    report = {"jobs": 0, "states": {}, "effects_wrong": [], "unfinished": []}
    for job in jobs:
        report["jobs"] += 1
        report["states"][job.state] = report["states"].get(job.state, 0) + 1
        effects = Notification.objects.filter(link=_link(job.pk))
        counts = [effects.filter(title=title).count() for title in EFFECT_TITLES]
        if not job.is_terminal:
            report["unfinished"].append(str(job.pk))
        elif counts != [1, 1]:
            report["effects_wrong"].append({"job": str(job.pk), "effects": counts})
    return report
