"""Migrate with "Shut down virtual machines", the agent's side: the hub's entry says "shutdown", the
agent stops the source (a shutdown command, or a simulated machine's disks stop changing), sends a
final cycle whose markers carry "final" and the disk's SHA-256, then no more cycles until the entry
says shutdown false again. Against the stub appliance of replication/tests/stubs.py."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

# The agent is on sys.path from replication/tests/stubs.py, which conftest.py imports first.
from agent import blocks, disks
from agent.fleet import Fleet
from agent.replicator import run_shutdown_command

from replication.tests.stubs import MiB, StubProcessServer, entry_for, make_replicator, write_image

GiB = 1024**3


def shutdown_entry(specs, shutdown=True, **options) -> dict:
    return {**entry_for(specs, **options), "shutdown": shutdown}


def markers(server: StubProcessServer, cycle=None) -> list[dict]:
    return [
        header["marker"]
        for header in list(server.received)
        if header["marker"] and (cycle is None or header["cycle"] == cycle)
    ]


def wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def disk_sha256(source, at: float) -> str:
    """The whole disk read at a moment, hashed the plain way."""
    return hashlib.sha256(source.snapshot(at).read(0, source.size_bytes)).hexdigest()


def synthetic_spec(size=64 * MiB, write_rate=8 * MiB) -> dict:
    # 4 MiB used, its hot fifth rewritten every ~0.1 s: a running machine changes between any two reads.
    synthetic = {"seed": "vm/disk0", "usedBytes": 4 * MiB, "writeBytesPerSecond": write_rate}
    return {"diskId": "disk0", "sizeBytes": size, "synthetic": synthetic}


def test_the_whole_disk_sha256_hashes_the_gaps_as_zeros():
    data = os.urandom(3 * MiB)
    whole = blocks.DiskSha256()
    whole.add(MiB, data[MiB : 2 * MiB])
    whole.add(2 * MiB + 100, data[2 * MiB + 100 : 2 * MiB + 200])
    expected = bytes(MiB) + data[MiB : 2 * MiB] + bytes(100) + data[2 * MiB + 100 : 2 * MiB + 200]
    expected += bytes(3 * MiB + 5 - len(expected))
    assert whole.hexdigest(3 * MiB + 5) == hashlib.sha256(expected).hexdigest()
    with pytest.raises(ValueError):
        whole.add(0, b"x")


def test_the_final_cycle_runs_at_once_with_the_images_sha256_and_then_no_more(stub, tmp_path):
    path = tmp_path / "disk.img"
    write_image(path, 5 * MiB)
    with open(path, "r+b") as handle:  # a hole, then data, then a partial last block
        handle.truncate(12 * MiB + 1000)
        handle.seek(9 * MiB)
        handle.write(os.urandom(MiB))
    specs = [{"diskId": "disk0", "path": str(path)}]
    lines: list[str] = []
    replicator = make_replicator(stub, tmp_path / "state", specs, cycle_seconds=3600)
    replicator.log = lines.append
    replicator.update(shutdown_entry(specs, shutdown=False))
    replicator.start()
    try:
        wait_for(lambda: markers(stub, 1))
        assert "final" not in markers(stub, 1)[0] and "sha256" not in markers(stub, 1)[0]
        with open(path, "r+b") as handle:  # the source writes until it is shut down
            handle.seek(2 * MiB)
            handle.write(os.urandom(64 * 1024))

        asked = time.monotonic()
        replicator.update(shutdown_entry(specs))
        final = wait_for(lambda: markers(stub, 2))[0]
        assert time.monotonic() - asked < 5, "the final cycle does not wait for the cycle interval"
        image = path.read_bytes()
        assert final["final"] is True and final["sha256"] == hashlib.sha256(image).hexdigest()
        assert not any(header["full"] for header in stub.received if header["cycle"] == 2), "a delta cycle"
        replica, _ = stub.replica("disk0")
        assert replica == image and final["digest"] == blocks.content_digest_of(image)
        wait_for(lambda: any(line.startswith("Source shut down") for line in lines))
        assert f"Source shut down; final sync of cycle 2 sent (disk disk0 sha256 {final['sha256']})" in lines

        received = len(stub.received)
        for _ in range(5):  # heartbeats keep bringing the same entry
            replicator.update(shutdown_entry(specs))
            time.sleep(0.1)
        replicator.run_cycle()
        assert len(stub.received) == received, "no cycle after the final one"
    finally:
        replicator.stop()
    state = json.loads((tmp_path / "state" / "item.json").read_text())
    assert state["shutdown"]["finalCycle"] == 2 and state["completedCycle"] == 2


def test_a_cycle_running_when_shutdown_comes_finishes_first(stub, tmp_path):
    path = tmp_path / "disk.img"
    image = write_image(path, 20 * MiB)
    specs = [{"diskId": "disk0", "path": str(path)}]
    replicator = make_replicator(stub, tmp_path / "state", specs, cycle_seconds=3600)

    def shutdown_mid_cycle(header):
        if header["sequence"] == 2:
            replicator.update(shutdown_entry(specs))
        time.sleep(0.02)

    stub.after_store = shutdown_mid_cycle
    replicator.update(shutdown_entry(specs, shutdown=False))
    replicator.start()
    try:
        final = wait_for(lambda: markers(stub, 2))[0]
    finally:
        replicator.stop()
    first = markers(stub, 1)
    assert len(first) == 1 and "final" not in first[0], "the running cycle finished as it started"
    assert final["final"] and final["sha256"] == hashlib.sha256(image).hexdigest()
    assert stub.replica("disk0")[0] == image


def test_a_simulated_machine_stops_writing_stays_off_after_a_restart_and_resumes(stub, tmp_path):
    spec = synthetic_spec()
    specs = [spec]
    source = disks.open_source(spec, "machine-1")
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.update(shutdown_entry(specs, shutdown=False))
    replicator.run_cycle()
    replicator.update(shutdown_entry(specs))
    replicator.run_cycle()
    final = markers(stub, 2)[0]
    stopped_at = replicator.state.values["shutdown"]["at"]
    assert final["final"] and final["sha256"] == disk_sha256(source, stopped_at)

    # Two reads after the shutdown, some time apart, read the same; the running disk would not have.
    first_read = replicator.source_moment(time.time())
    time.sleep(0.3)
    second_read = replicator.source_moment(time.time())
    assert disk_sha256(source, first_read) == disk_sha256(source, second_read) == final["sha256"]
    assert disk_sha256(source, time.time()) != final["sha256"], "a running machine's disk changes meanwhile"
    # The same through the engine: a resync asked for while off sends the disk as it was at the shutdown.
    replicator.update(shutdown_entry(specs, generations={"disk0": 1}))
    replicator.run_cycle()
    again = markers(stub, 3)[0]
    assert again["final"] and again["sha256"] == final["sha256"] and again["digest"] == final["digest"]
    assert all(header["full"] for header in stub.received if header["cycle"] == 3)

    # A restarted agent keeps the machine off: no cycle, the same moment.
    received = len(stub.received)
    restarted = make_replicator(stub, tmp_path / "state", specs, cycle_seconds=0.1)
    restarted.update(shutdown_entry(specs, generations={"disk0": 1}))
    restarted.run_cycle()
    assert len(stub.received) == received
    assert restarted.source_moment(time.time() + 600) == stopped_at

    # The hub gives the server back (the migration failed): the disk writes again, cycles resume.
    restarted.update(shutdown_entry(specs, shutdown=False, generations={"disk0": 1}))
    time.sleep(0.2)
    restarted.step()  # not forced: due after the cycle interval
    resumed = markers(stub, 4)[0]
    assert "final" not in resumed and resumed["digest"] != final["digest"]
    assert restarted.state.values["shutdown"] is None
    assert restarted.source_moment(time.time() + 600) > stopped_at


def test_a_final_cycle_resumed_after_a_crash_still_hashes_the_whole_disk(stub, tmp_path):
    path = tmp_path / "disk.img"
    image = write_image(path, 40 * MiB, seed=3)
    specs = [{"diskId": "disk0", "path": str(path)}]
    first = make_replicator(stub, tmp_path / "state", specs, checkpoint_bytes=8 * MiB, checkpoint_seconds=3600)
    first.update(shutdown_entry(specs, shutdown=False))
    first.run_cycle()
    initial = len(stub.sequences("disk0"))

    crash_at = initial + 5
    stub.after_store = lambda header: header["sequence"] == crash_at and first.cancelled.set()
    stub.down_after_sequence = crash_at
    first.update(shutdown_entry(specs, generations={"disk0": 1}))  # the final cycle is a full one
    with pytest.raises(Exception):  # noqa: B017 (Cancelled, whichever thread notices first)
        first.step()
    checkpoint = json.loads((tmp_path / "state" / "item.json").read_text())["disks"]["disk0"]["progress"]
    assert checkpoint["offset"] > 0

    stub.after_store = stub.down_after_sequence = stub.refuse_with = None
    resumed_from = len(stub.received)
    second = make_replicator(stub, tmp_path / "state", specs)
    second.update(shutdown_entry(specs, generations={"disk0": 1}))
    second.run_cycle()
    assert min(header["sequence"] for header in stub.received[resumed_from:]) > initial + 1, "resumed"
    final = markers(stub, 2)[0]
    assert final["final"] and final["sha256"] == hashlib.sha256(image).hexdigest()
    assert stub.replica("disk0")[0] == image


def test_the_shutdown_command_runs_once_and_a_failure_is_reported_not_fatal(stub, tmp_path):
    write_image(tmp_path / "disk.img", MiB)
    specs = [{"diskId": "disk0", "path": str(tmp_path / "disk.img")}]
    ran = tmp_path / "ran.txt"
    command = f"echo stopped >> {ran}"
    replicator = make_replicator(stub, tmp_path / "state", specs, shutdown_command=command)
    replicator.update(shutdown_entry(specs))
    replicator.run_cycle()
    replicator.run_cycle()
    restarted = make_replicator(stub, tmp_path / "state", specs, shutdown_command=command)
    restarted.update(shutdown_entry(specs))
    restarted.run_cycle()
    assert ran.read_text() == "stopped\n", "run once, even across a restart"
    assert markers(stub)[-1]["final"]

    lines: list[str] = []
    failing = make_replicator(stub, tmp_path / "state-2", specs, shutdown_command="echo no such service >&2; exit 3")
    failing.log = lines.append
    failing.update(shutdown_entry(specs, item="item-2"))
    failing.run_cycle()
    assert markers(stub)[-1]["final"], "the final sync went on"
    assert failing.state.values["shutdown"]["command"]["exitCode"] == 3
    assert any("failed (exit code 3: no such service)" in line for line in lines)
    assert lines[-1].startswith("Source shut down; final sync of cycle 1 sent")
    assert lines[-1].endswith("; the shutdown command failed (exit code 3: no such service)")

    lines.clear()
    unconfigured = make_replicator(stub, tmp_path / "state-3", specs)
    unconfigured.log = lines.append
    unconfigured.update(shutdown_entry(specs, item="item-3"))
    unconfigured.run_cycle()
    assert any("must be stopped by its owner" in line for line in lines)
    assert markers(stub)[-1]["final"]


def test_a_synthetic_disk_over_16_gib_sends_final_without_sha256(stub, tmp_path):
    specs = [{"diskId": "disk0", "sizeBytes": 2 * 1024 * GiB, "synthetic": {"seed": "big", "usedBytes": 4 * MiB}}]
    lines: list[str] = []
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.log = lines.append
    replicator.update(shutdown_entry(specs))
    replicator.run_cycle()
    final = markers(stub)[-1]
    assert final["final"] and "sha256" not in final
    assert lines[-1] == "Source shut down; final sync of cycle 1 sent (disk disk0 larger than 16 GiB, no sha256)"


def test_the_fleet_simulators_agents_honour_shutdown(stub, tmp_path):
    fleet = Fleet(stub.url, "pass", 1, [], "", 1, replicate_used_bytes=2 * MiB, state_dir=str(tmp_path / "fleet"))
    registered = {"agentId": "agent-1", "secret": "s3cret", "serverId": "server-1"}
    disk = {"diskId": "disk0", "sizeBytes": 256 * MiB}
    fleet.machines["agent-1"] = {"disks": [disk]}
    # The hub's entry, as the appliance hands it to the agent's heartbeat.
    fleet.replicate(registered, shutdown_entry([disk], shutdown=False))
    replicator = fleet.replicators["agent-1"]
    try:
        wait_for(lambda: markers(stub, 1))
        fleet.replicate(registered, shutdown_entry([disk]))
        final = wait_for(lambda: markers(stub, 2))[0]
        stopped_at = replicator.state.values["shutdown"]["at"]
        source = disks.open_source(replicator.disk_specs["disk0"], "agent-1")
        assert final["final"] and final["sha256"] == disk_sha256(source, stopped_at)
        fleet.replicate(registered, shutdown_entry([disk], shutdown=False))
        wait_for(lambda: replicator.state.values.get("shutdown") is None)
    finally:
        replicator.stop()


def test_a_shutdown_command_that_hangs_is_stopped_and_one_that_leaves_a_service_running_is_not_waited_for(
    monkeypatch,
):
    monkeypatch.setattr("agent.replicator.SHUTDOWN_COMMAND_SECONDS", 0.5)
    started = time.monotonic()
    hung = run_shutdown_command("sleep 30; true")
    assert hung["error"].startswith("still running after 0.5 s") and time.monotonic() - started < 5
    started = time.monotonic()
    left_running = run_shutdown_command("sleep 3 & echo stopped")
    assert left_running == {"command": "sleep 3 & echo stopped", "exitCode": 0, "error": None}
    assert time.monotonic() - started < 2, "a child still holding the output does not hold the agent"
