"""The migration verbs of the ARM API (replication.arm_migration) and the compute reads
(replication.arm_compute) through DRF's test client, over a server replicating with a recovery point
built by the data path (replication/tests/test_migrate.py's `ready`): each verb's 202 with the job to
poll, 409 with no job when allowedOperations forbid the verb, the failed-job answers of the operation
status and result URLs, the VMs and NICs the jobs build, and who may see and do what."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from hub import clock
from hub.models import ApiToken
from jobs.models import Job, State
from projects import services as project_services
from projects.models import ResourceGroup, User
from replication import uploads
from replication.models import MigrationItem, MigrationState, TestMigrateState, VirtualMachine
from replication.tests.test_arm_migration import API, SUB
from replication.tests.test_migrate import admin, ready, run  # noqa: F401 (`ready` is a fixture)

pytestmark = pytest.mark.django_db

RG_PATH = f"/subscriptions/{SUB}/resourceGroups/rg-migrate"
VNETS = f"{RG_PATH}/providers/Microsoft.Network/virtualNetworks"
VMS = f"{RG_PATH}/providers/Microsoft.Compute/virtualMachines"
NICS = f"{RG_PATH}/providers/Microsoft.Network/networkInterfaces"


def client_for(email: str = "admin@contoso.com") -> APIClient:
    _, secret = ApiToken.issue(User.objects.get(email=email), "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


class Item:
    """The ARM paths of the ready item."""

    def __init__(self, item: MigrationItem):
        self.item = item
        self.vault_id = project_services.project_vault(item.project).arm_id
        container = (
            f"{self.vault_id}/replicationFabrics/migrate-fabric/replicationProtectionContainers/migrate-container"
        )
        self.path = f"{container}/replicationMigrationItems/{item.server_id}"

    def refresh(self) -> MigrationItem:
        self.item.refresh_from_db()
        return self.item

    @property
    def last_point_id(self) -> str:
        return f"{self.path}/migrationRecoveryPoints/{self.refresh().last_recovery_point_id}"


@pytest.fixture
def item(ready):  # noqa: F811
    return Item(ready[0])


def post(client, path: str, body=None):
    return client.post(f"{path}?api-version=2025-08-01", body if body is not None else {}, format="json")


def get(client, path: str, **params):
    return client.get(path, {**API, **params})


def job_of(response) -> Job:
    return Job.objects.get(pk=urlsplit(response["Azure-AsyncOperation"]).path.rsplit("/", 1)[1])


def body_test_migrate(network: str = "vnet-test", **details) -> dict:
    return {
        "properties": {
            "providerSpecificDetails": {"instanceType": "InMageRcm", "networkId": f"{VNETS}/{network}", **details}
        }
    }


def migrate_body(**details) -> dict:
    return {"properties": {"providerSpecificDetails": {"instanceType": "InMageRcm", **details}}}


def assert_accepted(response, item: Item, scenario: str) -> Job:
    """ASR's 202 (ARM-API.md 4.2): empty body, the job in both URLs and in x-ms-request-id."""
    assert response.status_code == 202, response.content
    assert response.content == b""
    job = job_of(response)
    assert job.scenario_name == scenario and job.state == State.NOT_STARTED
    operation = urlsplit(response["Azure-AsyncOperation"])
    assert operation.path == f"{item.vault_id}/replicationOperationStatus/{job.pk}"
    assert response["Azure-AsyncOperation"].split("/")[12].split("?")[0] == str(job.pk), "Az.Migrate's segment 12"
    assert urlsplit(response["Location"]).path == f"{item.path}/operationresults/{job.pk}"
    assert "api-version=2025-08-01" in response["Location"]
    assert response["Retry-After"] == "1"
    assert response["x-ms-request-id"] == f"{item.vault_id}/replicationJobs/{job.pk}"
    return job


def operation(client, response) -> dict:
    return get(client, urlsplit(response["Azure-AsyncOperation"]).path).json()


def result(client, response):
    return get(client, urlsplit(response["Location"]).path)


def properties(client, item: Item) -> dict:
    return get(client, item.path).json()["properties"]


def test_a_ready_item_allows_resync_besides_the_migration_verbs(item):
    assert properties(client_for(), item)["allowedOperations"] == [
        "DisableMigration",
        "TestMigrate",
        "Migrate",
        "StartResync",
    ]


