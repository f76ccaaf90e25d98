"""A prune while a full cycle is being applied keeps that cycle's packs: its chunks are cut into packs
as its batches are applied, and no manifest names them until its point is recorded (the review of
2026-12-06 found the sweep deleting them, and the point recorded after could not be restored)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from hub import clock
from hub.object_store import store
from replication import point_manifests, uploads
from replication.recovery_points import points_prune
from replication.tests.encoder import BLOCK, MIB, ProcessServer, apply, image, marker, records, send_full

pytestmark = pytest.mark.django_db


def send_part(ps, item, source: bytearray, indexes: list[int], cycle: int, sequence: int, *, last: bool) -> int:
    """Part of a full cycle of `source`, in batches of 24 blocks; the last batch of the last part ends it."""
    for start in range(0, len(indexes), 24):
        part = indexes[start : start + 24]
        ends = last and start + 24 >= len(indexes)
        body = ps.body(
            item,
            "disk0",
            sequence,
            cycle,
            records(bytes(source), part),
            full=True,
            marker=marker(cycle, bytes(source)) if ends else None,
            scanned=(part[-1] + 1) * BLOCK,
        )
        uploads.batch_store(item.appliance, body)
        sequence += 1
    return sequence


def two_points_kept_an_hour(item):
    """Points 1 and 2 of two full cycles, under a policy that keeps points an hour: the process server
    and the next sequence."""
    item.policy.recovery_point_history_minutes = 60
    item.policy.save()
    ps = ProcessServer(item.project)
    sequence = send_full(ps, item, "disk0", image(1, MIB), cycle=1, first_sequence=1)
    apply(item)
    sequence = send_full(ps, item, "disk0", image(2, MIB), cycle=2, first_sequence=sequence)
    apply(item)
    return ps, sequence


def test_a_prune_mid_full_cycle_keeps_its_packs_and_its_point_restores(replicating, tmp_path):
    item = replicating
    ps, sequence = two_points_kept_an_hour(item)
    # Cycle 3 is full again (a resync): half of it arrives and is applied, then the agent pauses.
    source = image(3, MIB)
    indexes = [index for index in range(MIB // BLOCK) if any(source[index * BLOCK : (index + 1) * BLOCK])]
    half = len(indexes) // 2
    sequence = send_part(ps, item, source, indexes[:half], 3, sequence, last=False)
    apply(item)

    clock.advance(timedelta(minutes=90))
    assert points_prune() == 1  # point 1's row goes; the sweep waits for cycle 3's point
    assert sorted(item.recovery_points.values_list("cycle", flat=True)) == [2]

    send_part(ps, item, source, indexes[half:], 3, sequence, last=True)
    apply(item)
    disk = item.disks.get(disk_id="disk0")
    manifest = point_manifests.manifest_load(item, disk.pk, 3)
    sha, _ = point_manifests.restore(item, manifest, tmp_path / "restored.img", sha256=True)
    assert sha == hashlib.sha256(bytes(source)).hexdigest()


def test_a_prune_with_no_open_full_cycle_sweeps_unnamed_objects(replicating):
    item = replicating
    two_points_kept_an_hour(item)
    prefix = point_manifests.item_prefix(item)
    before = set(store().names(f"{prefix}/"))
    clock.advance(timedelta(minutes=90))
    assert points_prune() == 1
    after = set(store().names(f"{prefix}/"))
    assert after < before  # point 1's manifest and the packs only it named went


def test_an_unreadable_manifest_stops_the_sweep_rather_than_delete_what_it_may_name(replicating):
    item = replicating
    ps = ProcessServer(item.project)
    send_full(ps, item, "disk0", image(1, MIB), cycle=1, first_sequence=1)
    apply(item)
    disk = item.disks.get(disk_id="disk0")
    objects, prefix = store(), point_manifests.item_prefix(item)
    name = point_manifests.manifest_name(prefix, disk.pk, 1)
    objects.put(name, objects.get(name)[:-5])  # truncated mid-entry
    with pytest.raises(ValueError):
        point_manifests.manifest_load(item, disk.pk, 1)
    objects.put(f"{prefix}/packs/00/{'00' * 32}.pack", b"unnamed")
    before = set(objects.names(f"{prefix}/"))
    assert point_manifests.chunks_sweep(item) == 0
    assert set(objects.names(f"{prefix}/")) == before


def test_two_restores_of_one_disk_at_once_both_finish_whole(replicating, tmp_path, monkeypatch):
    """Two deliveries of one Test migrate job (a worker judged dead while its non-atomic step ran) restore
    the same disk file at once: each writes a partial file of its own, so neither's rename fails or
    moves the other's half-written file into place."""
    import threading

    item = replicating
    source = image(1, MIB)
    send_full(ProcessServer(item.project), item, "disk0", source, cycle=1, first_sequence=1)
    apply(item)
    manifest = point_manifests.manifest_load(item, item.disks.get(disk_id="disk0").pk, 1)
    target = tmp_path / "vm" / "disk0.vhd"
    both_writing = threading.Barrier(2, timeout=10)
    checked = point_manifests._checked_chunks

    def chunks_met_halfway(*args):
        for count, piece in enumerate(checked(*args)):
            if count == 1:
                both_writing.wait()  # each restore is writing its file when the other starts
            yield piece

    monkeypatch.setattr(point_manifests, "_checked_chunks", chunks_met_halfway)
    results, errors = [], []

    def restore_once():
        try:
            results.append(point_manifests.restore(item, manifest, target, sha256=True))
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=restore_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = hashlib.sha256(bytes(source)).hexdigest()
    assert [sha for sha, _ in results] == [expected, expected]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected
    assert [path.name for path in target.parent.iterdir()] == ["disk0.vhd"]
