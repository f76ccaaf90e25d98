"""A full cycle's recovery-point chunks are cut while the cycle is applied (chunk_cutting.ChunkCutter),
not by reading the whole replica again when the point is recorded; whenever that cannot be trusted (the
cycle applied by two processes, out of order) the point reads the replica as before. Either way the
point's manifest names the source's chunks and restores to the source's bytes."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from hub.object_store import LocalStore, store
from replication import chunk_cutting, point_manifests, uploads
from replication.chunk_packs import pack_name, pack_sha
from replication.models import RecoveryPoint
from replication.tests import encoder
from replication.tests.encoder import BLOCK, MIB, ProcessServer, apply, image, marker, records, replica_bytes, send_full

pytestmark = pytest.mark.django_db

CHUNK = point_manifests.CHUNK_BYTES


def source_chunks(source: bytes) -> dict[int, bytes]:
    return {
        index: chunk_sha(source[index * CHUNK : (index + 1) * CHUNK])
        for index in range(-(-len(source) // CHUNK))
        if any(source[index * CHUNK : (index + 1) * CHUNK])
    }


def chunk_sha(chunk: bytes) -> bytes:
    """A chunk's name as the manifests give it: SHA-256 over a tag, its length and its blocks' SHA-256s."""
    blocks = b"".join(hashlib.sha256(chunk[start : start + BLOCK]).digest() for start in range(0, len(chunk), BLOCK))
    return hashlib.sha256(b"MHC2" + len(chunk).to_bytes(8, "little") + blocks).digest()


def replica_reads(monkeypatch) -> list:
    """Record every time a point's manifest is written by reading the replica."""
    reads = []
    storing = point_manifests.store_chunks

    def counted(objects, prefix, descriptor, indexes, *args, **kwargs):
        reads.append(len(indexes))
        return storing(objects, prefix, descriptor, indexes, *args, **kwargs)

    monkeypatch.setattr(point_manifests, "store_chunks", counted)
    return reads


def point_of(item, cycle: int, source: bytes, tmp_path) -> point_manifests.Manifest:
    disk = item.disks.get(disk_id="disk0")
    manifest = point_manifests.manifest_load(item, disk.pk, cycle)
    assert manifest.chunks == source_chunks(source)
    sha256, _ = point_manifests.restore(item, manifest, tmp_path / f"restored-{cycle}.img", sha256=True)
    assert sha256 == hashlib.sha256(source).hexdigest()
    return manifest