def test_test_migrate_then_clean_up(item):
    client = client_for()
    response = post(client, f"{item.path}/testMigrate", body_test_migrate(recoveryPointId=item.last_point_id))
    job = assert_accepted(response, item, "TestMigrate")
    assert job.friendly_name == "Test migration"
    assert operation(client, response)["status"] == "InProgress"
    assert result(client, response).status_code == 202
    running = properties(client, item)
    assert running["testMigrateState"] == "TestMigrationInProgress" and running["allowedOperations"] == []
    assert running["currentJob"]["jobName"] == "TestMigrate"

    again = post(client, f"{item.path}/testMigrate", body_test_migrate())
    assert (again.status_code, again.json()["error"]["code"]) == (409, "OperationNotAllowed")
    assert Job.objects.filter(scenario_name="TestMigrate").count() == 1

    assert run(job).state == State.SUCCEEDED
    assert operation(client, response)["status"] == "Succeeded"
    done = result(client, response)
    assert done.status_code == 200
    assert done.json()["properties"]["testMigrateState"] == "TestMigrationSucceeded"
    assert done.json()["properties"]["allowedOperations"] == ["DisableMigration", "TestMigrateCleanup"]
    assert item.refresh().test_subnet_name == "test", "vnet-test's only subnet, none named"

    vm = get(client, f"{VMS}/web01-Test").json()
    assert vm["tags"]["migrate-test"] == "true"
    refused = post(client, f"{item.path}/migrate", migrate_body(performShutdown="false"))
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "OperationNotAllowed")
    assert not Job.objects.filter(scenario_name="Migrate").exists()

    cleanup = post(client, f"{item.path}/testMigrateCleanup", {"properties": {"comments": "Checked the app."}})
    cleanup_job = assert_accepted(cleanup, item, "TestMigrateCleanup")
    assert cleanup_job.input["comments"] == "Checked the app."
    assert run(cleanup_job).state == State.SUCCEEDED
    assert result(client, cleanup).json()["properties"]["testMigrateState"] == "None"
    after = properties(client, item)
    assert after["lastTestMigrationStatus"] == "Succeeded" and "TestMigrate" in after["allowedOperations"]
    assert get(client, f"{VMS}/web01-Test").status_code == 404
    again = post(client, f"{item.path}/testMigrateCleanup")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "OperationNotAllowed")


def test_a_vmware_cbt_body_names_the_test_subnet_per_nic(item):
    body = {
        "properties": {
            "providerSpecificDetails": {
                "instanceType": "VMwareCbt",
                "networkId": f"{VNETS}/vnet-test",
                "recoveryPointId": item.last_point_id,
                "vmNics": [
                    {"nicId": "nic9", "isPrimaryNic": "false", "testSubnetName": "elsewhere"},
                    {"nicId": "nic0", "isPrimaryNic": "true", "testSubnetName": "TEST"},
                ],
            }
        }
    }
    assert_accepted(post(client_for(), f"{item.path}/testMigrate", body), item, "TestMigrate")
    assert item.refresh().test_subnet_name == "TEST"


