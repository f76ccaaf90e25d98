"""Recovery points as manifests of content-addressed chunks: the durable truth of a replica.

A replica disk is cut into CHUNK_BYTES chunks. A chunk holding any data is stored once, named by the
SHA-256 of its bytes; a point's manifest (one per disk per point) lists, for each chunk index that
holds data, that SHA-256. Two points that share a chunk share its object, so storage grows with the
data that changed between points, not with their number. All of it goes through hub/object_store.py,
under the project's cache storage account:

    {account}/points/{item id}/chunks/{sha[:2]}/{sha}
    {account}/points/{item id}/manifests/{disk id}/{cycle:012d}

Chunks are shared within an item only: pruning (which deletes chunks no manifest names) then runs
under the item's apply lease, the same lease that writes the item's manifests, so a sweep can never
delete a chunk a point being recorded has just relied on.

A worker's replica file is a working copy: `restore` rebuilds it (or writes a VM's disk) from a
manifest. Recording a point reads only the chunks written since the previous manifest (the disk's
`dirty_chunks`, kept by the data path as it applies), so a point costs the data changed, once.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from hub.object_store import ObjectMissing, store
from replication.replica_files import digest_blocks, hash_zeros, storage_account_name

CHUNK_BYTES = 1024 * 1024
MANIFEST_MAGIC = b"MHM1"
ENTRY = struct.Struct("<Q32s")  # chunk index, SHA-256 of the chunk's bytes
# Above this many dirty chunks, a disk's list gives way to "every chunk" (None): the list stays small.
DIRTY_LIMIT = 100_000


def item_prefix(item) -> str:
    return f"{storage_account_name(item.project)}/points/{item.pk}"


def chunk_name(prefix: str, sha: bytes) -> str:
    text = sha.hex()
    return f"{prefix}/chunks/{text[:2]}/{text}"


def manifest_name(prefix: str, disk_pk, cycle: int) -> str:
    return f"{prefix}/manifests/{disk_pk}/{cycle:012d}"


@dataclass
class Manifest:
    """One disk at one point: its size and, per chunk index holding data, the chunk's SHA-256."""

    size_bytes: int
    chunks: dict[int, bytes] = field(default_factory=dict)

    def encode(self, **about) -> bytes:
        header = json.dumps({"sizeBytes": self.size_bytes, "chunkBytes": CHUNK_BYTES, **about}).encode()
        entries = b"".join(ENTRY.pack(index, self.chunks[index]) for index in sorted(self.chunks))
        return MANIFEST_MAGIC + len(header).to_bytes(4, "little") + header + entries

    @classmethod
    def decode(cls, data: bytes) -> Manifest:
        if data[:4] != MANIFEST_MAGIC:
            raise ValueError("not a recovery point manifest")
        length = int.from_bytes(data[4:8], "little")
        header = json.loads(data[8 : 8 + length])
        if header.get("chunkBytes") != CHUNK_BYTES:
            raise ValueError(f"manifest chunks of {header.get('chunkBytes')} bytes, not {CHUNK_BYTES}")
        chunks = dict(ENTRY.iter_unpack(memoryview(data)[8 + length :]))
        return cls(header["sizeBytes"], chunks)


def manifest_load(item, disk_pk, cycle: int) -> Manifest | None:
    try:
        return Manifest.decode(store().get(manifest_name(item_prefix(item), disk_pk, cycle)))
    except ObjectMissing:
        return None


