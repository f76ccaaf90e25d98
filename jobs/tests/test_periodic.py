"""The worker's heartbeat goes on while a periodic round is slow: a round that took longer than
workers.STALE_AFTER (a large prune, a broker that does not answer) made the live worker look dead, and
its running jobs were handed to another worker while it still ran them."""

from __future__ import annotations

import threading
import time

import pytest

from jobs import periodic, workers
from jobs.models import WorkerHeartbeat


@pytest.mark.django_db(transaction=True)
def test_a_slow_round_does_not_stop_the_heartbeat(monkeypatch):
    monkeypatch.setattr(workers, "HEARTBEAT_SECONDS", 0.05)
    round_started, round_may_end = threading.Event(), threading.Event()

    def slow_round():
        round_started.set()
        round_may_end.wait(10)

    monkeypatch.setattr(periodic, "_rounds", {"slow": [60, slow_round, 0.0]})
    periodic.start()
    try:
        assert round_started.wait(10), "the round ran"
        name = workers.current_name()
        first = WorkerHeartbeat.objects.get(name=name).last_seen_at
        deadline = time.monotonic() + 5
        while WorkerHeartbeat.objects.get(name=name).last_seen_at == first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert WorkerHeartbeat.objects.get(name=name).last_seen_at > first, "the heartbeat went on meanwhile"
    finally:
        round_may_end.set()
        periodic.stop()
    assert not WorkerHeartbeat.objects.filter(name=name).exists(), "a clean stop removes the heartbeat"