def test_test_migrate_refusals_create_no_job(item):
    client = client_for()
    project_services.virtual_network_create_or_update(
        user=admin(),
        resource_group=ResourceGroup.objects.get(name="rg-migrate"),
        name="vnet-east",
        location="eastus",
        address_prefixes=["10.90.0.0/16"],
        subnets=[("default", "10.90.0.0/24")],
    )
    cases = [
        (body_test_migrate(recoveryPointId=str(uuid.uuid4())), 400, "RecoveryPointNotFound"),
        (body_test_migrate("nowhere"), 400, "VirtualNetworkNotFound"),
        (body_test_migrate(testSubnetName="nope"), 400, "SubnetNotFound"),
        (body_test_migrate("vnet-east"), 400, "InvalidTestNetwork"),
        ({"properties": {"providerSpecificDetails": {"instanceType": "A2A"}}}, 400, "InvalidRequestContent"),
        ([1, 2], 400, "InvalidRequestContent"),
        ({}, 400, "InvalidParameter"),  # no network named, and Replicate chose no test network
    ]
    for body, status, code in cases:
        response = post(client, f"{item.path}/testMigrate", body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    response = post(client, f"{item.path}/testMigrate", body_test_migrate(recoveryPointId=str(uuid.uuid4())))
    error = response.json()["error"]
    assert error["target"] == "properties.providerSpecificDetails.recoveryPointId"
    assert "migrationRecoveryPoints" in error["message"]
    assert not Job.objects.filter(scenario_name="TestMigrate").exists()
    assert item.refresh().test_migrate_state == TestMigrateState.NONE


def test_a_failed_test_migration_fails_the_operation_with_the_jobs_error(item):
    client = client_for()
    VirtualMachine.objects.create(
        resource_group=ResourceGroup.objects.get(name="rg-migrate"),
        name="web01-Test",
        location="westeurope",
        size="Standard_B1s",
        os_type="Linux",
    )
    response = post(client, f"{item.path}/testMigrate", body_test_migrate())
    assert run(assert_accepted(response, item, "TestMigrate")).state == State.FAILED
    status = operation(client, response)
    assert status["status"] == "Failed"
    assert status["error"]["code"] == "TargetVmNameExists"
    assert status["error"]["message"].startswith("Target VM name already exists")
    failed = result(client, response)
    assert (failed.status_code, failed.json()["error"]["code"]) == (409, "TargetVmNameExists")
    after = properties(client, item)
    assert (after["testMigrateState"], after["lastTestMigrationStatus"]) == ("None", "Failed")


def test_migrate_without_shutdown_then_stop_replication_with_delete(item):
    client = client_for()
    bad = post(client, f"{item.path}/migrate", migrate_body(performShutdown="maybe"))
    assert bad.status_code == 400
    assert bad.json()["error"]["target"] == "properties.providerSpecificDetails.performShutdown"

    response = post(client, f"{item.path}/migrate", migrate_body(performShutdown="false"))
    job = assert_accepted(response, item, "Migrate")
    assert job.input["shutdown"] is False and item.refresh().shutdown_requested_at is None
    assert run(job).state == State.SUCCEEDED
    migrated = result(client, response).json()["properties"]
    assert migrated["migrationState"] == "MigrationSucceeded" and migrated["allowedOperations"] == ["DisableMigration"]
    assert get(client, f"{VMS}/web01").json()["tags"] == {"migrate-source": "web01"}

    delete = client.delete(f"{item.path}?api-version=2025-08-01&deleteOption=NotSpecified")
    stop = assert_accepted(delete, item, "DisableMigration")
    assert result(client, delete).status_code == 202
    again = client.delete(f"{item.path}?api-version=1")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "OperationNotAllowed"), "stopping already"
    assert run(stop).state == State.SUCCEEDED
    assert operation(client, delete)["status"] == "Succeeded"
    final = result(client, delete)
    assert (final.status_code, final.content) == (204, b"")
    assert client.delete(f"{item.path}?api-version=1").status_code == 204, "deleting what is gone succeeds"
    assert Job.objects.filter(scenario_name="DisableMigration").count() == 1
    assert get(client, f"{VMS}/web01").status_code == 200, "the migrated VM stays"


def test_migrate_shuts_down_by_default_and_a_timed_out_final_sync_fails_the_operation(item):
    client = client_for()
    response = post(client, f"{item.path}/migrate", {"properties": {}})
    job = assert_accepted(response, item, "Migrate")
    assert job.input["shutdown"] is True and item.refresh().shutdown_requested_at is not None
    assert properties(client, item)["migrationState"] == "MigrationInProgress"
    assert run(job).state == State.IN_PROGRESS, "waiting for the source's final cycle"
    clock.advance(timedelta(minutes=31))
    assert run(job).state == State.FAILED
    status = operation(client, response)
    assert (status["status"], status["error"]["code"]) == ("Failed", "FinalSyncTimedOut")
    failed = result(client, response)
    assert (failed.status_code, failed.json()["error"]["code"]) == (409, "FinalSyncTimedOut")
    assert properties(client, item)["migrationState"] == "Replicating"


