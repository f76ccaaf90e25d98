"""The replication-storage half of a snapshot (hub/snapshots.py): what `object_store.store()` holds,
through its own names()/get()/put()/delete() (so a Blob or chunk backend is snapshotted the same way),
and the working files under REPLICATION_DIR (replicas, replicas being rebuilt, VM disks), copied
sparsely: a 2 TB replica holding 40 GB costs 40 GB.

When the object store is the local backend, its folder lies inside REPLICATION_DIR: it is copied once,
as objects, and left out of the file copy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings

from hub.object_store import ObjectMissing, store

COPY_CHUNK = 8 * 1024 * 1024
# A save or restore under way, for workers on other hosts (hub/snapshots.py); no snapshot holds it.
HOLD_OBJECT = "hub-snapshot-hold/hold"
# Half-written files of a writer that renames when done: what they will become is copied, not them.
TEMPORARY_SUFFIXES = (".part", ".partial")


def _excluded_roots() -> list[Path]:
    roots = [Path(settings.SNAPSHOT_DIR).resolve()]
    local_root = getattr(store(), "root", None)
    if local_root is not None:
        roots.append(Path(local_root).resolve())
    return roots


def _working_files(root: Path):
    """The files under `root` a snapshot holds, as (relative path, path), in name order."""
    if not root.is_dir():
        return
    excluded = _excluded_roots()
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(name for name in subfolders if (here / name).resolve() not in excluded)
        for name in sorted(files):
            if not name.endswith(TEMPORARY_SUFFIXES):
                yield (here / name).relative_to(root), here / name


def save_files(target: Path) -> int:
    """Copy REPLICATION_DIR's working files into `target`; the bytes of data copied."""
    copied = 0
    for relative, path in _working_files(Path(settings.REPLICATION_DIR)):
        try:
            copied += sparse_copy(path, target / relative)
        except FileNotFoundError:
            continue  # gone since it was listed: a temporary file of a writer
    return copied


def restore_files(source: Path) -> None:
    """Make REPLICATION_DIR's working files exactly the snapshot's: extra ones go, the rest are copied."""
    root = Path(settings.REPLICATION_DIR)
    wanted = {relative for relative, _ in _working_files(source)} if source.is_dir() else set()
    for relative, path in list(_working_files(root)):
        if relative not in wanted:
            path.unlink(missing_ok=True)
    for relative in sorted(wanted):
        destination = root / relative
        staged = destination.with_name(f".{destination.name}.snapshot-restore")
        sparse_copy(source / relative, staged)
        os.replace(staged, destination)
    _remove_empty_folders(root)


def save_objects(target: Path) -> int:
    """Copy every object of the store into `target`, one file per name; the bytes copied."""
    objects = store()
    copied = 0
    for name in list(objects.names("")):
        if name == HOLD_OBJECT:
            continue
        try:
            data = objects.get(name)
        except ObjectMissing:
            continue  # deleted since it was listed (a duplicate upload's blob)
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        copied += len(data)
    return copied


def restore_objects(source: Path) -> None:
    """Make the store hold exactly the snapshot's objects."""
    objects = store()
    wanted = (
        {path.relative_to(source).as_posix(): path for path in sorted(source.rglob("*")) if path.is_file()}
        if source.is_dir()
        else {}
    )
    for name in list(objects.names("")):
        if name not in wanted and name != HOLD_OBJECT:
            objects.delete(name)
    for name, path in wanted.items():
        objects.put(name, path.read_bytes())


def sparse_copy(source: Path, target: Path) -> int:
    """Copy a file's data extents into a new file of the same size, leaving its holes as holes; the
    bytes of data copied. The copy is fsynced before it is reported done."""
    target.parent.mkdir(parents=True, exist_ok=True)
    copied = 0
    with open(source, "rb") as reader, open(target, "wb") as writer:
        size = os.fstat(reader.fileno()).st_size
        writer.truncate(size)
        position = 0
        while position < size:
            try:
                data_start = os.lseek(reader.fileno(), position, os.SEEK_DATA)
            except OSError:  # no data after position: the rest is a hole
                break
            hole_start = os.lseek(reader.fileno(), data_start, os.SEEK_HOLE)
            offset = data_start
            while offset < hole_start:
                chunk = os.pread(reader.fileno(), min(COPY_CHUNK, hole_start - offset), offset)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.pwrite(writer.fileno(), view, offset + len(chunk) - len(view)) :]
                offset += len(chunk)
                copied += len(chunk)
            position = max(hole_start, data_start + 1)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copymode(source, target)
    return copied


def _remove_empty_folders(root: Path) -> None:
    excluded = _excluded_roots()
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        path = Path(folder)
        resolved = path.resolve()
        inside_excluded = any(resolved == other or other in resolved.parents for other in excluded)
        if path != root and not inside_excluded and not any(path.iterdir()):
            path.rmdir()
