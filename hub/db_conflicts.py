"""PostgreSQL's transient refusals of a transaction: a deadlock (40P01) or a serialization failure
(40001). The server rolled the transaction back and nothing of it was kept, so running it again is
safe; they say nothing about the request itself, so they are never a 500.

    for attempt in db_conflicts.attempts():
        with attempt, transaction.atomic():
            ...  # returns from inside the loop once it succeeds

The last attempt's refusal goes on to the caller; the ARM exception handler answers it as a retryable
503 with Retry-After (hub/arm/errors.py), which the appliance and the SDKs retry.

Only where a deadlock can happen: a transaction that holds one row lock while it waits for another.
On the upload and apply path that is the upload's (replication/uploads.py, batch_store: the disk, the
item, the project's transfer sample), and its lease_request runs inside it, so it is retried with it.
The apply lease's other statements (apply_lease.py: take, renew, flag, release, the receipt's mark)
each update one row in autocommit: waiting for that row they hold no other lock, so they can wait but
never be part of a deadlock's cycle, and a retry would be dead code. The heartbeat's stalled-apply
check marks one item per transaction (uploads.apply_stalled) for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import DatabaseError

TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
ATTEMPTS = 3
RETRY_AFTER_SECONDS = 1


def is_transient(error: BaseException | None) -> bool:
    """A deadlock or serialization failure, as Django wraps the driver's error (its cause)."""
    if not isinstance(error, DatabaseError):
        return False
    cause = error.__cause__
    return getattr(cause, "sqlstate", None) in TRANSIENT_SQLSTATES or getattr(cause, "pgcode", None) in (
        TRANSIENT_SQLSTATES
    )


class Attempt:
    """One try: a transient refusal inside it is swallowed (so the loop tries again), except on the last."""

    def __init__(self, last: bool):
        self.last, self.refused = last, False

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if error is not None and not self.last and is_transient(error):
            self.refused = True
            return True
        return False


def attempts(count: int = ATTEMPTS) -> Iterator[Attempt]:
    """Up to `count` tries of a transaction; the next only after a transient refusal of the one before.
    Enter each one outside its transaction.atomic(), so the rollback has happened when it is retried."""
    for index in range(count):
        attempt = Attempt(last=index == count - 1)
        yield attempt
        if not attempt.refused:
            return