def test_resync_raises_every_included_disks_generation(item, django_capture_on_commit_callbacks):
    client = client_for()
    body = {"properties": {"providerSpecificDetails": {"instanceType": "VMwareCbt", "skipCbtReset": "true"}}}
    response = post(client, f"{item.path}/resync", body)
    job = assert_accepted(response, item, "MigrationStartResync")
    assert job.friendly_name == "Resynchronize replication"
    with django_capture_on_commit_callbacks():
        assert run(job).state == State.SUCCEEDED
    disks = {disk.disk_id: disk for disk in item.refresh().disks.all()}
    assert (disks["disk0"].resync_generation, disks["disk0"].resync_required) == (1, True)
    assert (disks["disk1"].resync_generation, disks["disk1"].resync_required) == (0, False), "excluded"
    (instruction,) = uploads.replication_instructions(item.item.appliance)
    assert instruction["disks"][0]["resyncGeneration"] == 1
    done = result(client, response).json()["properties"]
    assert done["providerSpecificDetails"]["resyncRequired"] == "true"
    assert done["migrationState"] == "Replicating", "the latest point stays usable"

    # While a test migration runs, nothing else is allowed.
    assert post(client, f"{item.path}/testMigrate", body_test_migrate()).status_code == 202
    refused = post(client, f"{item.path}/resync", {})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "OperationNotAllowed")
    assert Job.objects.filter(scenario_name="MigrationStartResync").count() == 1


def test_pause_and_resume_are_never_allowed(item):
    client = client_for()
    for action in ("pauseReplication", "resumeReplication"):
        response = post(client, f"{item.path}/{action}", {"properties": {}})
        assert (response.status_code, response.json()["error"]["code"]) == (409, "OperationNotAllowed")


def test_stopping_replication_before_migration_removes_the_item(item):
    client = client_for()
    response = client.delete(f"{item.path}?api-version=2025-08-01")
    assert run(assert_accepted(response, item, "DisableMigration")).state == State.SUCCEEDED
    assert (result(client, response).status_code, result(client, response).content) == (204, b"")
    assert get(client, item.path).status_code == 404
    assert client.delete(f"{item.path}?api-version=1").status_code == 204
    response = post(client, f"{item.path}/testMigrate", body_test_migrate())
    assert (response.status_code, response.json()["error"]["code"]) == (404, "MigrationItemNotFound")