def test_a_full_cycle_applied_in_order_has_its_chunks_cut_as_it_is_applied(replicating, monkeypatch, tmp_path):  # noqa: F811
    item = replicating
    reads = replica_reads(monkeypatch)
    source = image(31, MIB)
    # Image blocks repeat within a chunk's range, and batches of 24 blocks end inside chunks.
    send_full(ProcessServer(item.project), item, "disk0", source, cycle=1, first_sequence=1, batch_blocks=24)
    apply(item)
    assert RecoveryPoint.objects.filter(item=item, cycle=1).exists()
    assert replica_bytes(item, "disk0") == bytes(source)
    point_of(item, 1, bytes(source), tmp_path)
    # Each chunk was cut as the apply moved past it, named from the apply's block hashes, and stored once,
    # in a pack per batch; the point read no chunk from the replica.
    assert reads == []
    prefix = point_manifests.item_prefix(item)
    packs = list(store().names(f"{prefix}/packs/"))
    assert sum(store().size(name) for name in packs) == len(set(source_chunks(bytes(source)).values())) * CHUNK
    assert 1 < len(packs) <= -(-(MIB // BLOCK) // 24) and not list(store().names(f"{prefix}/chunks/"))
    assert not chunk_cutting._cut_chunks


def touched_chunks(source: bytes) -> set[int]:
    blocks = range(len(source) // BLOCK)
    return {index * BLOCK // CHUNK for index in blocks if any(source[index * BLOCK : (index + 1) * BLOCK])}


def test_a_applied_by_two_workers_reads_the_replica_at_its_point(replicating, monkeypatch, tmp_path):  # noqa: F811
    item = replicating
    source = image(32, MIB)
    # Count the replica reads from when the second worker starts.
    reads = encoder.applied_by_two_workers(item, source, lambda: replica_reads(monkeypatch))
    assert reads == [len(touched_chunks(source))]  # the whole replica's data chunks, read at the point
    assert RecoveryPoint.objects.filter(item=item, cycle=1).exists()
    point_of(item, 1, bytes(source), tmp_path)


def test_a_delta_after_a_cut_full_cycle_is_recorded_from_the_chunks_it_changed(replicating, tmp_path):  # noqa: F811
    item = replicating
    ps = ProcessServer(item.project)
    source = image(33, MIB)
    sequence = send_full(ps, item, "disk0", source, cycle=1, first_sequence=1, batch_blocks=40)
    apply(item)
    changed = bytearray(source)
    changed[5 * BLOCK : 6 * BLOCK] = b"\x07" * BLOCK
    changed[200 * BLOCK : 201 * BLOCK] = bytes(BLOCK)
    body = ps.body(
        item, "disk0", sequence, 2, records(bytes(changed), [5, 200]), full=False, marker=marker(2, bytes(changed))
    )
    uploads.batch_store(item.appliance, body)
    apply(item)
    assert RecoveryPoint.objects.filter(item=item, cycle=2).exists()
    point_of(item, 1, bytes(source), tmp_path)
    point_of(item, 2, bytes(changed), tmp_path)


def test_a_local_store_writes_into_a_folder_removed_since_it_last_wrote_there(tmp_path):
    local = LocalStore(tmp_path)
    local.put("c/chunks/ab/1", b"one")
    local.delete_container("c")
    local.put("c/chunks/ab/2", b"two")
    with local.unsynced_writes():
        local.put("c/chunks/ab/3", b"three")
    assert [local.get(f"c/chunks/ab/{name}") for name in (2, 3)] == [b"two", b"three"]
    assert not local.exists("c/chunks/ab/1")


class RoundTripStore:
    """A backend whose put is a round trip (as Blob's and S3's are): no unsynced_writes."""

    def __init__(self, failing: str = ""):
        self.objects: dict[str, bytes] = {}
        self.failing = failing

    def put(self, name, data):
        if name == self.failing:
            raise OSError("the service refused it")
        self.objects[name] = bytes(data)

    def get(self, name, offset=0, length=None):
        data = self.objects[name]
        return data[offset:] if length is None else data[offset : offset + length]


def test_chunks_go_to_a_round_trip_backend_in_packs_several_at_once_and_a_failure_is_raised(monkeypatch, tmp_path):
    monkeypatch.setattr(chunk_cutting, "PACK_BYTES", 8 * CHUNK)
    replica = tmp_path / "replica.img"
    # 40 chunks, the 10th a repeat of the 3rd, then a zero chunk and a short last one
    data = b"".join(bytes([index + 1 if index != 9 else 3]) * CHUNK for index in range(40)) + bytes(CHUNK) + b"x" * 100
    replica.write_bytes(data)
    objects, chunks, places = RoundTripStore(), {}, {}
    with open(replica, "rb") as handle:
        stored = chunk_cutting.store_chunks(
            objects, "acct/points/1", handle.fileno(), list(range(42)), len(data), chunks, places, known={}
        )
    assert stored == 39 * CHUNK + 100 and sorted(chunks) == [*range(40), 41] and places.keys() == chunks.keys()
    # Five packs of eight chunks (the repeated one is not stored twice); the short last chunk ends the fifth.
    assert len(objects.objects) == 5
    assert places[9] == places[2]
    for index, (sha, slot) in places.items():
        chunk = data[index * CHUNK : (index + 1) * CHUNK]
        assert objects.get(pack_name("acct/points/1", sha), slot * CHUNK, len(chunk)) == chunk
        assert chunk_sha(chunk) == chunks[index]
    # A pack's name is its chunks' names'; the third pack is refused.
    third = pack_name("acct/points/1", pack_sha(chunks[index] for index in range(17, 25)))
    assert third in objects.objects
    with open(replica, "rb") as handle, pytest.raises(OSError):
        chunk_cutting.store_chunks(
            RoundTripStore(failing=third),
            "acct/points/1",
            handle.fileno(),
            list(range(42)),
            len(data),
            {},
            {},
            known={},
        )
    # The chunks a base already holds are named where they are, and not stored again.
    again_chunks, again_places = {}, {}
    with open(replica, "rb") as handle:
        known = {chunks[index]: places[index] for index in chunks}
        again = chunk_cutting.store_chunks(
            RoundTripStore(),
            "acct/points/1",
            handle.fileno(),
            list(range(42)),
            len(data),
            again_chunks,
            again_places,
            known=known,
        )
    assert again == 0 and again_places == places


def test_chunks_named_from_the_apply_s_block_hashes_are_named_as_from_their_bytes(replicating, tmp_path):
    size = 3 * CHUNK + 5000  # a short last chunk, whose last block is short too
    data = bytearray(os.urandom(size))
    data[CHUNK : 2 * CHUNK] = bytes(CHUNK)  # an all-zero chunk: not stored
    data[2 * CHUNK + BLOCK : 2 * CHUNK + 3 * BLOCK] = bytes(2 * BLOCK)  # zero blocks inside a chunk
    data[size - 904 :] = bytes(904)  # the short last block is zero, so not among the blocks written
    (tmp_path / "replica.img").write_bytes(data)
    cutter = point_manifests.ChunkCutter(replicating, "disk-pk", 1, size)
    for index in range(-(-size // BLOCK)):
        block = bytes(data[index * BLOCK : (index + 1) * BLOCK])
        if any(block):
            cutter.blocks[index] = hashlib.sha256(block).digest()
    with open(tmp_path / "replica.img", "rb") as handle:
        cutter.cut(handle.fileno(), below=1)
        assert sorted(cutter.chunks) == [0]
        cutter.cut(handle.fileno())
    assert cutter.chunks == source_chunks(bytes(data)) and sorted(cutter.chunks) == [0, 2, 3]
    assert not cutter.blocks
    prefix = point_manifests.item_prefix(replicating)
    for index, sha in cutter.chunks.items():
        chunk = data[index * CHUNK : (index + 1) * CHUNK]
        pack, slot = cutter.places[index]
        assert store().get(pack_name(prefix, pack), slot * CHUNK, len(chunk)) == chunk
        assert point_manifests.chunk_sha(chunk) == sha
    assert len({pack for pack, _ in cutter.places.values()}) == 2  # one pack per cut
    assert cutter.stored == 2 * CHUNK + 5000


def legacy_point(item, cycle: int, source: bytes) -> None:
    """Replace the point's manifest and chunks with what the code before block-named chunks wrote: chunks
    named by the SHA-256 of their bytes, and no "chunkNaming" in the manifest's header."""
    disk, objects = item.disks.get(disk_id="disk0"), store()
    prefix = point_manifests.item_prefix(item)
    for name in list(objects.names(f"{prefix}/")):
        objects.delete(name)
    entries = b""
    for index in range(-(-len(source) // CHUNK)):
        chunk = source[index * CHUNK : (index + 1) * CHUNK]
        if any(chunk):
            sha = hashlib.sha256(chunk).digest()
            objects.put(f"{prefix}/chunks/{sha.hex()[:2]}/{sha.hex()}", chunk)
            entries += point_manifests.ENTRY.pack(index, sha)
    header = json.dumps({"sizeBytes": len(source), "chunkBytes": CHUNK, "base": None, "depth": 0}).encode()
    manifest = point_manifests.MANIFEST_MAGIC + len(header).to_bytes(4, "little") + header + entries
    objects.put(point_manifests.manifest_name(prefix, disk.pk, cycle), manifest)


def replicated_once(item, seed: int):
    """Disk0's first full cycle of image(seed, MIB), sent in batches of 40 blocks and applied: the process
    server, the source and the next sequence."""
    ps = ProcessServer(item.project)
    source = image(seed, MIB)
    sequence = send_full(ps, item, "disk0", source, cycle=1, first_sequence=1, batch_blocks=40)
    apply(item)
    return ps, source, sequence


def block_7_changed_in_cycle_2(item, ps, source, sequence: int) -> bytearray:
    """Cycle 2: a delta of block 7, sent and applied; the source as it is now."""
    changed = bytearray(source)
    changed[7 * BLOCK : 8 * BLOCK] = b"\x05" * BLOCK
    body = ps.body(
        item, "disk0", sequence, 2, records(bytes(changed), [7]), full=False, marker=marker(2, bytes(changed))
    )
    uploads.batch_store(item.appliance, body)
    apply(item)
    return changed


def test_a_point_whose_chunks_are_named_by_their_bytes_stays_readable_and_the_next_is_whole(replicating, tmp_path):  # noqa: F811
    item = replicating
    ps, source, sequence = replicated_once(item, 34)
    legacy_point(item, 1, bytes(source))
    disk = item.disks.get(disk_id="disk0")
    old = point_manifests.manifest_load(item, disk.pk, 1)
    assert old.naming == point_manifests.BYTES_NAMING
    assert old.chunks == {
        index: hashlib.sha256(bytes(source[index * CHUNK : (index + 1) * CHUNK])).digest() for index in old.chunks
    }
    assert point_manifests.manifest_sha256(item, old) == hashlib.sha256(source).hexdigest()
    sha256, _ = point_manifests.restore(item, old, tmp_path / "old.img", sha256=True)
    assert sha256 == hashlib.sha256(source).hexdigest()
    changed = block_7_changed_in_cycle_2(item, ps, source, sequence)
    new = point_of(item, 2, bytes(changed), tmp_path)  # every chunk named from its blocks
    assert new.naming == point_manifests.BLOCK_NAMING and new.depth == 0
    assert point_manifests.manifest_chain(item, disk.pk, 2) == [2]
    # Both namings' chunks are kept while a manifest names them, and both points restore.
    assert point_manifests.chunks_sweep(item) == 0
    point_manifests.restore(item, old, tmp_path / "old-again.img", sha256=False)
    point_of(item, 2, bytes(changed), tmp_path)


def pre_pack_point(item, cycle: int, source: bytes) -> None:
    """Replace the point's manifest and chunks with what the code before packs wrote: each chunk its own
    object, named from its blocks (".blk"), and no "packs" in the manifest's header."""
    disk, objects = item.disks.get(disk_id="disk0"), store()
    prefix = point_manifests.item_prefix(item)
    for name in list(objects.names(f"{prefix}/")):
        objects.delete(name)
    entries = b""
    for index, sha in sorted(source_chunks(source).items()):
        objects.put(point_manifests.chunk_name(prefix, sha), source[index * CHUNK : (index + 1) * CHUNK])
        entries += point_manifests.ENTRY.pack(index, sha)
    header = json.dumps(
        {"sizeBytes": len(source), "chunkBytes": CHUNK, "chunkNaming": point_manifests.BLOCK_NAMING, "base": None}
    ).encode()
    manifest = point_manifests.MANIFEST_MAGIC + len(header).to_bytes(4, "little") + header + entries
    objects.put(point_manifests.manifest_name(prefix, disk.pk, cycle), manifest)


def test_a_point_written_before_packs_stays_readable_and_the_next_is_built_on_its_chunks(replicating, tmp_path):  # noqa: F811
    item = replicating
    ps, source, sequence = replicated_once(item, 35)
    pre_pack_point(item, 1, bytes(source))
    prefix = point_manifests.item_prefix(item)
    old = point_of(item, 1, bytes(source), tmp_path)
    assert old.places == {} and point_manifests.manifest_sha256(item, old) == hashlib.sha256(source).hexdigest()
    chunk_objects = set(store().names(f"{prefix}/chunks/"))
    changed = block_7_changed_in_cycle_2(item, ps, source, sequence)
    new = point_of(item, 2, bytes(changed), tmp_path)
    # An incremental manifest over the old one: the changed chunk in a pack, the others their own objects.
    assert new.depth == 1 and list(new.places) == [0]
    assert len(list(store().names(f"{prefix}/packs/"))) == 1
    assert point_manifests.chunks_sweep(item) == 0
    assert set(store().names(f"{prefix}/chunks/")) == chunk_objects
    # A pack or chunk object no manifest names goes.
    store().put(pack_name(prefix, pack_sha([b"x" * 32])), b"y" * CHUNK)
    assert point_manifests.chunks_sweep(item) == 1


def test_a_cutter_sends_packs_to_a_round_trip_backend_from_the_pool_and_waits_for_them_at_the_marker(
    replicating, tmp_path, monkeypatch
):
    """On Blob or S3 a cut's pack is read from the replica and sent while the next batch is applied; the
    last cut (the marker's) returns only once every pack is stored, and a refused pack fails it."""
    size = 4 * CHUNK
    data = os.urandom(size)
    (tmp_path / "replica.img").write_bytes(data)
    blocks = {
        index: hashlib.sha256(data[index * BLOCK : (index + 1) * BLOCK]).digest() for index in range(size // BLOCK)
    }
    per_chunk = CHUNK // BLOCK

    def cut_all(objects) -> point_manifests.ChunkCutter:
        monkeypatch.setattr(chunk_cutting, "store", lambda: objects)
        cutter = point_manifests.ChunkCutter(replicating, "disk-pk", 1, size)
        with open(tmp_path / "replica.img", "rb") as handle:
            for chunk in range(4):
                cutter.blocks.update(
                    (index, blocks[index]) for index in range(chunk * per_chunk, (chunk + 1) * per_chunk)
                )
                cutter.cut(handle.fileno(), below=chunk + 1 if chunk < 3 else None)
        return cutter

    objects = RoundTripStore()
    cutter = cut_all(objects)
    assert not cutter.puts.pending and len(objects.objects) == 4  # one pack per cut, all stored
    prefix = point_manifests.item_prefix(replicating)
    for index, (pack, slot) in cutter.places.items():
        assert objects.get(pack_name(prefix, pack), slot * CHUNK, CHUNK) == data[index * CHUNK : (index + 1) * CHUNK]
    second = pack_name(prefix, pack_sha([cutter.chunks[1]]))
    with pytest.raises(OSError):
        cut_all(RoundTripStore(failing=second))
