"""The apply holder's wait between batches (replication/apply_lease.py): with Redis it blocks on the
upload's wake-up and reads the item's row once per wake-up or timeout, instead of every 50 ms; the row
stays the truth, so a lost wake-up only delays the work; embedded, it reads the row as before."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from replication import apply_lease, uploads
from replication.tests.encoder import MIB, ProcessServer, image, records

pytestmark = pytest.mark.django_db

LONG_WAIT = 30.0  # never reached when the wake-up works: the wait returns at the first BLPOP


@pytest.fixture
def with_redis(settings):
    if not settings.REDIS_URL:
        pytest.skip("the wake-up needs Redis (REDIS_URL), as the production topology has")
    return settings


@pytest.fixture
def blpops(monkeypatch, with_redis):
    """What each BLPOP of the holder's wait returned (None: it timed out)."""
    client = apply_lease._redis(with_redis.REDIS_URL)
    seen = []
    real = client.blpop

    def recorded(keys, timeout=0):
        seen.append(real(keys, timeout=timeout))
        return seen[-1]

    monkeypatch.setattr(client, "blpop", recorded)
    return seen


def test_the_upload_that_flags_the_holder_wakes_it_and_one_read_of_the_row_follows(
    replicating, blpops, django_capture_on_commit_callbacks
):
    item = replicating
    ps = ProcessServer(item.project)
    assert apply_lease.lease_take(item.pk, "worker-a")
    with django_capture_on_commit_callbacks(execute=True):
        uploads.batch_store(item.appliance, ps.body(item, "disk0", 1, 1, records(bytes(image(1, MIB)), [1]), full=True))
    with CaptureQueriesContext(connection) as queries:
        assert apply_lease.lease_wait_for_work(item.pk, "worker-a", seconds=LONG_WAIT)
    assert len(blpops) == 1 and blpops[0] is not None, "woken by the upload, not by the timeout"
    # One to see that no other item's apply waits (else the holder lets go at once), one to read and
    # clear the flag.
    assert len(queries) == 2, "the flag is read and cleared in one statement"
    item.refresh_from_db()
    assert not item.apply_pending


def test_a_wait_with_nothing_arriving_reads_the_row_once_at_its_end(replicating, blpops):
    item = replicating
    assert apply_lease.lease_take(item.pk, "worker-a")
    with CaptureQueriesContext(connection) as queries:
        assert not apply_lease.lease_wait_for_work(item.pk, "worker-a", seconds=0.3)
    assert blpops == [None]
    assert len(queries) == 2, "not a read every 50 ms (one for other items' applies, one at the end)"


def test_a_lost_wake_up_costs_a_delay_not_the_work(replicating, blpops):
    """The upload committed its flag but its push never reached Redis (its process died in between): the
    timeout's read of the row finds the flag."""
    item = replicating
    assert apply_lease.lease_take(item.pk, "worker-a")
    assert apply_lease.lease_flag_pending(item.pk)  # flagged, not pushed
    assert apply_lease.lease_wait_for_work(item.pk, "worker-a", seconds=0.3)
    assert blpops == [None]


def test_a_stale_wake_up_does_not_end_the_wait_early(replicating, blpops):
    """A wake-up whose flag an earlier read took already: the holder reads the row, finds nothing, and
    waits on rather than letting go before its time."""
    item = replicating
    assert apply_lease.lease_take(item.pk, "worker-a")
    apply_lease.lease_wake(item.pk)
    assert not apply_lease.lease_wait_for_work(item.pk, "worker-a", seconds=0.3)
    assert blpops[0] is not None and blpops[-1] is None


def test_a_holder_that_lost_its_lease_stops_waiting_when_woken(replicating, blpops):
    item = replicating
    assert apply_lease.lease_take(item.pk, "worker-a")
    item.__class__.objects.filter(pk=item.pk).update(apply_lease_owner="worker-b")
    apply_lease.lease_wake(item.pk)
    assert not apply_lease.lease_wait_for_work(item.pk, "worker-a", seconds=LONG_WAIT)
    assert len(blpops) == 1


def test_embedded_the_holder_reads_the_row_as_before(replicating, settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.setattr(apply_lease, "_redis", lambda url: pytest.fail("no Redis embedded"))
    item = replicating
    assert apply_lease.lease_take(item.pk, "worker-a")
    assert apply_lease.lease_flag_pending(item.pk)
    apply_lease.lease_wake(item.pk)  # nothing to wake embedded
    assert apply_lease.lease_wait_for_work(item.pk, "worker-a", seconds=0.5)
    assert not apply_lease.lease_wait_for_work(item.pk, "worker-a", seconds=0.1)
