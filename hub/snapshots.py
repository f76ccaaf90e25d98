"""Snapshots of the whole hub, to rewind a rehearsal: save, restore, list, delete, and reset to the demo.

A snapshot is a folder under SNAPSHOT_DIR (default DATA_DIR/snapshots): every row of the database
(hub/snapshot_database.py), every object of the replication object store and the working files under
REPLICATION_DIR (hub/snapshot_storage.py), and a manifest.

Consistency. The database copy is one transaction's view, but the files are copied after it, so
nothing may change replicas or delete stored objects between the two. A save or restore therefore
*holds* the hub (a file beside the snapshots every process on this host sees, and with a Blob or S3
backend an object in the store, which workers on other hosts see) and waits until it is quiet:
- domains register a participant (`register_participant`) that says what is still busy: replication
  (replication/snapshot_hooks.py) names items whose apply lease is live, and its lease_take refuses
  while the hub is held; jobs names jobs a live worker has claimed, and the runner queues a run for
  later instead of claiming while held. A save waits at most QUIET_SECONDS for them, then says who is
  busy and changes nothing.
- Uploads keep arriving during a save: their batch rows are in the copy or not, and a blob whose row
  missed the database copy is an orphan no row names (harmless); a blob is deleted only by applying
  (pruning) or jobs, both paused. Hence the order: database first, then files.
- A restore also refuses every request while it runs (RestoreInProgressMiddleware: 503, Retry-After),
  so no upload or page writes into tables being replaced.

Reconciling what runs outside the hub. Appliances and agents hold state the hub forgot (or never had):
sequences it will not see again, block hashes of cycles it no longer holds. After a restore (or reset)
the hub takes a new *epoch* (a random id in DATA_DIR/hub-epoch, outside the database so the restored
rows stay byte-identical). The appliance's heartbeat answer carries it; the appliance passes it to its
agents; an agent whose state belongs to another epoch drops it and starts from what the hub says it
holds (its nextSequence and nextCycle), resending each disk in a full cycle. Every upload carries the
epoch its batch was made in, and the hub refuses another epoch's batch (409 HubEpochChanged), so no
batch of the old timeline lands in the new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import close_old_connections
from django.http import JsonResponse

from hub import snapshot_database, snapshot_storage
from hub.object_store import ObjectMissing, store

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
NAME_RULE = "1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_SNAPSHOTS = 100
# How long a save or restore waits for applies and jobs under way to finish.
QUIET_SECONDS = 60.0
# A restore lets requests already past RestoreInProgressMiddleware finish before it replaces anything.
REQUEST_DRAIN_SECONDS = 2.0
# A hold older than this is a save or restore that died (on another host: on this one a dead holder's
# hold is seen at once): it no longer pauses anything.
HOLD_STALE_SECONDS = 3600.0
# With a shared object store, other hosts read the hold object at most this often (a page request asks
# whether a restore runs); the holder waits as long before it looks for work under way.
SHARED_HOLD_CACHE_SECONDS = 1.0
MANIFEST = "manifest.json"


class SnapshotError(Exception):
    """A refusal with an ARM-style code and HTTP status; the message says what to do."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# Participants: what domains tell the platform


@dataclass(frozen=True)
class Participant:
    busy: Callable[[], str] | None  # "" when quiet, else what is still writing (for the error message)
    after_restore: Callable[[], None] | None  # after the rows and files are back, before the hold ends


_participants: dict[str, Participant] = {}


def register_participant(
    name: str, *, busy: Callable[[], str] | None = None, after_restore: Callable[[], None] | None = None
) -> None:
    _participants[name] = Participant(busy=busy, after_restore=after_restore)


# The hold


def snapshot_dir() -> Path:
    return Path(settings.SNAPSHOT_DIR)


def _hold_path() -> Path:
    return snapshot_dir() / ".hold"


def hold_state() -> dict | None:
    """The save, restore or reset under way ({"operation", "name", "since"}), or None."""
    path = _hold_path()
    try:
        if time.time() - path.stat().st_mtime > HOLD_STALE_SECONDS:
            return _shared_hold()
        state = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return _shared_hold()
    if not isinstance(state, dict) or _holder_died(state):
        return _shared_hold()
    return state


def _shares_store() -> bool:
    """Whether the object store is one every host reaches (Blob, S3): the local backend is this host's."""
    return settings.OBJECT_STORE != "local"


_shared_cache: tuple[float, dict | None] | None = None  # (when read, the hold object's state)


def _shared_hold() -> dict | None:
    """The hold object a save or restore on another host put in the shared store, or None."""
    global _shared_cache
    if not _shares_store():
        return None
    if _shared_cache is None or time.monotonic() - _shared_cache[0] > SHARED_HOLD_CACHE_SECONDS:
        try:
            state = json.loads(store().get(snapshot_storage.HOLD_OBJECT))
        except (ObjectMissing, ValueError):
            state = None
        _shared_cache = (time.monotonic(), state)
    state = _shared_cache[1]
    if not isinstance(state, dict) or _holder_died(state) or _hold_age(state) > HOLD_STALE_SECONDS:
        return None
    return state


