"""The target quota fault through the official Site Recovery SDK client: injected on the target
subscription and region through `/emulator/faults`, Migrate and Test migrate fail with Compute's
`OperationNotAllowed` quota message (the size's family, the region, limit, usage and what more is
needed), the job's task list shows the failed step, and once cleared Test migrate succeeds."""

from __future__ import annotations

import json
import re

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.recoveryservicessiterecovery import models as asr_models

from tests.azure_clients import site_recovery_client
from tests.hub_scripts import in_hub
from tests.hubs import CONTOSO, unique
from tests.test_arm_migration_verbs_sdk import CONTAINER, FABRIC, REMOVE_BLOCKER, RG, SET_UP, VNETS

pytestmark = pytest.mark.live
REGION = f"/subscriptions/{CONTOSO}/locations/westeurope"


@pytest.fixture
def replicating(live_hub):
    server = unique("quota")
    output = in_hub(live_hub, SET_UP, project=unique("quota")[:20], server=server, ip="192.168.7.20")
    in_hub(live_hub, REMOVE_BLOCKER, vm=f"{server}-Test")
    return {"server": server, **json.loads(output.strip().splitlines()[-1])}


def test_quota_fault_fails_migrate_and_test_migrate_with_operation_not_allowed(live_hub, replicating):
    vault, name = replicating["vault"], replicating["item"]
    item_args = (RG, vault, FABRIC, CONTAINER, name)
    asr = site_recovery_client(live_hub, "admin@contoso.com", CONTOSO)
    injected = live_hub.api(
        "POST",
        "/emulator/faults",
        json={"properties": {"kind": "targetQuotaExceeded", "scope": REGION, "parameters": {"limit": 1}}},
    )
    assert injected.status_code == 201, injected.text
    fault = injected.json()["name"]
    try:
        item = asr.replication_migration_items.get(*item_args)
        size = item.properties.provider_specific_details["targetVmSize"]
        assert "78604" in [error.error_code for error in item.properties.health_errors]

        migrate = asr_models.MigrateInput(
            properties=asr_models.MigrateInputProperties(
                provider_specific_details=asr_models.VMwareCbtMigrateInput(perform_shutdown="false")
            )
        )
        with pytest.raises(HttpResponseError) as failed:
            asr.replication_migration_items.begin_migrate(*item_args, migrate).result()
        assert failed.value.error.code == "OperationNotAllowed"
        message = failed.value.error.message
        assert "Operation could not be completed as it results in exceeding approved" in message
        assert "Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope" in message
        # The region's usage counts the VMs other tests on this shared hub made there: any number, but said.
        assert re.search(r"Current Limit: 1, Current Usage: \d+, Additional Required: \d+", message), message
        assert asr.replication_migration_items.get(*item_args).properties.migration_state == "Replicating"

        test_migrate = {
            "properties": {"providerSpecificDetails": {"instanceType": "InMageRcm", "networkId": f"{VNETS}/vnet-test"}}
        }
        with pytest.raises(HttpResponseError) as failed:
            asr.replication_migration_items.begin_test_migrate(*item_args, test_migrate).result()
        assert failed.value.error.code == "OperationNotAllowed"

        jobs = asr.replication_jobs.list(RG, vault, filter=f"targetObjectName eq '{replicating['server']}'")
        failed_jobs = {job.properties.scenario_name: job for job in jobs if job.properties.state == "Failed"}
        assert set(failed_jobs) >= {"Migrate", "TestMigrate"}
        job = asr.replication_jobs.get(RG, vault, failed_jobs["TestMigrate"].name)
        failed_tasks = [task for task in job.properties.tasks if task.state == "Failed"]
        assert [task.name for task in failed_tasks] == ["CreateTestVirtualMachine"]
        detail = job.properties.errors[0].service_error_details
        assert detail.code == "OperationNotAllowed" and size in detail.possible_causes
    finally:
        cleared = live_hub.api("DELETE", f"/emulator/faults/{fault}")
        assert cleared.status_code == 200

    tested = asr.replication_migration_items.begin_test_migrate(*item_args, test_migrate).result()
    assert tested.properties.test_migrate_state == "TestMigrationSucceeded"
    assert "78604" not in [error.error_code for error in tested.properties.health_errors or []]
