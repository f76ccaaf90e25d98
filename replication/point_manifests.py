"""Recovery points as manifests of content-addressed chunks: the durable truth of a replica.

A replica disk is cut into CHUNK_BYTES chunks. A chunk holding any data is stored once, named by its
SHA-256 (`chunk_sha`: a SHA-256 over its 4 KiB blocks' SHA-256s, see there); a point's manifest (one
per disk per point) gives, for each chunk index that holds data, that SHA-256 and where its bytes are:
a slot of a pack (replication/chunk_packs.py: the chunks one write stored, as one object) or, for
chunks written before packs, the chunk's own object. Two points that share a chunk share its stored
bytes (a chunk the base manifest holds is named where it is, not stored again), so storage grows with
the data that changed between points, not with their number. A manifest is itself incremental: it names
the previous point's manifest as its base and lists only the chunks that changed (a zero hash: the
chunk became all zero), and every MAX_DEPTH points, or when the change is large, it is whole again;
so a point with little changed costs little, however large the disk.

Chunks are 64 KiB: a scattered 4 KiB write costs one chunk of new storage (bench/point_storage.py
measures 1 MiB chunks at ~90x the bytes changed for scattered writes), and a 2 GiB disk's whole
manifest stays near 1 MiB. All of it goes through hub/object_store.py,
under the project's cache storage account:

    {account}/points/{item id}/packs/{sha[:2]}/{sha}.pack   (chunk_packs.py)
    {account}/points/{item id}/chunks/{sha[:2]}/{sha}.blk    (one chunk; written before packs)
    {account}/points/{item id}/manifests/{disk id}/{cycle:012d}

(Manifests written before chunks were named from their blocks name chunks by the SHA-256 of their
bytes, without the ".blk": they stay readable, and the next point after them is written whole.
Manifests written before packs name every chunk's own object: they stay readable, and a point built
on one keeps naming those objects for its unchanged chunks.)

Chunks are shared within an item only: pruning (which deletes packs and chunks no manifest names) runs
under the item's apply lease, the same lease that writes the item's manifests, so a sweep can never
delete a chunk a point being recorded has just relied on.

A worker's replica file is a working copy: `restore` rebuilds it (or writes a VM's disk) from a
manifest. Recording a point reads only the chunks written since the previous manifest (the disk's
`dirty_chunks`, kept by the data path as it applies), so a point costs the data changed, once. A full
cycle's chunks are cut while it is applied (replication/chunk_cutting.py's ChunkCutter: one pack per
batch), so its point only names them, and the apply's hashes of the blocks (replication/
apply_records.py) name them: the data is hashed once.

A pack stays whole while any manifest names one of its slots: a pack most of whose chunks were
overwritten since keeps them until no kept point names it (repacking is future work; see
chunk_packs.py). Storage still grows with the data changed: a changed chunk goes into a new pack, and
an unchanged one is named where it already is.

The modules: this one knows a point's manifest (its encoding, incremental bases and depth, loading,
restoring and sweeping); chunk_packs.py how chunks are named and what a pack is; chunk_cutting.py how
new chunks are written into packs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from hub.object_store import ObjectMissing, batched_writes, store
from replication.chunk_cutting import RENEW_CHUNKS, ChunkCutter, store_chunks, take_cut_chunks
from replication.chunk_packs import (
    BLOCK_NAMING,
    BYTES_NAMING,
    CHUNK_BYTES,
    Place,
    chunk_name,
    chunk_sha,
    item_prefix,
    pack_name,
    read_chunks,
)
from replication.replica_files import data_extents, hash_zeros, sparse_write_with_digests

# Named here too: the data path and the tests know chunks as this module's.
__all__ = ["BLOCK_NAMING", "BYTES_NAMING", "CHUNK_BYTES", "ChunkCutter", "chunk_name", "chunk_sha", "item_prefix"]

logger = logging.getLogger(__name__)

MANIFEST_MAGIC = b"MHM1"
ENTRY = struct.Struct("<Q32s")  # chunk index, the chunk's SHA-256 (chunk_sha): manifests before packs
# Manifests with a "packs" list in their header (the packs their entries name): chunk index, chunk_sha,
# the pack's number in that list (OWN_OBJECT: the chunk's own object, written before packs), its slot.
PACKED_ENTRY = struct.Struct("<Q32sII")
OWN_OBJECT = 0xFFFFFFFF
GONE = bytes(32)  # in an incremental manifest: the chunk is all zero now
# An incremental manifest's chain of bases is at most this long; a delta larger than a quarter of the
# whole is written whole.
MAX_DEPTH = 16
# Above this many dirty chunks, a disk's list gives way to "every chunk" (None): the list stays small.
DIRTY_LIMIT = 100_000


def manifest_name(prefix: str, disk_pk, cycle: int) -> str:
    return f"{prefix}/manifests/{disk_pk}/{cycle:012d}"


@dataclass
class Manifest:
    """One disk at one point: its size and, per chunk index holding data, the chunk's SHA-256 (resolved
    through the chain of bases); `cycle`, and `depth` (how many bases it stands on)."""

    size_bytes: int
    chunks: dict[int, bytes] = field(default_factory=dict)
    cycle: int = 0
    depth: int = 0
    naming: str = BLOCK_NAMING  # how its chunks are named (chunk_sha)
    # chunk index -> (pack SHA-256, slot) of the chunks in packs; a chunk not here is its own object
    places: dict[int, Place] = field(default_factory=dict)

    def known(self) -> dict[bytes, Place | None]:
        """chunk_sha -> where it is stored (None: its own object), for a point built on this one."""
        return {sha: self.places.get(index) for index, sha in self.chunks.items()}


def _encode(
    size_bytes: int, entries: dict[int, bytes], places: dict[int, Place], base: int | None, depth: int, **about
) -> bytes:
    """A manifest object; its chunks are named as chunk_sha names them now (BLOCK_NAMING), each entry
    with its place (`places`; a chunk not there is its own object)."""
    packs = sorted({places[index][0] for index in entries if index in places})
    numbers = {sha: number for number, sha in enumerate(packs)}
    header = json.dumps(
        {
            "sizeBytes": size_bytes,
            "chunkBytes": CHUNK_BYTES,
            "chunkNaming": BLOCK_NAMING,
            "base": base,
            "depth": depth,
            **about,
            "packs": [sha.hex() for sha in packs],
        }
    ).encode()
    body = bytearray()
    for index in sorted(entries):
        place = places.get(index)
        number, slot = (OWN_OBJECT, 0) if place is None else (numbers[place[0]], place[1])
        body += PACKED_ENTRY.pack(index, entries[index], number, slot)
    return MANIFEST_MAGIC + len(header).to_bytes(4, "little") + header + bytes(body)


def _decode(data: bytes) -> tuple[dict, dict[int, bytes], dict[int, Place]]:
    """(header, entries, places) of one manifest object: places of the chunks it names in packs."""
    if data[:4] != MANIFEST_MAGIC:
        raise ValueError("not a recovery point manifest")
    length = int.from_bytes(data[4:8], "little")
    header = json.loads(data[8 : 8 + length])
    if header.get("chunkBytes") != CHUNK_BYTES:
        raise ValueError(f"manifest chunks of {header.get('chunkBytes')} bytes, not {CHUNK_BYTES}")
    if _naming(header) not in (BLOCK_NAMING, BYTES_NAMING):
        raise ValueError(f"manifest chunks named by {_naming(header)!r}")
    body = memoryview(data)[8 + length :]
    # A truncated or damaged object is a ValueError like any unreadable manifest, never a struct.error or
    # an IndexError that its readers (the sweep, a restore) would not expect.
    entry = PACKED_ENTRY if "packs" in header else ENTRY
    if len(body) % entry.size:
        raise ValueError(f"manifest body of {len(body)} bytes is not whole entries of {entry.size}")
    if "packs" not in header:  # written before packs: every chunk is its own object
        return header, dict(ENTRY.iter_unpack(body)), {}
    packs = [bytes.fromhex(text) for text in header["packs"]]
    entries, places = {}, {}
    for index, sha, number, slot in PACKED_ENTRY.iter_unpack(body):
        entries[index] = sha
        if number != OWN_OBJECT:
            if number >= len(packs):
                raise ValueError(f"manifest entry {index} names pack {number} of {len(packs)}")
            places[index] = (packs[number], slot)
    return header, entries, places


def _naming(header: dict) -> str:
    return header.get("chunkNaming", BYTES_NAMING)


def _read(item, disk_pk, cycle: int) -> tuple[dict, dict[int, bytes], dict[int, Place]] | None:
    try:
        return _decode(store().get(manifest_name(item_prefix(item), disk_pk, cycle)))
    except ObjectMissing:
        return None


def manifest_load(item, disk_pk, cycle: int) -> Manifest | None:
    """The manifest of a point, resolved through its bases; None when it (or a base) is missing."""
    chain = []
    next_cycle: int | None = cycle
    while next_cycle is not None and len(chain) <= MAX_DEPTH:
        read = _read(item, disk_pk, next_cycle)
        if read is None:
            return None
        chain.append(read)
        next_cycle = read[0].get("base")
    if next_cycle is not None:
        raise ValueError(f"manifest chain of cycle {cycle} is longer than {MAX_DEPTH}")
    if len({_naming(header) for header, _, _ in chain}) > 1:
        raise ValueError(f"manifest chain of cycle {cycle} mixes chunk namings")  # never written so
    chunks: dict[int, bytes] = {}
    places: dict[int, Place] = {}
    for _, entries, entry_places in reversed(chain):
        for index, sha in entries.items():
            place = entry_places.get(index)
            if sha == GONE:
                chunks.pop(index, None)
            else:
                chunks[index] = sha
            if place is None:
                places.pop(index, None)
            else:
                places[index] = place
    header = chain[0][0]
    return Manifest(header["sizeBytes"], chunks, cycle, header.get("depth", 0), _naming(header), places)


def manifest_chain(item, disk_pk, cycle: int) -> list[int]:
    """The cycles whose manifest objects a point's manifest needs: its own and its bases'."""
    cycles: list[int] = []
    next_cycle: int | None = cycle
    while next_cycle is not None and len(cycles) <= MAX_DEPTH:
        read = _read(item, disk_pk, next_cycle)
        if read is None:
            break
        cycles.append(next_cycle)
        next_cycle = read[0].get("base")
    return cycles


def _data_chunk_indexes(descriptor: int, size: int) -> list[int]:
    """The chunk indexes that hold any of the file's data extents (a sparse replica's holes are skipped)."""
    indexes: list[int] = []
    for start, stop in data_extents(descriptor, min(size, os.fstat(descriptor).st_size)):
        first, last = start // CHUNK_BYTES, (stop - 1) // CHUNK_BYTES
        indexes.extend(range(max(first, indexes[-1] + 1 if indexes else 0), last + 1))
    return indexes


def manifest_write(
    item, disk, cycle: int, replica: Path, base: Manifest | None, dirty, renew=None
) -> tuple[Manifest, int]:
    """Write the manifest of `disk` at `cycle` from its replica: `base` (the previous point's manifest)
    with the `dirty` chunk indexes read again, or every data chunk when there is no base or dirty is None.
    Incremental over `base` when it can be. Returns the manifest and the bytes of new chunks it stored.
    `renew` is called as it goes: the caller's apply lease must outlive a long write."""
    objects, prefix = store(), item_prefix(item)
    size = disk.size_bytes
    stored = 0
    about = {"itemId": str(item.pk), "diskId": disk.disk_id, "cycle": cycle}
    cut = take_cut_chunks(disk.pk, cycle)
    if cut is not None and cut.size_bytes == size:
        # Cut while the full cycle was applied (ChunkCutter): its chunks are stored, and one sync makes
        # them durable before the manifest that names them.
        with batched_writes(objects):
            pass
        manifest = Manifest(size, dict(cut.chunks), cycle=cycle, places=dict(cut.places))
        objects.put(
            manifest_name(prefix, disk.pk, cycle), _encode(size, manifest.chunks, manifest.places, None, 0, **about)
        )
        return manifest, cut.stored
    try:
        handle = open(replica, "rb")  # noqa: SIM115 (closed below; the extent walk needs the descriptor)
    except FileNotFoundError:
        handle = None
    manifest = Manifest(size, cycle=cycle)
    # A base whose chunks are named otherwise (written before BLOCK_NAMING) cannot be built on.
    same_naming = base is not None and base.naming == BLOCK_NAMING
    whole = not same_naming or dirty is None or base.size_bytes != size
    indexes: list[int] = []
    if handle is not None:
        with handle:
            descriptor = handle.fileno()
            if whole:
                indexes = _data_chunk_indexes(descriptor, size)
            else:
                manifest.chunks, manifest.places = dict(base.chunks), dict(base.places)
                indexes = sorted(index for index in set(dirty) if index * CHUNK_BYTES < size)
            # The chunks become durable together, before the manifest that names them is written. A
            # chunk the base holds is named where it is: no store lookup, nothing written.
            with batched_writes(objects):
                stored = store_chunks(
                    objects,
                    prefix,
                    descriptor,
                    indexes,
                    size,
                    manifest.chunks,
                    manifest.places,
                    known=base.known() if same_naming else {},
                    renew=renew,
                )
    if handle is None:
        whole = True  # no replica: an all-zero disk
    changed = {} if whole else {index: manifest.chunks.get(index, GONE) for index in indexes}
    changed = {index: sha for index, sha in changed.items() if base.chunks.get(index, GONE) != sha} if changed else {}
    if whole or base.depth >= MAX_DEPTH or len(changed) * 4 > max(len(manifest.chunks), 1):
        data = _encode(size, manifest.chunks, manifest.places, None, 0, **about)
    else:
        manifest.depth = base.depth + 1
        data = _encode(size, changed, manifest.places, base.cycle, manifest.depth, **about)
    objects.put(manifest_name(prefix, disk.pk, cycle), data)
    return manifest, stored


def restore(item, manifest: Manifest, target: Path, *, sha256: bool, renew=None) -> tuple[str, str]:
    """Write the disk a manifest describes into a new sparse file, and return its SHA-256 (its holes
    hashed as the zeros they read as; "" unless asked) and the protocol's content digest."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # A partial file of this call's own: two deliveries of one job (a worker judged dead while it still ran
    # a non-atomic step) may restore the same disk at once; with one shared name the first to finish moved
    # the other's half-written file into place and the other failed at its rename.
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        with open(partial, "wb") as writer:
            digests = sparse_write_with_digests(
                writer, _checked_chunks(item, manifest, renew), manifest.size_bytes, sha256=sha256
            )
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return digests


def _stored_chunks(item, manifest: Manifest, renew=None):
    """(index, data) for each chunk the manifest names, in index order, as stored (adjacent slots of a
    pack read together)."""
    objects, prefix = store(), item_prefix(item)
    size, chunks, places = manifest.size_bytes, manifest.chunks, manifest.places
    wanted = ((index, min(CHUNK_BYTES, size - index * CHUNK_BYTES), places.get(index)) for index in sorted(chunks))
    for count, (index, data) in enumerate(
        read_chunks(objects, wanted, prefix, lambda index: chunk_name(prefix, chunks[index], manifest.naming))
    ):
        if renew is not None and count % RENEW_CHUNKS == 0:
            renew()
        yield index, data


def _checked_chunks(item, manifest: Manifest, renew=None):
    """(position, data) for each chunk the manifest names, in order, each checked against its SHA-256
    (a stored chunk that does not match is a ValueError, never a silently wrong disk)."""
    for index, data in _stored_chunks(item, manifest, renew):
        position = index * CHUNK_BYTES
        intact = len(data) == min(CHUNK_BYTES, manifest.size_bytes - position)
        if not intact or chunk_sha(data, manifest.naming) != manifest.chunks[index]:
            raise ValueError(f"chunk {index} of the manifest does not match its stored bytes")
        yield position, data


def manifest_sha256(item, manifest: Manifest) -> str:
    """The SHA-256 of the disk a manifest describes, read from the store without writing it anywhere:
    what a host with no working copy of the replica (another worker's, the web's) can tell of it."""
    whole, hashed_to = hashlib.sha256(), 0
    for position, data in _checked_chunks(item, manifest):
        hash_zeros(whole, position - hashed_to)
        whole.update(data)
        hashed_to = position + len(data)
    hash_zeros(whole, manifest.size_bytes - hashed_to)
    return whole.hexdigest()


def manifests_sweep(item, kept: dict, renew=None) -> None:
    """Delete the manifest objects no kept point needs (`kept`: disk pk -> the kept points' cycles); a
    pruned point's manifest stays while a kept one is built on it. `renew` keeps the caller's lease."""
    objects, prefix = store(), item_prefix(item)
    needed = set()
    for disk_pk, cycles in kept.items():
        for cycle in cycles:
            needed.update(manifest_name(prefix, disk_pk, chained) for chained in manifest_chain(item, disk_pk, cycle))
    for name in list(objects.names(f"{prefix}/manifests/")):
        if name not in needed:
            if renew is not None:
                renew()
            objects.delete(name)


def chunks_sweep(item, renew=None) -> int:
    """Delete the item's packs and chunk objects that no remaining manifest object names; returns how
    many went. Run under the item's apply lease (see the module's note), which `renew` keeps before each
    deletion: a pack deleted after the lease lapsed could be one a new holder's point has just named. A
    pack any manifest names stays whole (chunk_packs.py)."""
    objects, prefix = store(), item_prefix(item)
    named: set[str] = set()
    for name in objects.names(f"{prefix}/manifests/"):
        try:
            header, entries, places = _decode(objects.get(name))
        except ObjectMissing:
            continue  # deleted since it was listed: it names nothing any more
        except ValueError as error:
            # What an unreadable manifest names is unknown: deleting "unnamed" objects now could take a
            # kept point's. Nothing is swept until it is repaired or pruned.
            logger.warning("Item %s: manifest %s is unreadable (%s); chunks not swept", item.pk, name, error)
            return 0
        named.update(pack_name(prefix, bytes.fromhex(text)) for text in header.get("packs", ()))
        named.update(
            chunk_name(prefix, sha, _naming(header))
            for index, sha in entries.items()
            if sha != GONE and index not in places
        )
    deleted = 0
    for name in [*objects.names(f"{prefix}/packs/"), *objects.names(f"{prefix}/chunks/")]:
        if name not in named:
            if renew is not None:
                renew()
            objects.delete(name)
            deleted += 1
    return deleted


def item_points_delete(item) -> None:
    """Every manifest and chunk of the item (its replication stopped)."""
    objects = store()
    for name in list(objects.names(f"{item_prefix(item)}/")):
        objects.delete(name)


def stored_bytes(item) -> int:
    """What the item's points take in the store: every pack, chunk and manifest, each counted once."""
    objects = store()
    return sum(objects.size(name) for name in objects.names(f"{item_prefix(item)}/"))


def merge_dirty(current, written: set[int]):
    """A disk's dirty chunks after `written` more: None (every chunk) stays None and a long list becomes it."""
    if current is None:
        return None
    if not written:
        return current
    merged = sorted(set(current) | written)
    return None if len(merged) > DIRTY_LIMIT else merged
