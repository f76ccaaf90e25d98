"""Worker SIGKILLs: are jobs lost, do their effects happen twice, how soon are they resumed?

Starts a hub (PostgreSQL + Redis, DEBUG=false) and runs TRIALS trials. In each, `manage.py probe_jobs`
starts JOBS worker probes (jobs/probe.py: an atomic effect, a non-atomic step holding the worker for
--seconds, a second atomic effect), and the worker is SIGKILLed a moment later (the moments spread
from 0.5 s to 3 s after the batch was started). Then, polling the hub's database every 0.2 s:

- resume latency: for each job the killed worker had claimed, the time from the kill until another
  worker claimed it (or it ended);
- lost: jobs not ended 90 s after the kill; doubled: ended jobs with an effect recorded twice;
  failed: jobs that ended otherwise than Succeeded.

Two topologies (--topology):
- serve (default): `manage.py serve` with its worker child, as `make run` with DATABASE_URL and
  REDIS_URL runs it. serve starts a new worker and marks the dead one's heartbeat stale at once. Each
  trial waits until the worker has run 11 s: serve takes a worker that dies sooner for a crash loop
  and doubles its restart delay (1 s, 2 s, 4 s... up to 30 s).
- compose: `serve --no-worker` and a separate `celery worker` the bench kills and starts again at
  once, as docker-compose's restart policy would; nobody tells the hub, so the dead worker's jobs wait
  for its heartbeat to go stale (15 s) and the next supervision round (every 5 s).

Target (from the issue): none lost, none doubled, every job resumed within 30 s. Measured, not asserted.

    .venv/bin/python bench/worker_kill.py [--trials 20] [--jobs 40] [--seconds 0.5] [--topology serve|compose]
"""

from __future__ import annotations

import argparse
import sys

from harness.hub import run_on_fresh_hub
from harness.machine import machine_facts
from harness.options import parse_with_json_option, within
from harness.report import summary, verdict

from jobs.worker_process import HEALTHY_AFTER_SECONDS
from tests.probes import KillTrial, kill_and_restart_separate_worker, kill_serve_worker, wait_until_serve_worker_settled

RESUME_TARGET_SECONDS = 30.0
EARLIEST_KILL_SECONDS = 0.5
LATEST_KILL_SECONDS = 3.0


def run(hub, *, trials: int, jobs: int, seconds: float, topology: str) -> dict:
    kill = (lambda: kill_serve_worker(hub)) if topology == "serve" else (lambda: kill_and_restart_separate_worker(hub))
    results = []
    for number in range(trials):
        if topology == "serve":
            # A worker killed within HEALTHY_AFTER_SECONDS of its start counts as a crash loop and
            # serve's backoff doubles: measured here is a crash, not a loop.
            wait_until_serve_worker_settled(hub, HEALTHY_AFTER_SECONDS + 1)
        kill_after = EARLIEST_KILL_SECONDS + (LATEST_KILL_SECONDS - EARLIEST_KILL_SECONDS) * number / max(1, trials - 1)
        trial = KillTrial(count=jobs, seconds=seconds, kill_after=kill_after).run(hub, kill)
        print(f"  trial {number + 1:>2}: {trial.summary()}", flush=True)
        results.append(
            {
                "kill_after_seconds": round(kill_after, 2),
                "held_at_kill": len(trial.held_at_kill),
                "resume_seconds": sorted(round(value, 2) for value in trial.resume_seconds.values()),
                "all_ended_after_seconds": round(trial.finished_seconds, 2),
                "lost": trial.lost,
                "doubled": trial.doubled,
                "failed": trial.failed,
                "report": trial.report,
            }
        )
    resumes = [value for result in results for value in result["resume_seconds"]]
    return {
        "machine": machine_facts(),
        "topology": topology,
        "trials": trials,
        "jobs_per_trial": jobs,
        "probe_seconds": seconds,
        "results": results,
        "jobs": trials * jobs,
        "held_at_kill": sum(result["held_at_kill"] for result in results),
        "lost": sum(result["lost"] for result in results),
        "doubled": sum(result["doubled"] for result in results),
        "failed": sum(result["failed"] for result in results),
        "resume_seconds": summary(resumes) if resumes else None,
        "max_all_ended_after_seconds": max(result["all_ended_after_seconds"] for result in results),
    }


def report(result: dict) -> str:
    machine = result["machine"]
    resume = result["resume_seconds"] or {"median": 0.0, "p95": 0.0, "max": 0.0, "n": 0}
    met = result["lost"] == 0 and result["doubled"] == 0 and resume["max"] < RESUME_TARGET_SECONDS
    return "\n".join(
        [
            "",
            f"Worker SIGKILL ({result['topology']}): {result['trials']} trials x {result['jobs_per_trial']} probes "
            f"({result['probe_seconds']} s each) on {machine['nproc']} cores, {machine['date']}, {machine['commit']}",
            f"  jobs {result['jobs']}: lost {result['lost']}, doubled {result['doubled']}, failed {result['failed']}",
            f"  held by the killed worker: {result['held_at_kill']}; resumed after the kill: median "
            f"{resume['median']:.1f} s, p95 {resume['p95']:.1f} s, max {resume['max']:.1f} s",
            f"  every batch ended within {result['max_all_ended_after_seconds']:.1f} s of its kill",
            f"  target (none lost, none doubled, resumed within {RESUME_TARGET_SECONDS:.0f} s): {verdict(met)}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=40, help="probes per trial")
    parser.add_argument("--seconds", type=float, default=0.5, help="how long each probe holds a worker")
    parser.add_argument("--topology", choices=("serve", "compose"), default="serve")
    options = parse_with_json_option(parser, argv)
    return run_on_fresh_hub(
        run,
        report,
        options.json,
        announcement=f"Starting a hub ({options.topology} topology) for {options.trials} worker kills...",
        separate_worker=options.topology == "compose",
        trials=within(options.trials, 1, 100),
        jobs=within(options.jobs, 1, 500),
        seconds=within(options.seconds, 0.0, 10.0),
        topology=options.topology,
    )


if __name__ == "__main__":
    sys.exit(main())
