"""The registry of job scenarios: each names its ordered steps and what the bell says.

Apps register their scenarios at start-up (in AppConfig.ready); the jobs app runs them without
knowing the domain. A step must be idempotent: after a worker dies it may run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    name: str
    friendly_name: str
    run: Callable  # run(job) -> None
    # A step that coordinates with other workers through committed rows (a lease, say) runs outside
    # the job's transaction; it must be idempotent on its own.
    atomic: bool = True


@dataclass(frozen=True)
class Scenario:
    name: str
    friendly_name: str
    steps: tuple[Step, ...]
    # What the notification says while running, after success and after failure; "{target}" is
    # replaced by the job's target object name.
    running_title: str
    succeeded_title: str
    failed_title: str
    succeeded_message: str = ""
    # Runs in the transaction that records a failure: undo what starting the job claimed (e.g. a
    # state set by the request), so the user can retry.
    on_failure: Callable | None = None  # on_failure(job) -> None

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)


_SCENARIOS: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    _SCENARIOS[scenario.name] = scenario
    return scenario


def get(name: str) -> Scenario:
    return _SCENARIOS[name]


class JobStepError(Exception):
    """An expected failure of a step, shown to the user with what to do about it."""

    def __init__(self, code: str, message: str, *, possible_causes: str = "", recommended_action: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.possible_causes = possible_causes
        self.recommended_action = recommended_action


class JobStepWaiting(Exception):
    """The step waits for something outside the hub (an agent's final sync, say): the job stays in
    progress and runs the step again after `retry_after` seconds, without holding a worker."""

    def __init__(self, reason: str, retry_after: float = 1.0):
        super().__init__(reason)
        self.retry_after = retry_after
