"""The one storage interface for replication data: cache-storage batches, replica chunks and the
manifests of recovery points. Names are `container/blob`, the shape of an Azure storage account, so
the same names work on every backend.

Backends: `local` (the embedded default: files under REPLICATION_DIR/storage) and `azure` (Azure Blob
Storage through azure-storage-blob, Azurite in the tests: hub/object_store_azure.py) and `s3` (an
S3-compatible store through boto3, moto's server in the tests: hub/object_store_s3.py). A backend is
one module with these eight methods, chosen by OBJECT_STORE.

Writes are whole-object and atomic: a reader sees the old object or the new one, never half of one,
so a worker killed mid-write leaves nothing a later reader can trip over.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.signals import setting_changed

from hub.object_names import ObjectMissing, split_name

__all__ = ["LocalStore", "ObjectMissing", "ObjectStore", "put_range", "put_ranges", "split_name", "store"]


class ObjectStore(Protocol):
    def put(self, name: str, data: bytes | memoryview) -> None: ...

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes: ...

    def exists(self, name: str) -> bool: ...

    def delete(self, name: str) -> None: ...

    def names(self, prefix: str) -> Iterator[str]: ...

    def size(self, name: str) -> int: ...

    def containers(self, prefix: str = "") -> list[str]: ...

    def delete_container(self, container: str) -> None: ...


class LocalStore:
    """Objects as files under one directory; a temporary name and a rename make each write atomic."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._batching = threading.local()
        # Folders known to exist: a recovery point puts tens of thousands of chunks into 256 folders, and
        # a mkdir per put was a tenth of its cost. A folder removed behind our back (delete_container, a
        # test's rmtree) is made again when a write into it fails.
        self._folders: set[str] = set()

    @contextmanager
    def batched_writes(self):
        """Puts made inside (by this thread) skip their own fsyncs; on the way out one sync of the
        store's filesystem makes them all durable at once. For many small objects that must be durable
        together before one refers to them (a recovery point's chunks, then its manifest)."""
        with self.unsynced_writes():
            yield
        self._sync_filesystem()

    @contextmanager
    def unsynced_writes(self):
        """Puts made inside (by this thread) skip their fsyncs and nothing syncs on the way out: the
        caller makes them durable later, by a batched_writes (its sync covers the whole filesystem)
        before anything refers to them. For chunks cut while a full cycle is applied, whose point
        comes only at the cycle's end."""
        previous = getattr(self._batching, "active", False)
        self._batching.active = True
        try:
            yield
        finally:
            self._batching.active = previous

    def _sync_filesystem(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.root, os.O_RDONLY)
        try:
            if _libc_syncfs(descriptor) != 0:
                os.sync()
        finally:
            os.close(descriptor)

    def path(self, name: str) -> Path:
        split_name(name)
        return self.root / name

    def put(self, name: str, data: bytes | memoryview) -> None:
        """Write beside the object, fsync, rename over it, fsync the folder: once put returns the object
        survives a crash (a batch is acknowledged to the agent only then), and two writers of one name
        each leave a whole object, never one cut by the other. Inside batched_writes the fsyncs are left
        to its one sync at the end."""

        def write(descriptor: int) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]

        self._put(name, write)

    def put_range(self, name: str, source: int, offset: int, length: int) -> None:
        """put of the bytes offset..offset + length of the file open as `source`, copied by the kernel
        (copy_file_range) rather than read into Python and written out again."""
        self.put_ranges(name, source, [(offset, length)])

    def put_ranges(self, name: str, source: int, ranges) -> None:
        """put of the file's byte ranges (offset, length), one after another, as one object: a kernel
        copy per range (a recovery point's pack of chunks: one file, not one per chunk)."""

        def write(descriptor: int) -> None:
            for offset, length in ranges:
                _copy_range(name, source, descriptor, offset, length)

        self._put(name, write)

    def _put(self, name: str, write) -> None:
        split_name(name)
        target = os.path.join(self.root, name)
        durable_now = not getattr(self._batching, "active", False)
        folder_name, leaf = os.path.split(target)
        if folder_name not in self._folders:
            os.makedirs(folder_name, exist_ok=True)
            self._folders.add(folder_name)
        partial = os.path.join(folder_name, f".{leaf}.{uuid.uuid4().hex[:8]}.partial")
        try:
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:  # the folder went since it was made
            os.makedirs(folder_name, exist_ok=True)
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            write(descriptor)
            if durable_now:
                os.fsync(descriptor)
        except BaseException:
            os.close(descriptor)
            os.unlink(partial)
            raise
        os.close(descriptor)
        os.replace(partial, target)
        if durable_now:
            folder = os.open(folder_name, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        try:
            with open(self.path(name), "rb") as handle:
                handle.seek(offset)
                return handle.read() if length is None else handle.read(length)
        except FileNotFoundError as missing:
            raise ObjectMissing(name) from missing

    def exists(self, name: str) -> bool:
        split_name(name)
        return os.path.isfile(os.path.join(self.root, name))

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def names(self, prefix: str) -> Iterator[str]:
        """Every object whose name starts with `prefix`, in name order."""
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".partial"):
                name = path.relative_to(self.root).as_posix()
                if name.startswith(prefix):
                    yield name

    def size(self, name: str) -> int:
        try:
            return self.path(name).stat().st_size
        except FileNotFoundError as missing:
            raise ObjectMissing(name) from missing

    def containers(self, prefix: str = "") -> list[str]:
        """The containers (top-level folders) whose names start with `prefix`."""
        if not self.root.is_dir():
            return []
        return sorted(path.name for path in self.root.iterdir() if path.is_dir() and path.name.startswith(prefix))

    def delete_container(self, container: str) -> None:
        split_name(f"{container}/-")
        shutil.rmtree(self.root / container, ignore_errors=True)