def test_the_compute_api_reads_the_vms_migration_built(item):
    client = client_for()
    test_job = job_of(post(client, f"{item.path}/testMigrate", body_test_migrate()))
    assert run(test_job).state == State.SUCCEEDED

    vm = get(client, f"{VMS}/WEB01-test").json()
    assert (vm["name"], vm["type"], vm["location"]) == ("web01-Test", "Microsoft.Compute/virtualMachines", "westeurope")
    assert vm["id"] == f"{VMS}/web01-Test"
    assert vm["tags"] == {"migrate-test": "true", "migrate-source": "web01"}
    properties = vm["properties"]
    assert properties["provisioningState"] == "Succeeded"
    assert properties["hardwareProfile"]["vmSize"] == item.refresh().target_vm_size
    os_disk = properties["storageProfile"]["osDisk"]
    assert (os_disk["name"], os_disk["osType"], os_disk["diskSizeGB"]) == ("web01-Test-disk0", "Linux", 1)
    assert os_disk["managedDisk"] == {
        "id": f"{RG_PATH}/providers/Microsoft.Compute/disks/web01-Test-disk0",
        "storageAccountType": "StandardSSD_LRS",
    }
    assert properties["storageProfile"]["dataDisks"] == [], "disk1 was not replicated"
    assert properties["osProfile"]["computerName"] == "web01"
    assert properties["networkProfile"]["networkInterfaces"] == [
        {"id": f"{NICS}/web01-Test-nic", "properties": {"primary": True}}
    ]
    assert properties["licenseType"] is None and "availabilitySet" not in properties
    assert "instanceView" not in properties

    expanded = get(client, f"{VMS}/web01-Test", **{"$expand": "instanceView"}).json()["properties"]["instanceView"]
    assert {"code": "PowerState/running", "level": "Info", "displayStatus": "VM running"} in expanded["statuses"]
    assert get(client, f"{VMS}/web01-Test/instanceView").json()["statuses"] == expanded["statuses"]

    by_group = get(client, VMS).json()["value"]
    everywhere = get(client, f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines").json()["value"]
    assert [v["name"] for v in by_group] == [v["name"] for v in everywhere] == ["web01-Test"]
    status_only = get(client, f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines", statusOnly="true")
    assert "instanceView" in status_only.json()["value"][0]["properties"]

    nic = get(client, f"{NICS}/web01-Test-nic").json()
    configuration = nic["properties"]["ipConfigurations"][0]["properties"]
    assert configuration["privateIPAddress"] == "10.20.1.4", "the subnet's first address Azure does not keep"
    assert configuration["subnet"]["id"] == f"{VNETS}/vnet-test/subnets/test"
    assert nic["properties"]["virtualMachine"]["id"] == vm["id"]
    assert nic["properties"]["macAddress"].startswith("00-0D-3A-")
    assert [n["name"] for n in get(client, NICS).json()["value"]] == ["web01-Test-nic"]

    assert get(client, f"{VMS}/web02").json()["error"]["code"] == "ResourceNotFound"
    assert get(client, f"{NICS}/web01-Test").status_code == 404
    missing_group = f"/subscriptions/{SUB}/resourceGroups/rg-nowhere/providers/Microsoft.Compute/virtualMachines"
    assert get(client, missing_group).json()["error"]["code"] == "ResourceGroupNotFound"
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(f"{VMS}/web01-Test?api-version=1", {"location": "westeurope"}, format="json")
        assert (response.status_code, response.json()["error"]["code"]) == (405, "MethodNotAllowed")
        assert "created by test migration and migration" in response.json()["error"]["message"]
    started = post(client, f"{VMS}/web01-Test/start")
    assert started.status_code == 405
    assert post(client, f"{VMS}/web02/start").status_code == 404
    assert get(client, f"{VMS}/web01-Test/extensions").json()["error"]["code"] == "InvalidResourceType"
    assert VirtualMachine.objects.filter(name="web01-Test").exists()


def test_another_tenant_finds_nothing_and_a_reader_changes_nothing(item):
    contoso = client_for()
    assert run(job_of(post(contoso, f"{item.path}/testMigrate", body_test_migrate()))).state == State.SUCCEEDED
    fabrikam = client_for("admin@fabrikam.com")
    reads = [
        f"{VMS}/web01-Test",
        VMS,
        f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines",
        f"{VMS}/web01-Test/instanceView",
        f"{NICS}/web01-Test-nic",
        NICS,
    ]
    for path in reads:
        response = get(fabrikam, path)
        assert (response.status_code, response.json()["error"]["code"]) == (404, "SubscriptionNotFound"), path
    for action in ("testMigrate", "testMigrateCleanup", "migrate", "resync", "pauseReplication"):
        assert post(fabrikam, f"{item.path}/{action}", {}).status_code == 404, action
    assert fabrikam.delete(f"{item.path}?api-version=1").status_code == 404
    for method in ("put", "delete"):
        response = getattr(fabrikam, method)(f"{VMS}/web01-Test?api-version=1", {"location": "x"}, format="json")
        assert response.status_code == 404, "not 405: the group is not the caller's to know of"
    assert post(fabrikam, f"{VMS}/web01-Test/start").status_code == 404
    fabrikam_lists = get(
        fabrikam, "/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Compute/virtualMachines"
    )
    assert fabrikam_lists.json()["value"] == []

    jobs = Job.objects.count()
    for email in ("viewer@contoso.com", "netadmin@contoso.com"):
        limited = client_for(email)
        for action in ("testMigrateCleanup", "migrate", "resync", "testMigrate"):
            response = post(limited, f"{item.path}/{action}", {})
            assert (response.status_code, response.json()["error"]["code"]) == (403, "AuthorizationFailed"), action
            assert f"/{action}/action" in response.json()["error"]["message"]
        assert limited.delete(f"{item.path}?api-version=1").status_code == 403
    assert Job.objects.count() == jobs and item.refresh().test_migrate_state == TestMigrateState.SUCCEEDED
    viewer = client_for("viewer@contoso.com")
    assert get(viewer, f"{VMS}/web01-Test").status_code == 200
    assert get(viewer, f"{NICS}/web01-Test-nic").status_code == 200


def test_verbs_refused_by_the_state_machine_create_no_job(item):
    """Stop replication has begun: no verb is allowed until it ends."""
    client = client_for()
    MigrationItem.objects.filter(pk=item.item.pk).update(
        migration_state=MigrationState.DISABLE_MIGRATION_IN_PROGRESS, replication_stopped_at=clock.now()
    )
    before = Job.objects.count()
    for action, body in (
        ("testMigrate", body_test_migrate()),
        ("testMigrateCleanup", {}),
        ("migrate", migrate_body()),
        ("resync", {}),
    ):
        response = post(client, f"{item.path}/{action}", body)
        error = response.json()["error"]
        assert (response.status_code, error["code"]) == (409, "OperationNotAllowed"), action
        assert "DisableMigrationInProgress" in error["message"]
    assert Job.objects.count() == before
