"""The planner's arithmetic (replication.capacity_plan), by hand-worked cases."""

from __future__ import annotations

import pytest

from replication import capacity_plan as cp
from replication.capacity_plan import ServerLoad

MB = 10**6
FRAMING = cp.WIRE_BYTES_PER_BLOCK / cp.BLOCK_BYTES


def server(name="web", data=10 * 10**9, churn=0.0, disk=None):
    return ServerLoad(name, disk or data * 2, data, churn)


def test_initial_replication_is_the_used_data_over_what_the_churn_leaves_of_the_link():
    # 100 GB over 100 Mbps (12.5 MB/s), 2.5 MB/s of churn: 10 MB/s left, 10,000 s (+ the framing).
    assert cp.initial_replication_seconds(100 * 10**9, 12.5 * MB, churn=2.5 * MB) == pytest.approx(10_000 * FRAMING)
    assert cp.initial_replication_seconds(10**9, 5 * MB, churn=5 * MB) is None
    # Compressed to half: half the bytes on the wire, and the churn too.
    assert cp.initial_replication_seconds(10**9, 10 * MB, churn=2 * MB, compression_ratio=0.5) == pytest.approx(
        0.5 * 10**9 * FRAMING / (9 * MB)
    )


def test_achievable_rpo_is_a_cycle_plus_the_upload_of_its_changes():
    # 1 MB/s of churn, a 300 s cycle: 300 MB a cycle over 10 MB/s = 30 s (+ framing).
    assert cp.achievable_rpo_seconds(1 * MB, 10 * MB, 300) == pytest.approx(300 + 30 * FRAMING)
    assert cp.achievable_rpo_seconds(0, 10 * MB, 300) == 300
    # The churn fills the link: every cycle takes longer, the RPO grows without end.
    assert cp.achievable_rpo_seconds(10 * MB, 10 * MB, 300) is None
    assert cp.achievable_rpo_seconds(1 * MB, 0, 300) is None


def test_bandwidth_for_an_rpo_target_has_at_least_twenty_percent_headroom_over_the_churn():
    # 1 MB/s, 300 s cycle, 15 min target: 300 MB in 600 s = 0.5 MB/s, but the churn + 20% is 1.2 MB/s.
    needed = cp.bandwidth_for_rpo(1 * MB, 300, 900)
    assert needed == pytest.approx(1.2 * MB * FRAMING)
    # A target one minute past the cycle: 300 MB in 60 s = 5 MB/s, above the headroom rule.
    assert cp.bandwidth_for_rpo(1 * MB, 300, 360) == pytest.approx(5 * MB * FRAMING)
    # No bandwidth makes points more often than the cycle.
    assert cp.bandwidth_for_rpo(1 * MB, 300, 300) is None
    # The achievable RPO at that bandwidth is the target.
    assert cp.achievable_rpo_seconds(1 * MB, cp.bandwidth_for_rpo(1 * MB, 300, 360), 300) == pytest.approx(360)


def test_one_appliance_up_to_200_machines_and_2_tb_a_day():
    assert cp.appliances_needed([server(str(i)) for i in range(200)]).one_suffices
    over = cp.appliances_needed([server(str(i)) for i in range(201)])
    assert (over.needed, over.one_suffices) == (2, False)
    assert "201 machines: one appliance replicates up to 200" in over.reasons[0]
    # 30 MB/s for a day is 2.59 TB: two appliances.
    busy = cp.appliances_needed([server("a", churn=15 * MB), server("b", churn=15 * MB)])
    assert busy.needed == 2 and "2.59 TB of changed data a day" in busy.reasons[0]
    # Beyond 54 MB/s per machine no appliance supports it.
    hot = cp.appliances_needed([server("db", churn=55 * MB)])
    assert not hot.one_suffices and "db" in hot.reasons[-1]


def test_the_plan_adds_up_its_servers():
    plan = cp.bandwidth_plan(
        [server("a", data=4 * 10**9, churn=1 * MB), server("b", data=6 * 10**9, churn=1 * MB)],
        bandwidth=12.5 * MB,
        cycle_seconds=300,
        rpo_target_seconds=3600,
    )
    assert plan.total_data_bytes == 10 * 10**9
    assert plan.churn_bytes_per_second == 2 * MB
    assert plan.initial_replication_seconds == pytest.approx(10 * 10**9 * FRAMING / (10.5 * MB))
    assert plan.meets_rpo_target
    assert plan.bandwidth_for_churn_with_headroom == pytest.approx(2.4 * MB * FRAMING)


def test_cutover_forecast_adds_shutdown_final_sync_and_build():
    forecast = cp.cutover_forecast(
        churn=1 * MB,
        seconds_since_last_point=100,
        data_bytes=10**9,
        disk_bytes=2 * 10**9,
        throughput=50 * MB,
        build_bytes_per_second=100 * MB,
        build_fixed_seconds=1,
        scan_bytes_per_second=400 * MB,
        shutdown_seconds=2,
    )
    assert forecast.changed_bytes == 100 * MB
    assert forecast.transfer_seconds == pytest.approx(2 * FRAMING)
    assert forecast.scan_seconds == pytest.approx(5)
    assert forecast.build_seconds == pytest.approx(11)
    assert forecast.total_seconds == pytest.approx(2 + 5 + 2 * FRAMING + 11)
    # The server's delta cycles measured what reading the disks and recording a point take.
    measured = cp.cutover_forecast(
        churn=0,
        seconds_since_last_point=5,
        data_bytes=10**9,
        disk_bytes=10**12,
        throughput=50 * MB,
        measured_cycle_overhead_seconds=7.5,
    )
    assert measured.scan_seconds == 7.5
    # Never more changed than the disks hold.
    capped = cp.cutover_forecast(
        churn=1 * MB, seconds_since_last_point=10**6, data_bytes=10**9, disk_bytes=10**9, throughput=50 * MB
    )
    assert capped.changed_bytes == 10**9


def test_durations_in_iso_8601_and_for_people():
    assert cp.iso_duration(65.5) == "PT1M5.5S"
    assert cp.iso_duration(3600) == "PT1H"
    assert cp.iso_duration(0) == "PT0S"
    assert cp.duration_text(12.34) == "12.3 s"
    assert cp.duration_text(3 * 3600 + 5 * 60) == "3 h 5 min"
    assert cp.duration_text(None) == "-"
    assert cp.rate_text(12.5 * MB) == "100.0 Mbps (12.50 MB/s)"