def _data_chunk_indexes(descriptor: int, size: int) -> list[int]:
    """The chunk indexes that hold any of the file's data extents (a sparse replica's holes are skipped)."""
    indexes: list[int] = []
    end = min(size, os.fstat(descriptor).st_size)
    offset = 0
    while offset < end:
        try:
            data_start = os.lseek(descriptor, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: no data after offset
            break
        try:
            hole_start = min(end, os.lseek(descriptor, data_start, os.SEEK_HOLE))
        except OSError:
            hole_start = end
        if data_start >= end:
            break
        first, last = data_start // CHUNK_BYTES, (hole_start - 1) // CHUNK_BYTES
        indexes.extend(range(max(first, indexes[-1] + 1 if indexes else 0), last + 1))
        offset = max(hole_start, data_start + 1)
    return indexes


def manifest_write(item, disk, cycle: int, replica: Path, base: Manifest | None, dirty) -> tuple[Manifest, int]:
    """Write the manifest of `disk` at `cycle` from its replica: `base` (the previous point's manifest)
    with the `dirty` chunk indexes read again, or every data chunk when there is no base or dirty is None.
    Returns the manifest and the bytes of new chunks it stored."""
    objects, prefix = store(), item_prefix(item)
    size = disk.size_bytes
    stored = 0
    try:
        handle = open(replica, "rb")  # noqa: SIM115 (closed below; the extent walk needs the descriptor)
    except FileNotFoundError:
        handle = None
    manifest = Manifest(size)
    if handle is not None:
        with handle:
            descriptor = handle.fileno()
            if base is None or dirty is None or base.size_bytes != size:
                indexes = _data_chunk_indexes(descriptor, size)
            else:
                manifest.chunks = dict(base.chunks)
                indexes = sorted(index for index in set(dirty) if index * CHUNK_BYTES < size)
            for index in indexes:
                offset = index * CHUNK_BYTES
                data = os.pread(descriptor, min(CHUNK_BYTES, size - offset), offset)
                if _all_zero(data):
                    manifest.chunks.pop(index, None)
                    continue
                sha = hashlib.sha256(data).digest()
                manifest.chunks[index] = sha
                name = chunk_name(prefix, sha)
                if not objects.exists(name):
                    objects.put(name, data)
                    stored += len(data)
    objects.put(
        manifest_name(prefix, disk.pk, cycle),
        manifest.encode(itemId=str(item.pk), diskId=disk.disk_id, cycle=cycle),
    )
    return manifest, stored


_ZERO_CHUNK = bytes(CHUNK_BYTES)


def _all_zero(data: bytes) -> bool:
    # A memcmp against zeros: far cheaper than looking at the bytes in Python.
    return data == _ZERO_CHUNK if len(data) == CHUNK_BYTES else data == bytes(len(data))


def restore(item, manifest: Manifest, target: Path, *, sha256: bool) -> tuple[str, str]:
    """Write the disk a manifest describes into a new sparse file, and return its SHA-256 (its holes
    hashed as the zeros they read as; "" unless asked) and the protocol's content digest."""
    objects, prefix = store(), item_prefix(item)
    size = manifest.size_bytes
    whole = hashlib.sha256() if sha256 else None
    content = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    hashed_to = 0
    with open(partial, "wb") as writer:
        writer.truncate(size)
        for index in sorted(manifest.chunks):
            position = index * CHUNK_BYTES
            data = objects.get(chunk_name(prefix, manifest.chunks[index]))
            intact = len(data) == min(CHUNK_BYTES, size - position)
            if not intact or hashlib.sha256(data).digest() != manifest.chunks[index]:
                raise ValueError(f"chunk {index} of the manifest does not match its stored object")
            view = memoryview(data)
            while view:
                view = view[os.pwrite(writer.fileno(), view, position + len(data) - len(view)) :]
            if whole is not None:
                hash_zeros(whole, position - hashed_to)
                whole.update(data)
                hashed_to = position + len(data)
            digest_blocks(content, position, data)
        if whole is not None:
            hash_zeros(whole, size - hashed_to)
        writer.flush()
        os.fsync(writer.fileno())
    os.replace(partial, target)
    content.update(size.to_bytes(8, "little"))
    return (whole.hexdigest() if whole is not None else ""), content.hexdigest()


def manifests_delete(item, disk_pks, cycle: int) -> None:
    prefix = item_prefix(item)
    for disk_pk in disk_pks:
        store().delete(manifest_name(prefix, disk_pk, cycle))


def chunks_sweep(item) -> int:
    """Delete the item's chunks that no remaining manifest names; returns how many went. Run under the
    item's apply lease (see the module's note)."""
    objects, prefix = store(), item_prefix(item)
    named: set[str] = set()
    for name in objects.names(f"{prefix}/manifests/"):
        try:
            manifest = Manifest.decode(objects.get(name))
        except (ObjectMissing, ValueError):
            continue
        named.update(chunk_name(prefix, sha) for sha in manifest.chunks.values())
    deleted = 0
    for name in list(objects.names(f"{prefix}/chunks/")):
        if name not in named:
            objects.delete(name)
            deleted += 1
    return deleted


def item_points_delete(item) -> None:
    """Every manifest and chunk of the item (its replication stopped)."""
    objects = store()
    for name in list(objects.names(f"{item_prefix(item)}/")):
        objects.delete(name)


def stored_bytes(item) -> int:
    """What the item's points take in the store: every chunk and manifest, each counted once."""
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
