"""The numbers the portal shows about replication: initial replication % counts the data to send (the
disk's data extents, which the agent reports), throughput is not 0 B/s while the first window of
uploads is open, every page writes data amounts in decimal units, and the appliance's upload cap is in
megabits per second as its name says."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from agent.uploader import DataExtents
from appliance.process_server import UploadThrottle, upload_cap_bytes_per_second

from hub import clock, units
from hub.templatetags.portal import status_icon_kind
from replication import status, uploads
from replication.models import MigrationItem
from replication.tests.encoder import BLOCK, MIB, ProcessServer, image, records
from replication.tests.stubs import entry_for, make_replicator

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


# Units: one decimal convention on every page


@pytest.mark.parametrize(
    ("byte_count", "shown"),
    [
        (0, "0 B"),
        (None, "0 B"),
        (999, "999 B"),
        (1000, "1 KB"),
        (1500, "1.5 KB"),
        (16 * 1024 * 1024, "16.8 MB"),
        (999_400, "999 KB"),
        (999_999, "1 MB"),
        (123_456_789, "123 MB"),
        (12_340_000_000, "12.3 GB"),
        (2 * 1024**4, "2.2 TB"),
    ],
)
def test_data_amounts_are_decimal_as_the_azure_portal_writes_them(byte_count, shown):
    assert units.decimal_size(byte_count) == shown


def test_throughput_and_disk_sizes_use_the_same_units():
    assert units.decimal_rate(0) == "0 B/s"
    assert units.decimal_rate(4_200_000) == "4.2 MB/s"
    assert units.gigabytes(32 * 1024**3) == 34.4, "a 32 GiB disk is 34.4 GB"
    assert units.gigabytes(None) == 0


def test_status_icons_cover_job_notification_and_health_states():
    assert status_icon_kind("InProgress") == status_icon_kind("NotStarted") == "in-progress"
    assert status_icon_kind("Succeeded") == status_icon_kind("Normal") == "succeeded"
    assert status_icon_kind("Failed") == status_icon_kind("Critical") == "failed"
    assert status_icon_kind("Warning") == "warning"
    assert status_icon_kind("Info") == status_icon_kind("anything else") == "info"


# Initial replication %: of the data to send


def disk(size, scanned=0, data_total=0, data_scanned=0):
    return SimpleNamespace(
        size_bytes=size, scanned_bytes=scanned, data_total_bytes=data_total, data_scanned_bytes=data_scanned
    )


def seeding(completed=False):
    return SimpleNamespace(initial_replication_completed_at=T0 if completed else None)


def test_initial_replication_percent_counts_the_data_to_send_not_the_disk():
    # A 100 GB disk holding 10 GB of data, 5 GB of which read (the agent has passed 37% of the disk).
    half_read = disk(100 * 10**9, scanned=37 * 10**9, data_total=10 * 10**9, data_scanned=5 * 10**9)
    assert status.initial_progress_percent(seeding(), [half_read]) == 50
    assert status.data_progress(half_read) == (5 * 10**9, 10 * 10**9)
    # Two disks: the data of both counts, whatever their sizes.
    other = disk(2 * 10**12, scanned=2 * 10**12, data_total=30 * 10**9, data_scanned=30 * 10**9)
    assert status.initial_progress_percent(seeding(), [half_read, other]) == 87
    # Everything read but no recovery point yet: 99, then 100 once initial replication completes.
    done = disk(10**9, scanned=10**9, data_total=10**8, data_scanned=10**8)
    assert status.initial_progress_percent(seeding(), [done]) == 99
    assert status.initial_progress_percent(seeding(completed=True), [done]) == 100


def test_before_the_agent_says_how_much_data_there_is_the_disk_counts():
    assert status.initial_progress_percent(seeding(), [disk(1000, scanned=250)]) == 25
    assert status.initial_progress_percent(seeding(), []) == 0
    assert status.data_progress(disk(1000, scanned=2000)) == (1000, 1000)


# Throughput: not 0 B/s while the first window is open


def uploading(last, *, rate=0.0, window_started=None, window_bytes=0):
    return SimpleNamespace(
        last_upload_at=last,
        throughput_bytes_per_second=rate,
        throughput_window_started_at=window_started,
        throughput_window_bytes=window_bytes,
    )


def test_throughput_is_measured_from_the_first_batch_until_the_first_window_closes():
    # The first batch opened the window at T0; 16 MB more arrived in the 2 s since.
    item = uploading(T0 + timedelta(seconds=2), window_started=T0, window_bytes=16_000_000)
    assert status.current_throughput(item, T0 + timedelta(seconds=3)) == 8_000_000
    # Only the first batch so far: nothing to measure yet.
    assert status.current_throughput(uploading(T0, window_started=T0), T0) == 0


def test_a_closed_window_gives_the_rate_and_stopped_uploads_read_zero():
    item = uploading(T0, rate=5_000_000.0, window_started=T0 - timedelta(seconds=1), window_bytes=100)
    assert status.current_throughput(item, T0 + timedelta(seconds=1)) == 5_000_000
    assert status.current_throughput(item, T0 + status.THROUGHPUT_STALE_AFTER + timedelta(seconds=1)) == 0
    assert status.current_throughput(uploading(None), T0) == 0


# The agent reports its data extents; the hub keeps them


def test_data_extents_count_the_data_before_an_offset():
    extents = DataExtents([(0, 4096), (8192, 20480), (1_000_000, 2_000_000)], 1_500_000)
    assert extents.total_bytes == 4096 + 12288 + 500_000
    assert extents.bytes_before(0) == 0
    assert extents.bytes_before(4096) == extents.bytes_before(8192) == 4096
    assert extents.bytes_before(12288) == 8192
    assert extents.bytes_before(999_999) == 4096 + 12288
    assert extents.bytes_before(1_500_000) == extents.total_bytes
    assert DataExtents([], 100).bytes_before(50) == 0


def test_an_agent_says_how_much_of_a_sparse_disks_data_it_has_read(stub, tmp_path):
    size, used = 64 * 1024**3, 8 * MIB
    specs = [{"diskId": "disk1", "sizeBytes": size, "synthetic": {"seed": "db/disk1", "usedBytes": used}}]
    replicator = make_replicator(stub, tmp_path / "state", specs)
    replicator.update(entry_for(specs))
    replicator.run_cycle()
    headers = sorted((header for header in stub.received if header["cycle"] == 1), key=lambda h: h["sequence"])
    assert {header["dataTotalBytes"] for header in headers} == {used}
    read = [header["dataScannedBytes"] for header in headers]
    assert read == sorted(read) and read[-1] == used
    assert 0 < read[0] < used, "the first batch covers part of the data, not of the 64 GB disk"


@pytest.mark.django_db
def test_the_hub_shows_the_percent_of_the_data_to_send_and_a_throughput_from_the_first_seconds(replicating):
    item = replicating
    ps = ProcessServer(item.project)
    source = bytes(image(3, MIB))
    data_total = 400 * BLOCK  # what the agent found in the disk's extents

    def progress(blocks_read: int) -> dict:
        return {"dataScannedBytes": blocks_read * BLOCK, "dataTotalBytes": data_total}

    # The first batch read the start of the disk: a quarter of its data, a tenth of the disk.
    uploads.batch_store(
        item.appliance,
        ps.body(item, "disk0", 1, 1, records(source, range(100)), full=True, scanned=MIB // 10, **progress(100)),
    )
    time.sleep(0.3)
    uploads.batch_store(
        item.appliance,
        ps.body(item, "disk0", 2, 1, records(source, range(100, 200)), full=True, scanned=MIB // 5, **progress(200)),
    )
    item = MigrationItem.objects.get(pk=item.pk)
    disk = item.disks.get(disk_id="disk0")
    assert (disk.data_scanned_bytes, disk.data_total_bytes) == (200 * BLOCK, data_total)
    state = status.item_status(item, clock.now())
    assert state.initial_progress_percent == 50
    assert state.migration_state_description == "Initial replication 50%"
    assert (state.processed_bytes, state.bytes_to_send) == (200 * BLOCK, data_total)
    assert state.throughput_bytes_per_second > 0, "data has moved: the open window's rate shows"


# The appliance's upload cap: megabits per second


def test_the_upload_cap_is_in_megabits_per_second():
    assert upload_cap_bytes_per_second({"APPLIANCE_MAX_UPLOAD_MBPS": "64"}) == 8_000_000
    assert upload_cap_bytes_per_second({"APPLIANCE_MAX_UPLOAD_MBPS": " 100 "}) == 12_500_000
    assert upload_cap_bytes_per_second({}) == 0
    assert upload_cap_bytes_per_second({"APPLIANCE_MAX_UPLOAD_MBPS": "0"}) == 0
    assert upload_cap_bytes_per_second({"APPLIANCE_MAX_UPLOAD_MBPS": "-3"}) == 0
    with pytest.raises(SystemExit, match="megabits per second"):
        upload_cap_bytes_per_second({"APPLIANCE_MAX_UPLOAD_MBPS": "8MB"})


def test_the_throttle_spaces_uploads_at_the_cap():
    throttle = UploadThrottle(upload_cap_bytes_per_second({"APPLIANCE_MAX_UPLOAD_MBPS": "8"}))  # 1 MB/s
    started = time.monotonic()
    throttle.wait_for(100_000)
    throttle.wait_for(100_000)
    assert throttle.next_free - started == pytest.approx(0.2, abs=0.05)