def _hold_age(state: dict) -> float:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(state.get("since", ""))).total_seconds()
    except (TypeError, ValueError):
        return HOLD_STALE_SECONDS + 1


def _holder_died(state: dict) -> bool:
    """The holder ran on this host and is gone (killed mid-save, say): its hold pauses nothing. A
    holder on another host sharing DATA_DIR cannot be asked; its hold lapses after HOLD_STALE_SECONDS."""
    pid = state.get("pid")
    if state.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def writes_paused() -> bool:
    """True while a snapshot operation holds the hub: applying and job claiming wait."""
    return hold_state() is not None


def restoring() -> bool:
    state = hold_state()
    return state is not None and state.get("operation") in ("restore", "reset")


@contextmanager
def _hold(operation: str, name: str):
    snapshot_dir().mkdir(parents=True, exist_ok=True)
    path = _hold_path()
    body = json.dumps(
        {"operation": operation, "name": name, "since": _now_text(), "pid": os.getpid(), "host": socket.gethostname()}
    )
    global _shared_cache
    _shared_cache = None
    if (current := _shared_hold()) is not None:  # another host's (best effort: the store has no put-if-absent)
        raise _in_progress(current)
    for _ in range(2):
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            current = hold_state()
            if current is not None:
                raise _in_progress(current) from None
            path.unlink(missing_ok=True)  # a dead operation's: take over
            continue
        with os.fdopen(descriptor, "w") as handle:
            handle.write(body)
        break
    try:
        if _shares_store():
            store().put(snapshot_storage.HOLD_OBJECT, body.encode())
            time.sleep(SHARED_HOLD_CACHE_SECONDS)  # until every host has read it
        _wait_until_quiet()
        yield
    finally:
        if _shares_store():
            store().delete(snapshot_storage.HOLD_OBJECT)
            _shared_cache = None
        path.unlink(missing_ok=True)


def _in_progress(current: dict) -> SnapshotError:
    return SnapshotError(
        409,
        "SnapshotOperationInProgress",
        f"Another snapshot operation ({current.get('operation')} {current.get('name') or ''}) "
        f"is running since {current.get('since')}: try again when it ends.",
    )


def _wait_until_quiet() -> None:
    deadline = time.monotonic() + QUIET_SECONDS
    while True:
        busy = [text for participant in _participants.values() if participant.busy and (text := participant.busy())]
        close_old_connections()
        if not busy:
            return
        if time.monotonic() > deadline:
            raise SnapshotError(
                409,
                "HubBusy",
                f"Waited {QUIET_SECONDS:.0f} s for work under way to finish ({'; '.join(busy)}): try again.",
            )
        time.sleep(0.2)


# The epoch


def _epoch_path() -> Path:
    return Path(settings.DATA_DIR) / "hub-epoch"


_epoch_cache: tuple[int, str] | None = None  # (the file's mtime in ns, its epoch)


def hub_epoch() -> str:
    """The hub's current epoch: it changes at every restore and reset. Read for every upload, so the
    file is read again only when it changed."""
    global _epoch_cache
    path = _epoch_path()
    try:
        changed = path.stat().st_mtime_ns
    except FileNotFoundError:
        return _new_epoch(only_if_missing=True)
    if _epoch_cache is None or _epoch_cache[0] != changed:
        _epoch_cache = (changed, path.read_text().strip())
    return _epoch_cache[1]


def _new_epoch(*, only_if_missing: bool = False) -> str:
    path = _epoch_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    epoch = uuid.uuid4().hex
    staged = path.with_name(f".hub-epoch.{epoch}")
    staged.write_text(epoch)
    if only_if_missing:
        with contextlib.suppress(FileExistsError):
            os.link(staged, path)  # atomic create: two processes starting together agree on one epoch
        staged.unlink()
        return path.read_text().strip()
    os.replace(staged, path)
    return epoch


# The operations


def _check_name(name) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise SnapshotError(400, "InvalidSnapshotName", f"A snapshot name is {NAME_RULE}; got {str(name)[:80]!r}.")
    return name


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def snapshot_list() -> list[dict]:
    """Every complete snapshot's manifest, newest first."""
    root = snapshot_dir()
    if not root.is_dir():
        return []
    found = [
        manifest
        for folder in root.iterdir()
        if folder.is_dir() and NAME_PATTERN.fullmatch(folder.name) and (manifest := _manifest(folder))
    ]
    return sorted(found, key=lambda manifest: manifest.get("createdAt", ""), reverse=True)


def snapshot_get(name: str) -> dict:
    manifest = _manifest(snapshot_dir() / _check_name(name))
    if manifest is None:
        raise SnapshotError(404, "SnapshotNotFound", f"There is no snapshot named {name!r}.")
    return manifest


