"""The migration verbs through the official Site Recovery SDK client, unmodified, against a live hub,
and the VMs they build through ComputeManagementClient and NetworkManagementClient: a test migration
that fails on the job (its error reaches the caller), one that succeeds, its clean-up, a resync, a
migration without shutdown and stop replication (begin_delete), with the refusals a client meets.

How the item gets its recovery point: the real agent -> appliance -> hub data path is still being
finished, so the item is built inside the live hub through `manage.py shell` with Replicate's service
and the in-process batch encoder of replication/tests/encoder.py (`ProcessServer`): one full
cycle of a 1 MiB disk, which the hub stores and applies into a recovery point. Everything the SDK
then drives (the ARM answers, the jobs on the Celery worker, the VMs built from the replica) is the
real hub. Once the real agent replicates end to end, this set-up should use it instead."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

# Through the module: pytest would try to collect classes named Test* imported here.
from azure.mgmt.recoveryservicessiterecovery import models as asr_models

from tests.azure_clients import compute_client, network_client, site_recovery_client
from tests.hub_scripts import A_REPLICATING_SERVER, in_hub
from tests.hubs import CONTOSO, unique

pytestmark = pytest.mark.live

RG = "rg-migrate"
FABRIC, CONTAINER = "migrate-fabric", "migrate-container"
VNETS = f"/subscriptions/{CONTOSO}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks"

# Runs in the live hub's `manage.py shell` with PARAMS (JSON) prepended: a project with its
# resources, a registered appliance, a discovered Linux server replicating into vnet-prod (no test
# network chosen, so the test migration must name one) with one recovery point, and a VM that
# already holds the test VM's name. Prints what the test needs as JSON.
SET_UP = (
    """
import json
import time

from jobs.tests.runs import job_run_to_end
from projects import services as project_services
from projects.models import MigrateProject, ResourceGroup, User, VirtualNetwork
from replication import services
from replication.models import Appliance, MigrationItem, MigrationState, VirtualMachine
from replication.replicate import DiskChoice, ReplicationPlan, ServerPlan, replication_enable
from replication.tests.conftest import issue
from replication.tests.encoder import MIB, ProcessServer, apply, image, send_full

params = json.loads(PARAMS)
admin = User.objects.get(email="admin@contoso.com")
group = ResourceGroup.objects.get(name="rg-migrate")
"""
    + A_REPLICATING_SERVER
    + """item = MigrationItem.objects.get(server=server)
send_full(ProcessServer(project), item, "disk0", image(3, MIB), cycle=1, first_sequence=1)
# The worker applies stored batches too; whoever holds the apply lease does it, so wait for the point.
deadline = time.monotonic() + 20
while item.migration_state != MigrationState.REPLICATING and time.monotonic() < deadline:
    apply(item)
    item.refresh_from_db()
    time.sleep(0.1)
assert item.migration_state == MigrationState.REPLICATING, item.migration_state
VirtualMachine.objects.create(
    resource_group=group, name=params["server"] + "-Test", location="westeurope", size="Standard_B1s", os_type="Linux"
)
vault = project_services.project_vault(project)
print(json.dumps({"vault": vault.name, "item": str(server.pk)}))
"""
)

REMOVE_BLOCKER = """
import json
from replication.models import VirtualMachine

