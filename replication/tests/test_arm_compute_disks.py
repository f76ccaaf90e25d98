"""What migration leaves readable through ARM (replication.arm_compute, replication.arm), by DRF's test
client over a replicating server (test_arm_migration_verbs.py's `item`): the protectable item is
Protected while the server replicates, the migrated VM's managed disks resolve (GET and lists), the
item names them as targetManagedDiskId, and the group's `resources` list shows VMs, NICs and disks."""

from __future__ import annotations

import pytest

from jobs.models import State
from replication.tests.test_arm_migration_verbs import (
    RG_PATH,
    SUB,
    VMS,
    client_for,
    get,
    item,
    job_of,
    migrate_body,
    post,
    properties,
)
from replication.tests.test_migrate import ready, run  # noqa: F401 (`ready` is a fixture)

pytestmark = pytest.mark.django_db
__all__ = ["item"]  # the fixture, imported for pytest

DISKS = f"{RG_PATH}/providers/Microsoft.Compute/disks"


def protectable(client, item) -> dict:
    container = item.path.split("/replicationMigrationItems/")[0]
    return get(client, f"{container}/replicationProtectableItems/{item.item.server_id}").json()["properties"]


def test_a_replicating_server_is_protected_and_its_migrated_disks_resolve(item):
    client = client_for()
    shown = protectable(client, item)
    assert (shown["protectionStatus"], shown["replicationProtectedItemId"]) == ("Protected", item.path)
    before = properties(client, item)["providerSpecificDetails"]["protectedDisks"]
    assert [disk["targetManagedDiskId"] for disk in before] == [None]

    migrated = post(client, f"{item.path}/migrate", migrate_body(performShutdown="false"))
    assert run(job_of(migrated)).state == State.SUCCEEDED
    vm = get(client, f"{VMS}/web01").json()
    disk_id = vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
    assert disk_id == f"{DISKS}/web01-disk0"
    after = properties(client, item)["providerSpecificDetails"]["protectedDisks"]
    assert [disk["targetManagedDiskId"] for disk in after] == [disk_id]

    disk = get(client, disk_id).json()
    assert (disk["id"], disk["name"], disk["type"]) == (disk_id, "web01-disk0", "Microsoft.Compute/disks")
    assert (disk["managedBy"], disk["sku"]) == (vm["id"], {"name": "StandardSSD_LRS", "tier": "Standard"})
    assert disk["properties"]["diskSizeGB"] == 1 and disk["properties"]["diskState"] == "Attached"
    assert disk["properties"]["timeCreated"] == vm["properties"]["timeCreated"]
    assert disk["properties"]["osType"] == "Linux"
    assert get(client, f"{DISKS}/WEB01-DISK0").json()["id"] == disk_id, "names are case-insensitive"
    by_group = get(client, DISKS).json()["value"]
    everywhere = get(client, f"/subscriptions/{SUB}/providers/Microsoft.Compute/disks").json()["value"]
    assert [d["id"] for d in by_group] == [d["id"] for d in everywhere] == [disk_id]

    listed = {(r["type"], r["name"]) for r in get(client, f"{RG_PATH}/resources").json()["value"]}
    assert {
        ("Microsoft.Compute/virtualMachines", "web01"),
        ("Microsoft.Network/networkInterfaces", "web01-nic"),
        ("Microsoft.Compute/disks", "web01-disk0"),
    } <= listed
    in_subscription = get(client, f"/subscriptions/{SUB}/resources").json()["value"]
    assert disk_id in {r["id"] for r in in_subscription}


def test_disk_refusals_are_arm_envelopes(item):
    client = client_for()
    missing = get(client, f"{DISKS}/nosuchdisk")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "ResourceNotFound")
    assert "Microsoft.Compute/disks/nosuchdisk" in missing.json()["error"]["message"]
    nowhere = get(client, f"/subscriptions/{SUB}/resourceGroups/rg-nowhere/providers/Microsoft.Compute/disks")
    assert nowhere.json()["error"]["code"] == "ResourceGroupNotFound"
    migrated = post(client, f"{item.path}/migrate", migrate_body(performShutdown="false"))
    assert run(job_of(migrated)).state == State.SUCCEEDED
    written = client.put(f"{DISKS}/web01-disk0?api-version=1", {"location": "westeurope"}, format="json")
    assert written.status_code == 405 and written.json()["error"]["code"]
    fabrikam = client_for("admin@fabrikam.com")
    assert get(fabrikam, f"{DISKS}/web01-disk0").status_code == 404
    assert get(fabrikam, f"/subscriptions/{SUB}/resources").status_code == 404
    other = get(fabrikam, "/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Compute/disks")
    assert other.json() == {"value": []}