def snapshot_save(name: str, *, created_by: str = "") -> dict:
    """Save the hub's state as `name` (a new name: delete an old snapshot first to reuse its name)."""
    _check_name(name)
    folder = snapshot_dir() / name
    if folder.exists():
        raise SnapshotError(409, "SnapshotExists", f"A snapshot named {name!r} exists: delete it or pick another name.")
    if len(snapshot_list()) >= MAX_SNAPSHOTS:
        raise SnapshotError(409, "TooManySnapshots", f"The hub keeps at most {MAX_SNAPSHOTS} snapshots: delete one.")
    dump_name = _database_dump_name()
    staging = snapshot_dir() / f".saving-{name}-{uuid.uuid4().hex[:8]}"
    try:
        with _hold("save", name):
            staging.mkdir(parents=True)
            _database(snapshot_database.dump, staging / dump_name)
            file_bytes = snapshot_storage.save_files(staging / "files")
            object_bytes = snapshot_storage.save_objects(staging / "objects")
            manifest = {
                "name": name,
                "createdAt": _now_text(),
                "createdBy": str(created_by)[:254],
                "database": snapshot_database.vendor(),
                "migrations": snapshot_database.applied_migrations(),
                "objectStore": settings.OBJECT_STORE,
                "databaseBytes": (staging / dump_name).stat().st_size,
                "fileBytes": file_bytes,
                "objectBytes": object_bytes,
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
            os.rename(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def snapshot_restore(name: str) -> dict:
    """Put the hub back as it was when `name` was saved, and tell appliances and agents (new epoch)."""
    manifest = snapshot_get(name)
    folder = snapshot_dir() / name
    if manifest.get("database") != snapshot_database.vendor():
        raise SnapshotError(
            409,
            "SnapshotIncompatible",
            f"Snapshot {name!r} holds a {manifest.get('database')} database; this hub runs on "
            f"{snapshot_database.vendor()}.",
        )
    current = snapshot_database.applied_migrations()
    if manifest.get("migrations") != current:
        differ = sorted(set(current) ^ set(manifest.get("migrations") or []))
        raise SnapshotError(
            409,
            "SnapshotIncompatible",
            f"Snapshot {name!r} was saved by a hub with other database migrations ({', '.join(differ[:5])}"
            f"{' ...' if len(differ) > 5 else ''}): restore it with that version.",
        )
    with _hold("restore", name):
        time.sleep(REQUEST_DRAIN_SECONDS)
        _database(snapshot_database.load, folder / _database_dump_name())
        snapshot_storage.restore_files(folder / "files")
        snapshot_storage.restore_objects(folder / "objects")
        _after_restore()
    return {**manifest, "restoredAt": _now_text(), "hubEpoch": hub_epoch()}


def snapshot_reset() -> dict:
    """Back to the demo data `make run` seeds: every row and every replicated byte goes."""
    with _hold("reset", "demo"):
        time.sleep(REQUEST_DRAIN_SECONDS)
        call_command("flush", interactive=False, verbosity=0)
        call_command("seed_demo", verbosity=0)
        empty = snapshot_dir() / ".empty"
        snapshot_storage.restore_files(empty)
        snapshot_storage.restore_objects(empty)
        _after_restore()
    return {"name": "demo", "restoredAt": _now_text(), "hubEpoch": hub_epoch()}


def snapshot_delete(name: str) -> None:
    snapshot_get(name)
    trash = snapshot_dir() / f".deleting-{name}-{uuid.uuid4().hex[:8]}"
    os.rename(snapshot_dir() / name, trash)  # gone from the list at once, however long the removal
    shutil.rmtree(trash, ignore_errors=True)


def _after_restore() -> None:
    _new_epoch()
    for participant in _participants.values():
        if participant.after_restore:
            participant.after_restore()


def _database_dump_name() -> str:
    try:
        return snapshot_database.dump_name()
    except snapshot_database.DatabaseCopyFailed as error:
        raise SnapshotError(409, "SnapshotUnsupported", str(error)) from error


def _database(operation, path: Path) -> None:
    try:
        operation(path)
    except snapshot_database.DatabaseCopyFailed as error:
        raise SnapshotError(503, "SnapshotDatabaseCopyFailed", str(error)) from error


# Requests during a restore


class RestoreInProgressMiddleware:
    """While a restore or reset replaces the tables, every request is answered 503 with Retry-After
    (appliances and agents retry; a browser shows the message), except the liveness probe."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info != "/healthz" and restoring():
            response = JsonResponse(
                {
                    "error": {
                        "code": "HubRestoring",
                        "message": "The hub is being restored from a snapshot; try again in a few seconds.",
                    }
                },
                status=503,
            )
            response["Retry-After"] = "5"
            return response
        return self.get_response(request)