VirtualMachine.objects.filter(name=json.loads(PARAMS)["vm"], migration_item__isnull=True).delete()
"""


@pytest.fixture
def replicating(live_hub):
    server = unique("app")
    output = in_hub(live_hub, SET_UP, project=unique("verbs")[:20], server=server, ip="192.168.7.10")
    return {"server": server, **json.loads(output.strip().splitlines()[-1])}


def test_the_migration_verbs_through_the_sdk(live_hub, replicating):
    server, vault, name = replicating["server"], replicating["vault"], replicating["item"]
    item_args = (RG, vault, FABRIC, CONTAINER, name)
    asr = site_recovery_client(live_hub, "admin@contoso.com", CONTOSO)
    compute = compute_client(live_hub, "admin@contoso.com", CONTOSO)
    network = network_client(live_hub, "admin@contoso.com", CONTOSO)

    item = asr.replication_migration_items.get(*item_args)
    assert item.properties.allowed_operations == ["DisableMigration", "TestMigrate", "Migrate", "StartResync"]
    last_point = item.properties.provider_specific_details["lastRecoveryPointId"]
    test_migrate = {
        "properties": {
            "providerSpecificDetails": {
                "instanceType": "InMageRcm",
                "networkId": f"{VNETS}/vnet-test",
                "recoveryPointId": last_point,
            }
        }
    }

    # A VM already has the test VM's name: the job fails and the poller raises its error.
    with pytest.raises(HttpResponseError) as failed:
        asr.replication_migration_items.begin_test_migrate(*item_args, test_migrate).result()
    assert failed.value.error.code == "TargetVmNameExists"
    assert "Target VM name already exists" in failed.value.error.message
    assert asr.replication_migration_items.get(*item_args).properties.last_test_migration_status == "Failed"
    in_hub(live_hub, REMOVE_BLOCKER, vm=f"{server}-Test")

    tested = asr.replication_migration_items.begin_test_migrate(*item_args, test_migrate).result()
    assert tested.properties.test_migrate_state == "TestMigrationSucceeded"
    assert tested.properties.allowed_operations == ["DisableMigration", "TestMigrateCleanup"]

    # The test VM, through the compute and network clients.
    vm = compute.virtual_machines.get(RG, f"{server}-Test")
    assert vm.tags["migrate-test"] == "true" and vm.tags["migrate-source"] == server
    assert vm.storage_profile.os_disk.managed_disk.storage_account_type == "StandardSSD_LRS"
    assert vm.hardware_profile.vm_size == tested.properties.provider_specific_details["targetVmSize"]
    assert f"{server}-Test" in [v.name for v in compute.virtual_machines.list(RG)]
    assert f"{server}-Test" in [v.name for v in compute.virtual_machines.list_all()]
    expanded = compute.virtual_machines.get(RG, f"{server}-Test", expand="instanceView")
    assert "PowerState/running" in [status.code for status in expanded.instance_view.statuses]
    view = compute.virtual_machines.instance_view(RG, f"{server}-Test")
    assert "PowerState/running" in [status.code for status in view.statuses]
    nic = network.network_interfaces.get(RG, vm.network_profile.network_interfaces[0].id.rsplit("/", 1)[1])
    configuration = nic.ip_configurations[0]
    assert configuration.private_ip_address.startswith("10.20.1.")
    assert configuration.subnet.id == f"{VNETS}/vnet-test/subnets/test"

    # Migrating before the test is cleaned up is not in allowedOperations: 409 at once, no job.
    migrate = asr_models.MigrateInput(
        properties=asr_models.MigrateInputProperties(
            provider_specific_details=asr_models.VMwareCbtMigrateInput(perform_shutdown="false")
        )
    )
    with pytest.raises(ResourceExistsError) as refused:
        asr.replication_migration_items.begin_migrate(*item_args, migrate)
    assert refused.value.error.code == "OperationNotAllowed"

    cleaned = asr.replication_migration_items.begin_test_migrate_cleanup(
        *item_args, {"properties": {"comments": "The app answered."}}
    ).result()
    assert cleaned.properties.test_migrate_state == "None"
    assert cleaned.properties.last_test_migration_status == "Succeeded"
    with pytest.raises(ResourceNotFoundError):
        compute.virtual_machines.get(RG, f"{server}-Test")

    # A recovery point the item does not have is refused at once (the SDK's own VMwareCbt model is read).
    with pytest.raises(HttpResponseError) as older:
        asr.replication_migration_items.begin_test_migrate(
            *item_args,
            asr_models.TestMigrateInput(
                properties=asr_models.TestMigrateInputProperties(
                    provider_specific_details=asr_models.VMwareCbtTestMigrateInput(
                        recovery_point_id=f"{last_point.rsplit('/', 1)[0]}/00000000-0000-0000-0000-000000000000",
                        network_id=f"{VNETS}/vnet-test",
                    )
                )
            ),
        )
    assert older.value.status_code == 400 and older.value.error.code == "RecoveryPointNotFound"

    resynced = asr.replication_migration_items.begin_resync(
        *item_args, {"properties": {"providerSpecificDetails": {"instanceType": "InMageRcm"}}}
    ).result()
    assert resynced.properties.provider_specific_details["resyncRequired"] == "true"

    migrated = asr.replication_migration_items.begin_migrate(*item_args, migrate).result()
    assert migrated.properties.migration_state == "MigrationSucceeded"
    assert migrated.properties.allowed_operations == ["DisableMigration"]
    assert compute.virtual_machines.get(RG, server).tags == {"migrate-source": server}

    # A Reader and another tenant change nothing.
    viewer = site_recovery_client(live_hub, "viewer@contoso.com", CONTOSO)
    with pytest.raises(HttpResponseError) as denied:
        viewer.replication_migration_items.begin_delete(*item_args)
    assert denied.value.status_code == 403 and denied.value.error.code == "AuthorizationFailed"
    fabrikam = compute_client(live_hub, "admin@fabrikam.com", CONTOSO)
    with pytest.raises(ResourceNotFoundError):
        fabrikam.virtual_machines.get(RG, server)

    # Stop replication ("complete the migration"): the poller ends with None; deleting again is a no-op.
    assert asr.replication_migration_items.begin_delete(*item_args, delete_option="NotSpecified").result() is None
    stopped = asr.replication_migration_items.get(*item_args)
    assert stopped.properties.allowed_operations == []
    assert asr.replication_migration_items.begin_delete(*item_args).result() is None
    assert compute.virtual_machines.get(RG, server).name == server, "the migrated VM stays"
    jobs = asr.replication_jobs.list(RG, vault, filter=f"targetObjectName eq '{server}'")
    assert {job.properties.scenario_name for job in jobs} >= {
        "TestMigrate",
        "TestMigrateCleanup",
        "MigrationStartResync",
        "Migrate",
        "DisableMigration",
    }
