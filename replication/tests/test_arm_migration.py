"""The ARM API of replication (replication.arm_migration) through DRF's test client: enabling
replication with InMageRcm and VMwareCbt bodies, the 202 + job to poll, bad bodies and Replicate's
rules as 400 details with nothing created, updates until replication starts, lists with paging and
$filter, jobs, operation status, policies, recovery points, and who may see and change what.

Over 500 lines on purpose: it walks one vault's resources in the order a client meets them, on
shared fixtures; the verbs (test migrate, migrate, stop) are in test_arm_migration_verbs.py."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from hub import clock
from hub.models import ApiToken
from jobs.models import Job, State
from jobs.services import job_run
from projects import services as project_services
from projects.models import MigrateProject, ResourceGroup, User
from replication import services
from replication.arm_migration.jobs import NOT_ENDED
from replication.models import Appliance, MigrationItem, RecoveryPoint, ReplicationPolicy
from replication.tests.conftest import issue

pytestmark = pytest.mark.django_db

API = {"api-version": "2025-08-01"}
SUB = "11111111-1111-1111-1111-111111111111"
FABRIKAM_SUB = "22222222-2222-2222-2222-222222222222"
GIB = 1024**3


def machine(host: str, os_type: str, os_name: str, os_version: str) -> dict:
    return {
        "hostName": host,
        "osType": os_type,
        "osName": os_name,
        "osVersion": os_version,
        "architecture": "x86_64",
        "cores": 2,
        "memoryMB": 8192,
        "disks": [
            {"diskId": "disk0", "sizeBytes": 64 * GIB, "isOsDisk": True},
            {"diskId": "disk1", "sizeBytes": 128 * GIB, "isOsDisk": False},
        ],
        "nics": [{"nicId": "nic0", "ipAddresses": ["10.0.0.4"], "isPrimary": True}],
    }


class World:
    """A Contoso project whose resources exist, a finalized appliance and two discovered servers."""

    def __init__(self, capture):
        call_command("seed_demo", verbosity=0)
        self.admin = User.objects.get(email="admin@contoso.com")
        group = ResourceGroup.objects.get(name="rg-migrate")
        project, _ = project_services.migrate_project_create_or_update(
            user=self.admin, resource_group=group, name="armmig", location="westeurope"
        )
        project_services.tool_register(user=self.admin, project=project, tool="ServerMigration")
        with capture():
            job = project_services.create_resources_start(
                user=self.admin, project=project, target_region="westeurope", machines_virtualized="physical"
            )
        job_run(job.pk)
        self.project = MigrateProject.objects.get(pk=project.pk)
        self.vault_id = project_services.project_vault(self.project).arm_id
        self.container = (
            f"{self.vault_id}/replicationFabrics/migrate-fabric/replicationProtectionContainers/migrate-container"
        )
        self.appliance, _ = services.appliance_register(key_text=issue(self.project)[1], name="appliance-1")
        Appliance.objects.filter(pk=self.appliance.pk).update(state=Appliance.State.FINALIZED)
        self.servers = {}
        for host, os_type, os_name, version in (
            ("web01", "Linux", "Ubuntu", "22.04"),
            ("win01", "Windows", "Windows Server 2019 Datacenter", "10.0.17763"),
        ):
            with capture():
                server = services.server_report(
                    appliance=self.appliance,
                    machine_id=f"m-{host}",
                    agent_version="9.60",
                    machine=machine(host, os_type, os_name, version),
                )
            services.server_discover(server.pk)
            self.servers[host] = server
        self.capture = capture

    def client(self, email: str = "admin@contoso.com") -> APIClient:
        _, secret = ApiToken.issue(User.objects.get(email=email), "tests")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    def item_path(self, host: str) -> str:
        return f"{self.container}/replicationMigrationItems/{self.servers[host].pk}"

    def enable_body(self, host: str, **details) -> dict:
        server = self.servers[host]
        body = {
            "instanceType": "InMageRcm",
            "fabricDiscoveryMachineId": f"{self.container}/replicationProtectableItems/{server.pk}",
            "processServerId": str(self.appliance.pk),
            "targetResourceGroupId": f"/subscriptions/{SUB}/resourceGroups/rg-migrate",
            "targetVmName": host,
            "targetNetworkId": f"/subscriptions/{SUB}/resourceGroups/rg-migrate/providers/Microsoft.Network/"
            "virtualNetworks/vnet-prod",
            "targetSubnetName": "default",
            "licenseType": "NoLicenseType",
            "disksToInclude": [
                {"diskId": "disk0", "diskType": "Premium_LRS", "logStorageAccountId": "cache"},
                {"diskId": "disk1", "diskType": "Standard_LRS", "logStorageAccountId": "cache"},
            ],
        }
        body.update(details)
        return {
            "properties": {
                "policyId": f"{self.vault_id}/replicationPolicies/migrate-policy",
                "providerSpecificDetails": body,
            }
        }

    def enable(self, client, host: str, **details):
        with self.capture():
            return client.put(
                self.item_path(host) + "?api-version=2025-08-01", self.enable_body(host, **details), format="json"
            )


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    return World(django_capture_on_commit_callbacks)


def job_of(response) -> Job:
    return Job.objects.get(pk=urlsplit(response["Azure-AsyncOperation"]).path.rsplit("/", 1)[1])


def get(client, path: str, **params):
    return client.get(path, {**API, **params})


def test_enabling_answers_202_with_the_job_to_poll_then_the_item(world):
    client = world.client()
    response = world.enable(client, "web01")
    assert response.status_code == 202, response.content
    assert response.content == b""
    job = job_of(response)
    operation = urlsplit(response["Azure-AsyncOperation"])
    # Az.Migrate takes the job's name as segment 12 of the URL split on "/".
    assert response["Azure-AsyncOperation"].split("/")[12].split("?")[0] == str(job.pk)
    assert operation.path.lower() == f"{world.vault_id}/replicationOperationStatus/{job.pk}".lower()
    assert urlsplit(response["Location"]).path == f"{world.item_path('web01')}/operationresults/{job.pk}"
    assert "api-version=2025-08-01" in response["Location"]
    assert response["Retry-After"] == "1"
    assert response["x-ms-request-id"] == f"{world.vault_id}/replicationJobs/{job.pk}"
    assert (job.scenario_name, job.state) == ("EnableMigration", State.NOT_STARTED)

    status = get(client, operation.path).json()
    assert (status["status"], status["name"]) == ("InProgress", str(job.pk))
    assert get(client, urlsplit(response["Location"]).path).status_code == 202
    running = get(client, world.item_path("web01")).json()["properties"]
    assert running["migrationState"] == "EnableMigrationInProgress"
    assert running["allowedOperations"] == []
    assert running["currentJob"]["jobName"] == "EnableMigration"
    assert running["currentJob"]["jobId"].endswith(f"/replicationJobs/{job.pk}")

    job_run(job.pk)
    assert get(client, operation.path).json()["status"] == "Succeeded"
    done = get(client, urlsplit(response["Location"]).path)
    assert done.status_code == 200 and done.json()["name"] == str(world.servers["web01"].pk)
    item = get(client, world.item_path("web01")).json()
    assert item["id"] == world.item_path("web01")
    assert item["type"].endswith("/replicationProtectionContainers/replicationMigrationItems")
    properties = item["properties"]
    assert properties["machineName"] == "web01"
    assert properties["policyId"] == f"{world.vault_id}/replicationPolicies/migrate-policy"
    assert (properties["migrationState"], properties["migrationStateDescription"]) == (
        "InitialSeedingInProgress",
        "Initial replication pending",
    )
    assert (properties["testMigrateState"], properties["testMigrateStateDescription"]) == ("None", "None")
    assert properties["allowedOperations"] == ["DisableMigration"]
    assert properties["currentJob"] == {
        "jobName": "None",
        "jobId": f"{world.vault_id}/replicationJobs/None",
        "startTime": "1753-01-01T01:01:01Z",
    }
    assert properties["criticalJobHistory"][0]["jobStatus"] == "Succeeded"
    assert properties["recoveryServicesProviderId"].endswith(
        f"/replicationRecoveryServicesProviders/{world.appliance.pk}"
    )
    details = properties["providerSpecificDetails"]
    assert details["instanceType"] == "InMageRcm"
    assert details["targetVmSize"] == "Standard_D2s_v5", "automatic: the cheapest size that fits, premium-capable"
    assert details["targetNetworkId"].endswith("/virtualNetworks/vnet-prod")
    assert details["licenseType"] == "NoLicenseType" and details["osType"] == "Linux"
    assert details["processServerId"] == str(world.appliance.pk)
    assert details["mobilityAgentDetails"]["version"] == "9.60"
    assert details["vmNics"][0]["targetSubnetName"] == "default"
    disks = {disk["diskId"]: disk for disk in details["protectedDisks"]}
    assert disks["disk0"]["isOSDisk"] == "true" and disks["disk1"]["isOSDisk"] == "false"
    assert disks["disk0"]["diskType"] == "Premium_LRS" and disks["disk0"]["capacityInBytes"] == 64 * GIB
    assert disks["disk0"]["isInitialReplicationComplete"] == "false"
    assert details["unprotectedDisks"] == []


def test_a_vmware_cbt_body_is_accepted_too(world):
    client = world.client()
    server = world.servers["web01"]
    body = {
        "properties": {
            "policyId": "migrate-policy",
            "providerSpecificDetails": {
                "instanceType": "VMwareCbt",
                "vmwareMachineId": f"/machines/{server.pk}",
                "targetResourceGroupId": f"/subscriptions/{SUB}/resourceGroups/rg-migrate",
                "targetNetworkId": f"/subscriptions/{SUB}/resourceGroups/rg-migrate/providers/Microsoft.Network/"
                "virtualNetworks/vnet-prod",
                "targetSubnetName": "default",
                "disksToInclude": [{"diskId": "disk0", "isOSDisk": "true", "diskType": "StandardSSD_LRS"}],
            },
        }
    }
    with world.capture():
        response = client.put(world.item_path("web01") + "?api-version=1", body, format="json")
    assert response.status_code == 202, response.content
    item = MigrationItem.objects.get(server=server)
    assert [(d.disk_id, d.included) for d in item.disks.all()] == [("disk0", True), ("disk1", False)]
    assert item.appliance_id == world.appliance.pk, "VMwareCbt names no process server: the server's own"
    details = get(client, world.item_path("web01")).json()["properties"]["providerSpecificDetails"]
    assert [disk["diskId"] for disk in details["unprotectedDisks"]] == ["disk1"]


def test_a_malformed_body_names_each_property_and_creates_nothing(world):
    client = world.client()
    path = world.item_path("web01") + "?api-version=1"
    body = {
        "properties": {
            "providerSpecificDetails": {"instanceType": "A2A", "targetVmName": 7, "disksToInclude": {"diskId": "x"}}
        }
    }
    response = client.put(path, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "InvalidRequestContent"
    assert {detail["target"] for detail in error["details"]} == {
        "properties.policyId",
        "properties.providerSpecificDetails.instanceType",
        "properties.providerSpecificDetails.targetVmName",
        "properties.providerSpecificDetails.disksToInclude",
    }
    assert client.put(path, [1, 2], format="json").status_code == 400
    assert client.put(path, b"{not json", content_type="application/json").json()["error"]["code"] == (
        "InvalidRequestContent"
    )
    assert client.put(path, {}, format="json").json()["error"]["target"] == "properties"
    assert not MigrationItem.objects.exists() and not Job.objects.filter(scenario_name="EnableMigration").exists()


def test_replicates_rules_come_back_as_details_naming_the_properties(world):
    client = world.client()
    response = world.enable(
        client,
        "web01",
        targetVmName="bad_name!",
        targetVmSize="Standard_Z99",
        disksToInclude=[{"diskId": "disk9", "diskType": "Standard_LRS"}, {"diskId": "disk0", "diskType": "Ultra"}],
        targetNetworkId=f"/subscriptions/{SUB}/resourceGroups/rg-migrate/providers/Microsoft.Network/"
        "virtualNetworks/nowhere",
    )
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert {(d["code"], d["target"]) for d in details} == {
        ("UnsupportedDiskType", "properties.providerSpecificDetails.disksToInclude"),
        ("VirtualNetworkNotFound", "properties.providerSpecificDetails.targetNetworkId"),
    }, "what the body names is checked first"

    response = world.enable(
        client,
        "web01",
        targetVmName="bad_name!",
        targetVmSize="Standard_Z99",
        disksToInclude=[
            {"diskId": "disk9", "diskType": "Standard_LRS"},
            {"diskId": "disk0", "diskType": "Premium_LRS"},
        ],
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "InvalidReplicationSettings"
    targets = {(d["code"], d["target"]) for d in error["details"]}
    assert ("UnknownVmSize", "properties.providerSpecificDetails.targetVmSize") in targets
    assert ("UnknownDisk", "properties.providerSpecificDetails.disksToInclude") in targets
    assert any(target == "properties.providerSpecificDetails.targetVmName" for _, target in targets)
    assert not MigrationItem.objects.exists() and not Job.objects.filter(scenario_name="EnableMigration").exists()


def test_an_unknown_server_or_a_body_naming_another_one_is_refused(world):
    client = world.client()
    unknown = f"{world.container}/replicationMigrationItems/{uuid.uuid4()}?api-version=1"
    response = client.put(unknown, world.enable_body("web01", fabricDiscoveryMachineId=None), format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "DiscoveredMachineNotFound")
    other = world.enable_body("web01", fabricDiscoveryMachineId=f"/x/{world.servers['win01'].pk}")
    response = client.put(world.item_path("web01") + "?api-version=1", other, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "InvalidParameter")
    response = world.enable(client, "web01", processServerId=str(uuid.uuid4()))
    assert response.json()["error"]["code"] == "ProcessServerNotFound"
    assert get(client, unknown.split("?")[0]).status_code == 404


def test_hybrid_benefit_is_for_windows_servers_only(world):
    client = world.client()
    response = world.enable(client, "web01", licenseType="WindowsServer")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["target"]) == (
        "HybridBenefitWindowsOnly",
        "properties.providerSpecificDetails.licenseType",
    )
    response = world.enable(client, "win01", licenseType="WindowsServer")
    assert response.status_code == 202, response.content
    details = get(client, world.item_path("win01")).json()["properties"]["providerSpecificDetails"]
    assert details["licenseType"] == "WindowsServer"


def test_a_server_replicates_once(world):
    client = world.client()
    assert world.enable(client, "web01").status_code == 202
    again = world.enable(client, "web01", targetVmName="web01b")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "AlreadyReplicating")
    assert MigrationItem.objects.count() == 1


def test_settings_change_until_replication_starts_then_409(world):
    client = world.client()
    job_run(job_of(world.enable(client, "web01")).pk)
    patch = {
        "properties": {
            "providerSpecificDetails": {
                "instanceType": "InMageRcm",
                "targetVmName": "web01-new",
                "targetVmSize": "Standard_D4s_v5",
                "testNetworkId": f"/subscriptions/{SUB}/resourceGroups/rg-migrate/providers/Microsoft.Network/"
                "virtualNetworks/vnet-test",
                "vmNics": [{"nicId": "nic0", "isPrimaryNic": "true", "testSubnetName": "test"}],
            }
        }
    }
    response = client.patch(world.item_path("web01") + "?api-version=1", patch, format="json")
    assert response.status_code == 200, response.content
    details = response.json()["properties"]["providerSpecificDetails"]
    assert (details["targetVmName"], details["targetVmSize"]) == ("web01-new", "Standard_D4s_v5")
    assert details["testNetworkId"].endswith("/vnet-test") and details["vmNics"][0]["testSubnetName"] == "test"

    hybrid = {"properties": {"providerSpecificDetails": {"instanceType": "InMageRcm", "licenseType": "WindowsServer"}}}
    refused = client.patch(world.item_path("web01") + "?api-version=1", hybrid, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "HybridBenefitWindowsOnly")

    # The agent's first batch locks the settings (replication.data_path sets this).
    MigrationItem.objects.filter(server=world.servers["web01"]).update(replication_started_at=clock.now())
    locked = client.patch(world.item_path("web01") + "?api-version=1", patch, format="json")
    assert (locked.status_code, locked.json()["error"]["code"]) == (409, "ReplicationSettingsLocked")
    description = get(client, world.item_path("web01")).json()["properties"]["migrationStateDescription"]
    assert description == "Initial replication 0%"


def test_lists_by_container_and_vault_page_and_filter(world):
    client = world.client()
    for host in ("web01", "win01"):
        assert world.enable(client, host).status_code == 202
    items = f"{world.container}/replicationMigrationItems"
    first = get(client, items, takeToken="1").json()
    assert len(first["value"]) == 1 and first["nextLink"].startswith("http://testserver/")
    assert "skipToken=1" in first["nextLink"]
    link = urlsplit(first["nextLink"])
    second = client.get(f"{link.path}?{link.query}").json()
    assert len(second["value"]) == 1 and "nextLink" not in second
    assert {first["value"][0]["name"], second["value"][0]["name"]} == {str(s.pk) for s in world.servers.values()}

    by_vault = get(client, f"{world.vault_id}/replicationMigrationItems").json()["value"]
    assert sorted(i["properties"]["machineName"] for i in by_vault) == ["web01", "win01"]
    only = get(client, items, **{"$filter": "machineName eq 'win01'"}).json()["value"]
    assert [i["properties"]["machineName"] for i in only] == ["win01"]
    for ignored in ("noSuchProperty eq 'x'", "garbage((", "sourceFabricName eq 'migrate-fabric'"):
        assert len(get(client, items, **{"$filter": ignored}).json()["value"]) == 2
    assert get(client, items, **{"$filter": "sourceFabricName eq 'elsewhere'"}).json()["value"] == []
    assert get(client, items, skipToken="nope").status_code == 400
    assert (
        get(
            client,
            f"{world.vault_id}/replicationFabrics/other/replicationProtectionContainers/c/replicationMigrationItems",
        ).status_code
        == 404
    )


def test_jobs_get_and_list_with_filters(world):
    client = world.client()
    job = job_of(world.enable(client, "web01"))
    body = get(client, f"{world.vault_id}/replicationJobs/{job.pk}").json()
    properties = body["properties"]
    assert body["type"] == "Microsoft.RecoveryServices/vaults/replicationJobs"
    assert (properties["scenarioName"], properties["friendlyName"], properties["state"]) == (
        "EnableMigration",
        "Start replication",
        "NotStarted",
    )
    assert properties["targetObjectName"] == "web01" and properties["targetInstanceType"] == "ProtectionEntity"
    assert properties["customDetails"]["instanceType"] == "AsrJobDetails"
    assert {task["endTime"] for task in properties["tasks"]} == {NOT_ENDED}
    job_run(job.pk)
    properties = get(client, f"{world.vault_id}/replicationJobs/{job.pk}").json()["properties"]
    assert properties["state"] == "Succeeded" and properties["stateDescription"] == "Completed"
    assert NOT_ENDED not in {task["endTime"] for task in properties["tasks"]}

    jobs = f"{world.vault_id}/replicationJobs"

    def names(text: str) -> list[str]:
        return [j["properties"]["scenarioName"] for j in get(client, jobs, **{"$filter": text}).json()["value"]]

    assert "EnableMigration" in names("jobStatus eq 'Succeeded' and affectedObjectTypes eq 'ProtectionEntity'")
    assert names("jobName eq 'EnableMigration'") == ["EnableMigration"]
    assert "EnableMigration" not in names("jobStatus eq 'Failed'")
    soon = (clock.now() + timedelta(hours=1)).isoformat()
    assert names(f"startTime eq '{soon}'") == []
    assert "EnableMigration" in names(f"endTime eq '{soon}' and frobnicate eq 'x'")
    assert get(client, jobs, **{"$filter": "startTime eq 'yesterday'"}).status_code == 400
    assert get(client, f"{jobs}/{uuid.uuid4()}").status_code == 404


def test_a_failed_job_fails_the_operation_and_a_cancelled_one_is_canceled(world):
    client = world.client()
    clock.advance(timedelta(minutes=20))  # the appliance falls silent
    response = world.enable(client, "web01")
    job = job_of(response)
    job_run(job.pk)
    status = get(client, urlsplit(response["Azure-AsyncOperation"]).path).json()
    assert status["status"] == "Failed"
    assert status["error"]["code"] == "ProcessServerNotConnected"
    result = get(client, urlsplit(response["Location"]).path)
    assert (result.status_code, result.json()["error"]["code"]) == (409, "ProcessServerNotConnected")
    errors = get(client, f"{world.vault_id}/replicationJobs/{job.pk}").json()["properties"]["errors"]
    assert errors[0]["serviceErrorDetails"]["code"] == "ProcessServerNotConnected"
    assert "providerErrorDetails" in errors[0]

    Job.objects.filter(pk=job.pk).update(state=State.CANCELLED)
    assert get(client, urlsplit(response["Azure-AsyncOperation"]).path).json()["status"] == "Canceled"


def test_policies_list_get_create_and_use(world):
    client = world.client()
    policies = f"{world.vault_id}/replicationPolicies"
    assert get(client, policies).json()["value"] == []
    body = {
        "properties": {
            "providerSpecificInput": {
                "instanceType": "InMageRcm",
                "recoveryPointHistoryInMinutes": 1440,
                "crashConsistentFrequencyInMinutes": 10,
                "appConsistentFrequencyInMinutes": 0,
            }
        }
    }
    response = client.put(f"{policies}/fast?api-version=1", body, format="json")
    assert response.status_code == 200, response.content
    details = response.json()["properties"]["providerSpecificDetails"]
    assert (details["recoveryPointHistoryInMinutes"], details["crashConsistentFrequencyInMinutes"]) == (1440, 10)
    assert ReplicationPolicy.objects.get(project=world.project, name="fast").cycle_seconds == 600
    assert get(client, f"{policies}/FAST").json()["name"] == "fast"
    assert get(client, f"{policies}/slow").status_code == 404

    bad = {
        "properties": {"providerSpecificInput": {"instanceType": "InMageRcm", "crashConsistentFrequencyInMinutes": 0}}
    }
    refused = client.put(f"{policies}/fast?api-version=1", bad, format="json")
    assert refused.json()["error"]["target"] == "properties.providerSpecificInput.crashConsistentFrequencyInMinutes"
    assert client.put(f"{policies}/bad%20name?api-version=1", body, format="json").status_code == 400

    enable = world.enable_body("web01")
    enable["properties"]["policyId"] = f"{policies}/fast"
    with world.capture():
        assert client.put(world.item_path("web01") + "?api-version=1", enable, format="json").status_code == 202
    assert MigrationItem.objects.get(server=world.servers["web01"]).policy.name == "fast"
    enable = world.enable_body("win01")
    enable["properties"]["policyId"] = f"{policies}/missing"
    response = client.put(world.item_path("win01") + "?api-version=1", enable, format="json")
    assert (response.json()["error"]["code"], response.json()["error"]["target"]) == (
        "PolicyNotFound",
        "properties.policyId",
    )
    assert [p["name"] for p in get(client, policies).json()["value"]] == ["fast"]


def test_recovery_points_list_and_get(world):
    client = world.client()
    job_run(job_of(world.enable(client, "web01")).pk)
    points = f"{world.item_path('web01')}/migrationRecoveryPoints"
    assert get(client, points).json()["value"] == []
    item = MigrationItem.objects.get(server=world.servers["web01"])
    captured = clock.now() - timedelta(minutes=5)
    point = RecoveryPoint.objects.create(item=item, cycle=1, recorded_at=clock.now(), captured_at=captured)
    MigrationItem.objects.filter(pk=item.pk).update(last_recovery_point_id=point.pk, last_recovery_point_at=captured)
    listed = get(client, points).json()["value"]
    assert [p["name"] for p in listed] == [str(point.pk)]
    one = get(client, f"{points}/{point.pk}").json()
    assert one["properties"]["recoveryPointType"] == "CrashConsistent"
    assert one["properties"]["recoveryPointTime"] == captured.isoformat()
    details = get(client, world.item_path("web01")).json()["properties"]["providerSpecificDetails"]
    assert details["lastRecoveryPointId"] == one["id"]
    assert get(client, f"{points}/{uuid.uuid4()}").status_code == 404


def test_another_tenant_sees_nothing_and_a_reader_changes_nothing(world):
    client = world.client()
    job = job_of(world.enable(client, "web01"))
    paths = [
        world.item_path("web01"),
        f"{world.container}/replicationMigrationItems",
        f"{world.vault_id}/replicationMigrationItems",
        f"{world.item_path('web01')}/migrationRecoveryPoints",
        f"{world.item_path('web01')}/operationresults/{job.pk}",
        f"{world.vault_id}/replicationJobs",
        f"{world.vault_id}/replicationJobs/{job.pk}",
        f"{world.vault_id}/replicationOperationStatus/{job.pk}",
        f"{world.vault_id}/replicationPolicies",
        f"{world.vault_id}/replicationPolicies/migrate-policy",
    ]
    fabrikam = world.client("admin@fabrikam.com")
    for path in paths:
        response = get(fabrikam, path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "SubscriptionNotFound"
    # Fabrikam's own subscription does not lead to Contoso's vault either.
    fabrikam_path = world.vault_id.replace(SUB, FABRIKAM_SUB)
    assert get(fabrikam, f"{fabrikam_path}/replicationJobs/{job.pk}").status_code == 404
    for method in ("put", "patch"):
        response = getattr(fabrikam, method)(world.item_path("win01") + "?api-version=1", {}, format="json")
        assert response.status_code == 404

    viewer = world.client("viewer@contoso.com")
    assert all(get(viewer, path).status_code in (200, 202) for path in paths)
    for method, path in (
        ("put", world.item_path("win01")),
        ("patch", world.item_path("web01")),
        ("put", f"{world.vault_id}/replicationPolicies/mine"),
    ):
        response = getattr(viewer, method)(path + "?api-version=1", {}, format="json")
        assert (response.status_code, response.json()["error"]["code"]) == (403, "AuthorizationFailed"), path
    assert MigrationItem.objects.count() == 1 and not ReplicationPolicy.objects.filter(name="mine").exists()
