"""Replication through the official Site Recovery SDK client, unmodified, against a live hub: a real
appliance, simulated agents registered with the shipped machine profiles, then enable replication
(begin_create(...).result()), read the item, list it by container and by vault (paged), follow its
job, change its settings before replication starts, list policies and recovery points, and the
refusals a client meets (Hybrid Benefit on Linux, a second replication, a Reader, another tenant)."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.appliances import start_appliance
from tests.azure_clients import site_recovery_client
from tests.hubs import CONTOSO
from tests.replication_rig import CONTAINER, FABRIC, RG, enable_body, finalize_appliance, wait_for
from tests.test_arm_site_recovery import vault_name

pytestmark = pytest.mark.live


def test_replication_through_the_site_recovery_sdk(live_hub, tmp_path):
    appliance = start_appliance(live_hub, tmp_path)
    prefix = f"r{uuid.uuid4().hex[:4]}-"
    fleet = None
    try:
        passphrase = appliance.passphrase_file(tmp_path / "pass.txt")
        # Five agents (one per shipped profile, two of them Windows) that keep heartbeating.
        fleet = subprocess.Popen(
            [
                appliance.folder / "agent" / "fleet",
                *("--appliance", f"127.0.0.1:{appliance.port}", "--passphrase-file", passphrase),
                *("--count", "5", "--prefix", prefix, "--duration", "600", "--heartbeat-seconds", "2"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        vault = vault_name(live_hub, appliance.project_path)
        vault_id = f"/subscriptions/{CONTOSO}/resourceGroups/{RG}/providers/Microsoft.RecoveryServices/vaults/{vault}"
        asr = site_recovery_client(live_hub, "admin@contoso.com", CONTOSO)

        process_server = finalize_appliance(live_hub, asr, vault, appliance.project_path)
        machines = {
            item.properties.friendly_name: item
            for item in wait_for(
                lambda: list(
                    asr.replication_protectable_items.list_by_replication_protection_containers(
                        RG, vault, FABRIC, CONTAINER
                    )
                ),
                lambda found: len(found) == 5,
            )
        }
        linux, windows = machines[f"{prefix}file-0001"], machines[f"{prefix}WEB-0004"]

        # Enable replication: 202 + job; the poller follows the job and returns the item.
        item = asr.replication_migration_items.begin_create(
            RG, vault, FABRIC, CONTAINER, linux.name, enable_body(vault_id, linux, process_server.id)
        ).result()
        assert item.name == linux.name
        properties = item.properties
        assert properties.machine_name == f"{prefix}file-0001"
        assert properties.migration_state == "InitialSeedingInProgress"
        assert properties.migration_state_description == "Initial replication pending"
        assert properties.test_migrate_state == "None"
        assert properties.allowed_operations == ["DisableMigration"]
        assert properties.current_job.job_name == "None"
        assert properties.policy_friendly_name == "migrate-policy"
        details = properties.provider_specific_details
        assert details["instanceType"] == "InMageRcm" and details["osType"] == "Linux"
        assert details["processServerId"] == process_server.id
        assert details["testNetworkId"].endswith("/vnet-test")
        disks = {disk["diskId"]: disk for disk in details["protectedDisks"]}
        assert disks["disk0"]["isOSDisk"] == "true" and disks["disk1"]["isOSDisk"] == "false"
        assert {disk["diskType"] for disk in disks.values()} == {"StandardSSD_LRS"}
        assert details["targetVmSize"].startswith("Standard_"), "no size given: chosen automatically"

        # Its job, by id and through $filter.
        job_name = properties.critical_job_history[0].job_id.rsplit("/", 1)[1]
        job = asr.replication_jobs.get(RG, vault, job_name)
        assert (job.properties.scenario_name, job.properties.friendly_name) == ("EnableMigration", "Start replication")
        assert job.properties.state == "Succeeded" and job.properties.target_object_name == f"{prefix}file-0001"
        assert [task.state for task in job.properties.tasks] == ["Succeeded"] * len(job.properties.tasks)
        mine = f"jobName eq 'EnableMigration' and jobStatus eq 'Succeeded' and targetObjectName eq '{prefix}file-0001'"
        assert [j.name for j in asr.replication_jobs.list(RG, vault, filter=mine)] == [job_name]
        later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert list(asr.replication_jobs.list(RG, vault, filter=f"startTime eq '{later}'")) == []

        # A Windows server with Azure Hybrid Benefit; the same benefit for a Linux server is refused.
        windows_item = asr.replication_migration_items.begin_create(
            RG,
            vault,
            FABRIC,
            CONTAINER,
            windows.name,
            enable_body(vault_id, windows, process_server.id, licenseType="WindowsServer"),
        ).result()
        assert windows_item.properties.provider_specific_details["licenseType"] == "WindowsServer"
        db = machines[f"{prefix}db-0002"]
        with pytest.raises(HttpResponseError) as refused:
            asr.replication_migration_items.begin_create(
                RG,
                vault,
                FABRIC,
                CONTAINER,
                db.name,
                enable_body(vault_id, db, process_server.id, licenseType="WindowsServer"),
            )
        assert refused.value.status_code == 400 and refused.value.error.code == "HybridBenefitWindowsOnly"
        with pytest.raises(ResourceExistsError) as again:
            asr.replication_migration_items.begin_create(
                RG, vault, FABRIC, CONTAINER, linux.name, enable_body(vault_id, linux, process_server.id)
            )
        assert again.value.error.code == "AlreadyReplicating"

        # Lists by container (one item a page, followed through nextLink) and by vault.
        by_container = list(
            asr.replication_migration_items.list_by_replication_protection_containers(
                RG, vault, FABRIC, CONTAINER, take_token="1"
            )
        )
        assert sorted(i.name for i in by_container) == sorted([linux.name, windows.name])
        by_vault = list(asr.replication_migration_items.list(RG, vault, filter=f"machineName eq '{prefix}WEB-0004'"))
        assert [i.name for i in by_vault] == [windows.name]

        # Settings change until replication starts (the agents here do not send data).
        update = {
            "properties": {
                "providerSpecificDetails": {
                    "instanceType": "InMageRcm",
                    "targetVmName": f"{prefix}files",
                    "targetVmSize": "Standard_D4s_v5",
                    "vmNics": [{"nicId": "nic0", "isPrimaryNic": "true", "targetSubnetName": "default"}],
                }
            }
        }
        updated = asr.replication_migration_items.begin_update(
            RG, vault, FABRIC, CONTAINER, linux.name, update
        ).result()
        details = updated.properties.provider_specific_details
        assert (details["targetVmName"], details["targetVmSize"]) == (f"{prefix}files", "Standard_D4s_v5")
        fetched = asr.replication_migration_items.get(RG, vault, FABRIC, CONTAINER, linux.name)
        assert fetched.properties.provider_specific_details["targetVmName"] == f"{prefix}files"

        # Policies and recovery points.
        policies = {policy.name: policy for policy in asr.replication_policies.list(RG, vault)}
        assert policies["migrate-policy"].properties.provider_specific_details["instanceType"] == "InMageRcm"
        created = asr.replication_policies.begin_create(
            RG,
            vault,
            "hourly",
            {
                "properties": {
                    "providerSpecificInput": {
                        "instanceType": "InMageRcm",
                        "recoveryPointHistoryInMinutes": 720,
                        "crashConsistentFrequencyInMinutes": 60,
                        "appConsistentFrequencyInMinutes": 0,
                    }
                }
            },
        ).result()
        assert created.properties.provider_specific_details["crashConsistentFrequencyInMinutes"] == 60
        assert asr.replication_policies.get(RG, vault, "hourly").name == "hourly"
        points = asr.migration_recovery_points.list_by_replication_migration_items(
            RG, vault, FABRIC, CONTAINER, linux.name
        )
        assert list(points) == [], "no data flows from simulated agents, so no point yet"

        # A Reader reads but changes nothing; another tenant does not find the item.
        viewer = site_recovery_client(live_hub, "viewer@contoso.com", CONTOSO)
        assert viewer.replication_migration_items.get(RG, vault, FABRIC, CONTAINER, linux.name).name == linux.name
        with pytest.raises(HttpResponseError) as denied:
            viewer.replication_migration_items.begin_update(RG, vault, FABRIC, CONTAINER, linux.name, update)
        assert denied.value.status_code == 403 and denied.value.error.code == "AuthorizationFailed"
        fabrikam = site_recovery_client(live_hub, "admin@fabrikam.com", CONTOSO)
        with pytest.raises(ResourceNotFoundError):
            fabrikam.replication_migration_items.get(RG, vault, FABRIC, CONTAINER, linux.name)
    finally:
        if fleet is not None:
            fleet.terminate()
            fleet.wait(timeout=10)
        appliance.stop()
