"""The faults as the appliance and the agent act on them, in-process (the whole wire runs for real in
tests/test_fault_families.py): a flapping link's phases, an injected cap lifted while an upload waits,
the agent's churn written into an image file (never a device) and stopped, a disk whose reads fail."""

from __future__ import annotations

import threading
import time

import pytest

# The appliance and the agent are on sys.path from replication/tests/conftest.py and stubs.py.
from agent import disks
from agent import faults as agent_faults
from agent.faults import MISMATCHED_VERSION, OTHER_CONFIGURATION_SERVER, Faults
from appliance.faults import FaultsInForce
from appliance.process_server import UploadThrottle


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def fault(kind, **parameters):
    return {"id": kind, "kind": kind, "parameters": parameters, "probability": 1.0}


def test_a_flapping_link_is_up_then_down_from_when_the_appliance_first_saw_it():
    clock = FakeClock()
    faults = FaultsInForce(clock)
    faults.replace({"appliance": [fault("linkFlapping", upSeconds=2, downSeconds=3)]})
    downs = []
    for second in range(10):
        clock.now = 100.0 + second + 0.5
        downs.append(faults.link_down())
    assert downs == [False, False, True, True, True, False, False, True, True, True]
    faults.upload_failed()
    assert faults.problems() == {"ProcessServerLinkFlapping": {"failedUploads": 1}}
    faults.replace({})  # the next answer leaves it out: over
    assert not faults.link_down() and faults.problems() == {}


def test_an_injected_cap_lifted_frees_an_upload_already_waiting():
    faults = FaultsInForce()
    faults.replace({"appliance": [fault("uploadBandwidthCap", mbps=0.08)]})  # 10 KB/s
    assert faults.problems() == {"ProcessServerUploadCapped": {"mbps": 0.08}}
    throttle = UploadThrottle(0)
    done = threading.Event()

    def upload():
        throttle.wait_for(1_000_000, faults.upload_cap_bytes_per_second)  # 100 s at the cap
        done.set()

    threading.Thread(target=upload, daemon=True).start()
    assert not done.wait(0.6)
    faults.replace({"appliance": []})
    assert done.wait(2), "lifting the cap did not free the upload"


def test_source_churn_writes_the_image_file_until_it_is_over(tmp_path):
    image = tmp_path / "disk0.img"
    image.write_bytes(bytes(1024 * 1024))
    device_like = tmp_path / "not-a-file"
    device_like.mkdir()
    disk_list = [{"diskId": "disk0", "path": str(image)}, {"diskId": "disk1", "path": str(device_like)}]
    faults = Faults()
    faults.replace([fault("sourceChurn", mbPerSecond=1)], disk_list)
    try:
        time.sleep(0.5)
        assert faults.problems() == {"78188": {"mbPerSecond": 1.0}}
    finally:
        faults.replace([], disk_list)
    assert any(image.read_bytes()), "nothing was written"
    settled = image.read_bytes()
    time.sleep(0.3)
    assert image.read_bytes() == settled and faults.problems() == {}


def test_an_unreadable_disk_fails_its_reads_until_the_fault_is_over(tmp_path, monkeypatch):
    image = tmp_path / "disk1.img"
    image.write_bytes(b"x" * 8192)
    disk_list = [{"diskId": "disk0"}, {"diskId": "disk1", "path": str(image)}]
    faults = Faults()
    monkeypatch.setattr(agent_faults, "FAULTS", faults)  # the service's one set, as disks reads it
    faults.replace([fault("diskReadErrors", diskIndex=1)], disk_list)
    source = disks.open_source({"diskId": "disk1", "path": str(image)}, "m1")
    assert source.size_bytes == 8192
    with pytest.raises(disks.DiskReadError, match="Input/output error reading disk disk1"):
        source.snapshot(0).read(0, 4096)
    source.close()
    faults.replace([], disk_list)
    source = disks.open_source({"diskId": "disk1", "path": str(image)}, "m1")
    assert bytes(source.read(0, 4096)[:4096]) == b"x" * 4096
    source.close()


def test_the_agent_says_another_version_or_configuration_server_while_told_to():
    faults = Faults()
    assert (faults.reported_version("9.60.0"), faults.reported_configuration_server("cs-1")) == ("9.60.0", "cs-1")
    faults.replace([fault("agentVersionMismatch"), fault("agentOtherConfigurationServer")], [])
    assert faults.reported_version("9.60.0") == MISMATCHED_VERSION
    assert faults.reported_configuration_server("cs-1") == OTHER_CONFIGURATION_SERVER


def test_a_cap_with_a_probability_caps_only_the_uploads_it_strikes(monkeypatch):
    faults = FaultsInForce()
    faults.replace({"appliance": [{**fault("uploadBandwidthCap", mbps=8), "probability": 0.5}]})
    rolls = iter([0.2, 0.7])
    monkeypatch.setattr("appliance.faults.random.random", lambda: next(rolls))
    assert faults.upload_cap_for_upload()() == 1_000_000  # 0.2: struck, 8 Mbps
    assert faults.upload_cap_for_upload()() == 0.0  # 0.7: spared, this upload runs free
    assert faults.problems() == {"ProcessServerUploadCapped": {"mbps": 8.0}}, "the cap is still in force"


def test_churn_with_a_probability_writes_in_bursts_averaging_its_share(tmp_path):
    image = tmp_path / "disk0.img"
    image.write_bytes(bytes(4 * 1024 * 1024))
    disk_list = [{"diskId": "disk0", "path": str(image)}]
    faults = Faults()
    faults.replace([{**fault("sourceChurn", mbPerSecond=2), "probability": 0.25}], disk_list)
    try:
        assert faults.churn.probability == 0.25
        # Each 0.1 s tick is struck with probability 0.25, so a one-second window misses every tick
        # about one run in eighteen: wait for the first burst (up to 8 s; all 80 ticks miss about
        # once in 10^10), then judge the share over the whole wait.
        started = time.monotonic()
        while faults.churn.written == 0 and time.monotonic() - started < 8.0:
            time.sleep(0.05)
        time.sleep(2.0)
        written, elapsed = faults.churn.written, time.monotonic() - started
    finally:
        faults.replace([], disk_list)
    # About a quarter of 2 MB a second; far less than the whole rate, more than nothing.
    assert 0 < written < 0.75 * 2_000_000 * elapsed, (written, elapsed)
    faults.replace([fault("sourceChurn", mbPerSecond=2)], disk_list)
    try:
        assert faults.churn.probability == 1.0
    finally:
        faults.replace([], disk_list)
