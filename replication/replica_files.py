"""Where the replication data lives on the hub, and the protocol's content digest of a replica.

The cache storage account holds uploaded batches (`batch_blob_name`, in hub/object_store.py); each
protected disk has one replica (`replica_path`), and a full cycle builds a fresh one beside it
(`building_path`). The digest is the one
docs/replication-protocol.md defines; the agent has its own copy in replication/agent/agent/blocks.py.
Replicas are sparse files: reading one (digest, copy) walks only its data extents.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from django.conf import settings

from hub.object_store import store
from projects.models import MigrationResource
from replication.models import ProtectedDisk

BLOCK_SIZE = 4096
ZERO_BLOCK = bytes(BLOCK_SIZE)


def block_hash(block) -> bytes:
    return hashlib.sha256(block).digest()[:16]


def data_extents(descriptor: int, end: int):
    """(start, stop) of each of the file's data extents below `end`, in order, as the file system reports
    them: a sparse file's holes (and whatever lies past `end`) are skipped."""
    offset = 0
    while offset < end:
        try:
            start = os.lseek(descriptor, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: no data after offset
            return
        if start >= end:
            return
        try:
            stop = min(end, os.lseek(descriptor, start, os.SEEK_HOLE))
        except OSError:
            stop = end
        yield start, stop
        offset = max(stop, start + 1)


def _data_chunks(descriptor: int, end: int, chunk_bytes: int = 4 * 1024 * 1024):
    """(offset, data) for the file's data extents up to `end`, widened to whole blocks, in order and
    without overlap; holes (and whatever lies past them) are left out."""
    widened_to = 0
    for start, stop in data_extents(descriptor, end):
        position = max(widened_to, start - start % BLOCK_SIZE)
        widened_to = min(end, -(-stop // BLOCK_SIZE) * BLOCK_SIZE)
        while position < widened_to:
            data = os.pread(descriptor, min(chunk_bytes, widened_to - position), position)
            if not data:
                return
            yield position, data
            position += len(data)


def digest_blocks(digest, position: int, data: bytes) -> None:
    """Add a chunk's non-zero blocks (position is block-aligned) to a content digest."""
    chunk = memoryview(data)
    for start in range(0, len(chunk), BLOCK_SIZE):
        block = chunk[start : start + BLOCK_SIZE]
        # A memcmp finds zero blocks far cheaper than hashing them.
        zero = data.startswith(ZERO_BLOCK, start) if len(block) == BLOCK_SIZE else not any(block)
        if not zero:
            digest.update(((position + start) // BLOCK_SIZE).to_bytes(8, "little") + block_hash(block))


def file_content_digest(path: Path, size: int) -> str:
    """The protocol's content digest of a replica file, reading only its data extents (a sparse 2 TB
    replica costs its data, not its size). A missing file is an all-zero disk."""
    digest = hashlib.sha256()
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below; the extent walk needs the descriptor)
    except FileNotFoundError:
        digest.update(size.to_bytes(8, "little"))
        return digest.hexdigest()
    with handle:
        descriptor = handle.fileno()
        for position, data in _data_chunks(descriptor, min(size, os.fstat(descriptor).st_size)):
            digest_blocks(digest, position, data)
    digest.update(size.to_bytes(8, "little"))
    return digest.hexdigest()


_account_names: dict = {}  # project id -> its cache storage account's name (set once, at project creation)


def storage_account_name(project) -> str:
    """The project's cache storage account. Asked for every uploaded batch, so a found name is kept."""
    name = _account_names.get(project.pk)
    if name is None:
        account = project.migration_resource(MigrationResource.Kind.STORAGE_ACCOUNT)
        if account is None:
            return f"project-{project.pk}"
        if len(_account_names) > 10_000:
            _account_names.clear()
        name = _account_names[project.pk] = account.name
    return name


def batch_blob_name(disk: ProtectedDisk, sequence: int, account: str) -> str:
    """A new blob (hub/object_store.py's `container/blob`: the cache storage account is the container)
    for one upload of a batch. Each upload gets its own name, so a resent sequence never overwrites the
    blob a stored batch row names (its resend may be split differently)."""
    unique = uuid.uuid4().hex[:12]
    return f"{account}/{disk.item_id}/{disk.pk}/{sequence:012d}.{unique}.batch"


def replicas_dir(item_id) -> Path:
    return settings.REPLICATION_DIR / "replicas" / str(item_id)


def replica_path(disk: ProtectedDisk) -> Path:
    return replicas_dir(disk.item_id) / f"{disk.pk}.img"


def batches_delete(batches) -> None:
    """Delete batch rows (a queryset) and their blobs in the cache storage account."""
    objects = store()
    for blob_name in batches.values_list("blob_name", flat=True):
        objects.delete(blob_name)
    batches.delete()


def local_state_path(disk: ProtectedDisk) -> Path:
    """Beside the replica: the applied sequence this host's working copy reflects. The durable truth is
    the point manifests in the object store; a working copy that is missing, or behind or ahead of the
    disk's applied sequence (another host applied meanwhile), is rebuilt from the latest one."""
    return replica_path(disk).with_suffix(".applied")


def local_sequence(disk: ProtectedDisk) -> int | None:
    """The applied sequence the local working copy holds: None when unknown. A replica from before these
    notes were kept is taken as current; no replica and no note is an empty disk (sequence 0)."""
    try:
        return int(local_state_path(disk).read_text())
    except FileNotFoundError:
        return disk.applied_sequence if replica_path(disk).exists() else 0
    except ValueError:
        return None


def local_sequence_note(disk: ProtectedDisk, sequence: int) -> None:
    path = local_state_path(disk)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".applied-partial")
    partial.write_text(str(sequence))
    os.replace(partial, path)


def building_path(disk: ProtectedDisk) -> Path:
    """A full cycle's replica under construction; it replaces the replica at the cycle's marker."""
    return replica_path(disk).with_suffix(".building")


def sparse_copy_with_digests(source: Path, target: Path, size: int, *, sha256: bool) -> tuple[str, str]:
    """Copy the source's data extents into a new sparse target, reading the source once, and return the
    target's SHA-256 and content digest (as `sparse_write_with_digests`). A missing source is an
    all-zero disk."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as writer:
        try:
            reader = open(source, "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            return sparse_write_with_digests(writer, (), size, sha256=sha256)
        with reader:
            descriptor = reader.fileno()
            pieces = _data_chunks(descriptor, min(size, os.fstat(descriptor).st_size), 8 * 1024**2)
            return sparse_write_with_digests(writer, pieces, size, sha256=sha256)


def sparse_write_with_digests(writer, pieces, size: int, *, sha256: bool) -> tuple[str, str]:
    """Write (position, data) pieces, block-aligned and in ascending order, into `writer` (a new file)
    as a sparse disk of `size` bytes, sync it, and return its SHA-256 (its holes hashed as the zeros they
    read as; "" unless asked) and the protocol's content digest, both taken as the data goes by."""
    whole = hashlib.sha256() if sha256 else None
    content = hashlib.sha256()
    hashed_to = 0
    writer.truncate(size)
    for position, data in pieces:
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
    content.update(size.to_bytes(8, "little"))
    return (whole.hexdigest() if whole is not None else ""), content.hexdigest()


_ZEROS = memoryview(bytes(4 * 1024 * 1024))


def hash_zeros(digest, count: int) -> None:
    while count > 0:
        piece = min(count, len(_ZEROS))
        digest.update(_ZEROS[:piece])
        count -= piece


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(8 * 1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
