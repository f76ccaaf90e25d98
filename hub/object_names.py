"""What every backend of hub/object_store.py shares: the `container/blob` names and the error for an
object that is not there (here, so that a backend module and the chooser of backends import it
without importing each other)."""

from __future__ import annotations


class ObjectMissing(LookupError):
    """The named object does not exist (never written, or deleted)."""


def split_name(name: str) -> tuple[str, str]:
    """('container', 'blob/path') from 'container/blob/path'; refuses names that climb out."""
    container, _, blob = name.partition("/")
    if not container or not blob or ".." in name.split("/") or name.startswith("/"):
        raise ValueError(f"object name {name!r} must be 'container/blob' with no '..'")
    return container, blob
