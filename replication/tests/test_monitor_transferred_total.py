"""MigrationItem.transferred_total, the sort key of Replicating machines' "Data transferred": kept by
the disks' triggers (migration 0015_monitor_transferred_total) through every way a disk is written."""

from __future__ import annotations

import pytest
from django.db.models import F

from replication import monitoring as monitor
from replication.models import MigrationItem, MigrationState, ProtectedDisk
from replication.status import item_status
from replication.tests.conftest import finalized_appliance, migration_project
from replication.tests.test_monitor import GIB, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(django_capture_on_commit_callbacks):
    project = migration_project(django_capture_on_commit_callbacks, "totals")
    finalized_appliance(project)
    return project


def total(item) -> int:
    return MigrationItem.objects.values_list("transferred_total", flat=True).get(pk=item.pk)


def test_the_total_follows_every_write_of_the_included_disks(project):
    item = make_item(
        project,
        "app01",
        disks=[
            {"diskId": "disk0", "sizeBytes": 4 * GIB, "isOsDisk": True, "transferred": 3 * GIB},
            {"diskId": "disk1", "sizeBytes": 4 * GIB, "transferred": GIB},
            {"diskId": "disk2", "sizeBytes": 4 * GIB, "included": False, "transferred": 5 * GIB},
        ],
    )
    assert total(item) == 4 * GIB  # the excluded disk does not count

    # An upload adds to one disk (a conditional update, as the data path does, or a save).
    ProtectedDisk.objects.filter(item=item, disk_id="disk1").update(transferred_bytes=F("transferred_bytes") + 100)
    disk0 = item.disks.get(disk_id="disk0")
    disk0.transferred_bytes += 20
    disk0.save(update_fields=["transferred_bytes"])
    assert total(item) == 4 * GIB + 120

    # Including and excluding a disk, and deleting one.
    ProtectedDisk.objects.filter(item=item, disk_id="disk2").update(included=True)
    assert total(item) == 9 * GIB + 120
    ProtectedDisk.objects.filter(item=item, disk_id="disk0").update(included=False)
    assert total(item) == 6 * GIB + 100
    item.disks.filter(disk_id="disk1").delete()
    assert total(item) == 5 * GIB

    # The total is what the row shows.
    fresh = monitor.rows(MigrationItem.objects.filter(pk=item.pk)).get()
    assert item_status(fresh, fresh.created_at).transferred_bytes == total(item)


def test_saving_an_item_read_earlier_keeps_what_its_disks_added_since(project):
    item = make_item(project, "db01", disks=[{"diskId": "disk0", "sizeBytes": 4 * GIB, "transferred": GIB}])
    stale = MigrationItem.objects.get(pk=item.pk)
    ProtectedDisk.objects.filter(item=item).update(transferred_bytes=2 * GIB)
    stale.migration_state = MigrationState.MIGRATION_IN_PROGRESS
    stale.save()
    assert total(item) == 2 * GIB
    assert MigrationItem.objects.get(pk=item.pk).migration_state == MigrationState.MIGRATION_IN_PROGRESS


@pytest.mark.django_db(transaction=True)
def test_a_restored_snapshot_keeps_the_saved_totals_and_the_triggers_work_after(
    django_capture_on_commit_callbacks, tmp_path
):
    # The snapshot's rows carry their totals: the disks' triggers must not add them up again on restore.
    from hub import snapshot_database

    project = migration_project(django_capture_on_commit_callbacks, "restored")
    finalized_appliance(project)
    item = make_item(project, "db01", disks=[{"diskId": "disk0", "sizeBytes": 4 * GIB, "transferred": GIB}])
    dump = tmp_path / "database.sql"
    snapshot_database.dump(dump)
    ProtectedDisk.objects.filter(item=item).update(transferred_bytes=3 * GIB)
    assert total(item) == 3 * GIB
    snapshot_database.load(dump)
    assert total(item) == GIB
    ProtectedDisk.objects.filter(item=item).update(transferred_bytes=2 * GIB)
    assert total(item) == 2 * GIB
