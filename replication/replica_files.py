"""Where the replication data lives on the hub, and the protocol's content digest of a replica.

The cache storage account holds uploaded batches (`blob_path`); each protected disk has one replica
(`replica_path`), and a full cycle builds a fresh one beside it (`building_path`). The digest is the one
docs/replication-protocol.md defines; the agent has its own copy in replication/agent/agent/blocks.py.
Replicas are sparse files: reading one (digest, copy) walks only its data extents.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from django.conf import settings

from projects.models import MigrationResource
from replication.models import ProtectedDisk

BLOCK_SIZE = 4096
ZERO_BLOCK = bytes(BLOCK_SIZE)


def block_hash(block) -> bytes:
    return hashlib.sha256(block).digest()[:16]


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
        offset = 0
        end = min(size, os.fstat(descriptor).st_size)
        chunk_bytes = 4 * 1024 * 1024
        while offset < end:
            try:
                data_start = os.lseek(descriptor, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after offset
                break
            data_start -= data_start % BLOCK_SIZE
            try:
                hole_start = os.lseek(descriptor, data_start, os.SEEK_HOLE)
            except OSError:
                hole_start = end
            hole_start = min(end, -(-hole_start // BLOCK_SIZE) * BLOCK_SIZE)
            position = data_start
            while position < hole_start:
                length = min(chunk_bytes, hole_start - position)
                data = os.pread(descriptor, length, position)
                chunk = memoryview(data)
                for start in range(0, len(chunk), BLOCK_SIZE):
                    block = chunk[start : start + BLOCK_SIZE]
                    # A memcmp finds zero blocks far cheaper than hashing them.
                    zero = data.startswith(ZERO_BLOCK, start) if len(block) == BLOCK_SIZE else not any(block)
                    if not zero:
                        digest.update(((position + start) // BLOCK_SIZE).to_bytes(8, "little") + block_hash(block))
                position += length
            offset = max(hole_start, offset + BLOCK_SIZE)
    digest.update(size.to_bytes(8, "little"))
    return digest.hexdigest()


def storage_account_name(project) -> str:
    account = project.migration_resource(MigrationResource.Kind.STORAGE_ACCOUNT)
    return account.name if account else f"project-{project.pk}"


def blob_path(disk: ProtectedDisk, sequence: int, account: str) -> Path:
    return settings.REPLICATION_DIR / "storage" / account / str(disk.item_id) / str(disk.pk) / f"{sequence:012d}.batch"


def replicas_dir(item_id) -> Path:
    return settings.REPLICATION_DIR / "replicas" / str(item_id)


def replica_path(disk: ProtectedDisk) -> Path:
    return replicas_dir(disk.item_id) / f"{disk.pk}.img"


def batches_delete(batches) -> None:
    """Delete batch rows (a queryset) and their blobs in the cache storage account."""
    for blob_name in batches.values_list("blob_name", flat=True):
        (settings.REPLICATION_DIR / blob_name).unlink(missing_ok=True)
    batches.delete()


def building_path(disk: ProtectedDisk) -> Path:
    """A full cycle's replica under construction; it replaces the replica at the cycle's marker."""
    return replica_path(disk).with_suffix(".building")


def sparse_copy(source: Path, target: Path, size: int) -> None:
    """Copy only the source's data extents (a sparse 2 TB replica costs its data)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as reader, open(target, "wb") as writer:
        writer.truncate(size)
        descriptor, offset = reader.fileno(), 0
        end = min(size, os.fstat(descriptor).st_size)
        while offset < end:
            try:
                start = os.lseek(descriptor, offset, os.SEEK_DATA)
            except OSError:
                break
            stop = min(end, os.lseek(descriptor, start, os.SEEK_HOLE))
            position = start
            while position < stop:
                chunk = os.pread(descriptor, min(8 * 1024 * 1024, stop - position), position)
                os.pwrite(writer.fileno(), chunk, position)
                position += len(chunk)
            offset = stop
        writer.flush()
        os.fsync(writer.fileno())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(8 * 1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
