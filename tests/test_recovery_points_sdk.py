"""Recovery-point history through the official Site Recovery SDK client, unmodified, against a live
hub: migration_recovery_points list and get show both of an item's points, and testMigrate and migrate
with the older point's recoveryPointId build VMs whose disk SHA-256 is the source's at that point.

The item's two points come from the in-process batch encoder on the live hub, as in
test_portal_recovery_points.py (one full cycle, then a delta cycle changing the first block)."""

from __future__ import annotations

import json

import pytest

from tests.azure_clients import site_recovery_client
from tests.hubs import CONTOSO, unique
from tests.recovery_points import RG, migrations_from_point_hold
from tests.test_portal_migration import SET_UP_REPLICATING_SERVER
from tests.test_portal_recovery_points import SECOND_POINT

pytestmark = pytest.mark.live

NAMES = """
from projects import services as project_services
print(json.dumps({"vault": project_services.project_vault(project).name, "name": str(item.server_id)}))
"""


@pytest.fixture
def two_points(live_hub):
    project, server = unique("rpsdk")[:20], unique("app")
    script = SET_UP_REPLICATING_SERVER.format(project=project, server=server) + SECOND_POINT + NAMES
    lines = live_hub.manage("shell", "-c", script).strip().splitlines()
    return {"server": server, **json.loads(lines[-2]), **json.loads(lines[-1])}


def test_points_list_get_and_migrating_from_an_older_point_through_the_sdk(live_hub, two_points):
    server = two_points["server"]
    item_args = (RG, two_points["vault"], "migrate-fabric", "migrate-container", two_points["name"])
    asr = site_recovery_client(live_hub, "admin@contoso.com", CONTOSO)

    points = list(asr.migration_recovery_points.list_by_replication_migration_items(*item_args))
    assert len(points) == 2
    newest, older = points  # newest first
    assert older.properties.recovery_point_time < newest.properties.recovery_point_time
    assert {point.properties.recovery_point_type for point in points} == {"CrashConsistent"}
    got = asr.migration_recovery_points.get(*item_args, older.name)
    assert got.id == older.id and got.properties.recovery_point_time == older.properties.recovery_point_time
    item = asr.replication_migration_items.get(*item_args)
    assert item.properties.provider_specific_details["lastRecoveryPointId"] == newest.id

    assert two_points["first_sha"] != two_points["latest_sha"]
    migrations_from_point_hold(live_hub, asr, item_args, older.id, server, two_points["first_sha"])