def _copy_range(name: str, source: int, descriptor: int, offset: int, length: int) -> None:
    """Append the source's bytes offset..offset + length to `descriptor`: copy_file_range, or a read and
    a write where the file system (or kernel) cannot."""
    done = 0
    while done < length:
        try:
            copied = os.copy_file_range(source, descriptor, length - done, offset + done)
        except OSError:
            copied = 0
        if not copied:
            data = os.pread(source, length - done, offset + done)
            if not data:
                raise ValueError(f"{name}: the source ends before {offset + length}")
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            copied = len(data)
        done += copied


def _libc_syncfs(descriptor: int) -> int:
    """syncfs(2): flush one filesystem, not every one as os.sync does; -1 where libc lacks it."""
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs(descriptor)
    except (AttributeError, OSError):
        return -1


def batched_writes(objects: ObjectStore):
    """The backend's batched_writes where it has one (local files); elsewhere each put is already durable
    when it returns (Blob, S3), so nothing to batch."""
    batching = getattr(objects, "batched_writes", None)
    return batching() if batching is not None else nullcontext()


def put_range(objects: ObjectStore, name: str, descriptor: int, offset: int, length: int) -> None:
    """Put the bytes offset..offset + length of an open file: copied in the kernel where the backend can
    (local files), read and sent elsewhere (Blob, S3)."""
    put_ranges(objects, name, descriptor, [(offset, length)])


def put_ranges(objects: ObjectStore, name: str, descriptor: int, ranges) -> None:
    """Put an open file's byte ranges (offset, length), joined in order, as one object: copied in the
    kernel where the backend can (local files), read and sent in one request elsewhere (Blob, S3)."""
    copying = getattr(objects, "put_ranges", None)
    if copying is not None:
        copying(name, descriptor, ranges)
        return
    pieces = []
    for offset, length in ranges:
        data = os.pread(descriptor, length, offset)
        if len(data) < length:
            raise ValueError(f"{name}: the source ends before {offset + length}")
        pieces.append(data)
    objects.put(name, pieces[0] if len(pieces) == 1 else b"".join(pieces))


def unsynced_writes(objects: ObjectStore):
    """The backend's unsynced_writes where it has one (local files; a later batched_writes makes them
    durable); elsewhere each put is already durable when it returns."""
    unsynced = getattr(objects, "unsynced_writes", None)
    return unsynced() if unsynced is not None else nullcontext()


@cache
def store() -> ObjectStore:
    """The configured backend, one per process."""
    if settings.OBJECT_STORE == "local":
        return LocalStore(settings.REPLICATION_DIR / "storage")
    if settings.OBJECT_STORE == "azure":
        from hub.object_store_azure import AzureBlobStore  # azure-storage-blob is loaded only when chosen

        return AzureBlobStore(settings.AZURE_STORAGE_CONNECTION_STRING)
    if settings.OBJECT_STORE == "s3":
        from hub.object_store_s3 import S3Store  # boto3: the optional `s3` extra

        return S3Store(
            settings.S3_ENDPOINT_URL, settings.S3_ACCESS_KEY_ID, settings.S3_SECRET_ACCESS_KEY, settings.S3_REGION
        )
    raise ValueError(f"OBJECT_STORE={settings.OBJECT_STORE!r} is not a known backend; use 'local', 'azure' or 's3'")


STORE_SETTINGS = {"OBJECT_STORE", "REPLICATION_DIR", "AZURE_STORAGE_CONNECTION_STRING", "S3_ENDPOINT_URL"}


def _forget_store(setting: str, **_) -> None:
    """Tests that change a setting the backend is made from (pytest-django's `settings`) get a new one."""
    if setting in STORE_SETTINGS:
        store.cache_clear()


setting_changed.connect(_forget_store)
