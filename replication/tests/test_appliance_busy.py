"""The process server's answer when its uploads to the hub are all in flight (issue 14 item 5): a batch
waits a little for a slot, then is answered 503 ProcessServerBusy with Retry-After, instead of holding
the agent's connection until its 120 s timeout; the agent keeps the batch, waits as long as it is told
(not its failure back-off) and sends it again. The hub's retryable refusal reaches the agent the same way."""

from __future__ import annotations

import http.client

import pytest
from agent import client, uploader
from appliance import process_server
from appliance.hub_client import HubError

from replication.tests.test_process_server import RunningAppliance, batch, disk_replicator, entry


@pytest.fixture
def appliance(tmp_path, hub):
    running = RunningAppliance(tmp_path / "home", hub)
    yield running
    running.close()


@pytest.fixture
def no_slot_wait(monkeypatch):
    # A batch with no free slot is answered at once: the test waits for nothing.
    monkeypatch.setattr(process_server, "UPLOAD_SLOT_WAIT_SECONDS", 0)


def take_every_slot(ps) -> int:
    taken = 0
    while ps.uploads.acquire(blocking=False):
        taken += 1
    return taken


def post_raw(appliance, body: bytes) -> http.client.HTTPResponse:
    host, port = appliance.http.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request("POST", process_server.BATCHES_PATH, body=body)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


def test_a_batch_with_every_upload_slot_taken_is_answered_busy_with_retry_after(hub, appliance, no_slot_wait):
    agent = appliance.register("machine-1")
    hub.replication = [entry()]
    appliance.appliance.heartbeat_once()
    ps = appliance.appliance.process_server
    assert take_every_slot(ps) == ps.uploads_in_flight == process_server.DEFAULT_HUB_UPLOADS_IN_FLIGHT

    response = post_raw(appliance, batch(agent))
    assert response.status == 503
    assert response.getheader("Retry-After") == str(process_server.BUSY_RETRY_AFTER_SECONDS)
    assert b"ProcessServerBusy" in response.body
    assert hub.uploads == [] and ps.busy_answers == 1, "nothing compressed, keyed or sent for it"

    for _ in range(ps.uploads_in_flight):
        ps.uploads.release()
    assert post_raw(appliance, batch(agent)).status == 200
    assert [upload["sequence"] for upload in hub.uploads] == [1]


def test_the_agent_waits_as_told_and_sends_the_batch_again(tmp_path, hub, appliance, no_slot_wait, monkeypatch):
    agent = appliance.register("machine-1")
    hub.replication = [entry()]
    appliance.appliance.heartbeat_once()
    ps = appliance.appliance.process_server
    taken = take_every_slot(ps)
    image = bytes(range(256)) * 64 * 10  # 160 KiB: one batch and its marker
    (tmp_path / "disk.img").write_bytes(image)
    pauses, log = [], []

    def paused(self, seconds):
        pauses.append(seconds)
        for _ in range(taken if len(pauses) == 1 else 0):
            ps.uploads.release()  # the uploads in flight finish while the agent waits

    monkeypatch.setattr(uploader.Uploader, "_pause", paused)
    replicator = disk_replicator(tmp_path, appliance, agent, log=log.append)
    replicator.update(entry())
    replicator.run_cycle()

    assert hub.replica("item-1", "disk0", len(image)) == image
    wait = process_server.BUSY_RETRY_AFTER_SECONDS
    assert pauses and all(wait <= seconds <= wait * 1.5 for seconds in pauses), "the appliance's wait, not 0.5 s"
    assert ps.busy_answers == len(pauses)
    assert not [line for line in log if "not acknowledged" in line], "busy is not a failure"


def test_a_retry_after_is_read_bounded_and_only_from_busy_answers():
    assert client.retry_after("3") == 3 and client.retry_after(" 1.5 ") == 1.5
    assert client.retry_after("86400") == client.MAX_RETRY_AFTER_SECONDS
    assert client.retry_after("soon") is None and client.retry_after("0") is None and client.retry_after(None) is None


def test_the_hubs_retryable_refusal_reaches_the_agent_as_busy():
    error = process_server._agent_error(HubError(503, "RetryableError", "deadlock, rolled back"))
    assert (error.status, error.code, error.retry_after) == (503, "RetryableError", 1)
    other = process_server._agent_error(HubError(500, "InternalError", "boom"))
    assert other.status == 502 and other.retry_after is None
