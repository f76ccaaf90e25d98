"""Pruning old points deletes manifests and chunks under the item's apply lease, renewing it between
deletions (a very large item's sweep could outlast it), and stops deleting once another worker holds the
lease: a chunk deleted then could be one the new holder's point has just named."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from hub import clock
from hub.object_store import store
from replication import apply_lease, point_manifests
from replication.models import MigrationItem
from replication.recovery_points import points_prune
from replication.tests.test_recovery_point_history import Source, item  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db

# Past MAX_DEPTH the manifest chain is cut, so the points before the cut leave manifests and chunks no
# kept point needs.
ROUNDS = point_manifests.MAX_DEPTH + 2


def expired_points(item) -> None:  # noqa: F811
    policy = item.policy
    policy.recovery_point_history_minutes = 60
    policy.save()
    source = Source(item)
    for _ in range(ROUNDS):
        source.change([3])  # a new version of one chunk each time
    clock.advance(timedelta(minutes=61))


def watched_deletes(monkeypatch, on_delete=None) -> list[str]:
    """The store's deletions of point objects, in order; `on_delete` runs after each, with their count."""
    objects, deleted = store(), []
    delete = objects.delete

    def watched(name: str) -> None:
        delete(name)
        if "/points/" in name:
            deleted.append(name)
            if on_delete is not None:
                on_delete(len(deleted))

    monkeypatch.setattr(objects, "delete", watched)
    return deleted


def test_the_periodic_prune_renews_the_lease_between_deletions(item, monkeypatch):  # noqa: F811
    expired_points(item)
    monkeypatch.setattr(apply_lease, "RENEW_EVERY", timedelta(0))  # renew at every offer
    renewals = []
    renew = apply_lease.lease_renew
    monkeypatch.setattr(apply_lease, "lease_renew", lambda *args: renewals.append(args) or renew(*args))
    deleted = watched_deletes(monkeypatch)
    assert points_prune() == ROUNDS
    assert deleted and len(renewals) == len(deleted), "a renewal before each deletion"
    assert {owner for _, owner in renewals} == {f"prune-{os.getpid()}"}
    assert MigrationItem.objects.get(pk=item.pk).apply_lease_owner == "", "let go after"


def test_a_prune_whose_lease_another_worker_took_stops_deleting(item, monkeypatch):  # noqa: F811
    expired_points(item)
    monkeypatch.setattr(apply_lease, "RENEW_EVERY", timedelta(0))

    def taken_over(count: int) -> None:
        if count == 2:  # the lease lapsed mid-sweep and another worker took it
            MigrationItem.objects.filter(pk=item.pk).update(apply_lease_owner="worker-2")

    deleted = watched_deletes(monkeypatch, taken_over)
    prefix = point_manifests.item_prefix(item)
    before = set(store().names(f"{prefix}/"))
    assert points_prune() == 0  # the rows went, the sweep was cut short: nothing counted
    assert len(deleted) == 2, "nothing deleted once the lease was another's"
    assert set(store().names(f"{prefix}/")) == before - set(deleted)
    assert MigrationItem.objects.get(pk=item.pk).apply_lease_owner == "worker-2", "the new holder keeps it"
