"""The injected faults the hub acts on, over the data path and the job engine: the cache storage account
full or throttled and the Key Vault access revoked refuse uploads (the agent keeps its data and sends it
again), the target quota fails Test migrate with Compute's OperationNotAllowed, and a test network that
routes to production warns. Each raises its health error while in force, notifies once, and clears
itself; after it ends the same batches are taken and the replica equals the source."""

from __future__ import annotations

import pytest

from faults import services as faults
from hub import clock
from hub.arm.errors import ArmError
from jobs.models import JobTask, Notification, State
from jobs.services import job_run
from projects.models import VirtualNetwork
from replication import fault_effects, fault_scopes, health, keyvault, migrate, uploads
from replication.models import MigrationItem, MigrationState, VirtualMachine
from replication.portal import migration_forms
from replication.tests.conftest import admin
from replication.tests.encoder import MIB, ProcessServer, apply, image, replica_bytes, send_full

pytestmark = pytest.mark.django_db


def inject(kind, scope, scope_kind, **fields):
    return faults.inject(
        tenant=admin().tenant, injected_by=admin(), kind=kind, scope=scope, scope_kind=scope_kind, **fields
    )


def errors_of(item) -> dict:
    item = MigrationItem.objects.select_related("project__resource_group", "server", "policy", "appliance").get(
        pk=item.pk
    )
    disks = list(item.disks.filter(included=True))
    return {error["errorCode"]: error for error in health.health_errors(item, disks, clock.now())}


def appliance_errors(item) -> dict:
    appliance = item.appliance
    load = health.appliance_loads([appliance])[appliance.pk]
    return {error["errorCode"]: error for error in health.appliance_health_errors(appliance, load, clock.now())}


def ranked(item) -> int:
    """The health the Replicating machines list sorts by (the SQL form of the same rules)."""
    now = clock.now()
    return (
        MigrationItem.objects.filter(pk=item.pk)
        .annotate(rank=health.health_rank(now, [item.policy]))
        .values_list("rank", flat=True)
        .get()
    )


@pytest.mark.parametrize(
    ("kind", "status", "code", "error_id", "level"),
    [
        ("cacheStorageFull", 409, "AccountCapacityExceeded", "78602", "Error"),
        ("cacheStorageThrottled", 503, "ServerBusy", "78603", "Warning"),
        ("keyVaultAccessRevoked", 403, "Forbidden", "78601", "Error"),
    ],
)
def test_an_upload_fault_refuses_batches_raises_its_health_error_and_once_cleared_nothing_is_lost(
    replicating,
    kind,
    status,
    code,
    error_id,
    level,
):
    item = replicating
    ps = ProcessServer(item.project)
    source = image(21, MIB)
    fault = inject(kind, item.project.arm_id, "project")

    with pytest.raises(ArmError) as refused:
        send_full(ps, item, "disk0", source, cycle=1, first_sequence=1)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert not item.disks.get(disk_id="disk0").stored_sequence, "nothing was stored"
    error = errors_of(item)[error_id]
    assert error["errorLevel"] == level and error["possibleCauses"] and error["recommendedAction"]
    assert ranked(item) == health.HEALTH_RANKS[health.HEALTH_OF_LEVEL[level]]
    # The appliance shows it too: its process server's uploads are what is refused.
    on_appliance = appliance_errors(item)
    assert on_appliance[error_id]["errorLevel"] == level and on_appliance[error_id]["recommendedAction"]
    assert item.appliance.name in on_appliance[error_id]["summaryMessage"]
    notified = Notification.objects.filter(user=admin(), link__endswith=f"#fault-{fault.pk}")
    assert notified.count() == 1
    # The server's latest job lists the refusal as a task, already ended, with the error's causes and action.
    tasks = JobTask.objects.filter(job__target_object_id=str(item.pk), name=f"HealthError{error_id}")
    (task,) = tasks
    assert task.ended_at is not None and task.state == ("Failed" if level == "Error" else "Warning")
    (details,) = task.errors
    assert details["serviceErrorDetails"]["code"] == error_id and details["serviceErrorDetails"]["recommendedAction"]
    with pytest.raises(ArmError):  # refused again: still one notification, and one task
        send_full(ps, item, "disk0", source, cycle=1, first_sequence=1)
    assert notified.count() == 1 and tasks.count() == 1

    assert faults.clear(fault, cleared_by=admin())
    assert error_id not in errors_of(item) and error_id not in appliance_errors(item)
    send_full(ps, item, "disk0", source, cycle=1, first_sequence=1)  # the agent's retry of the same batches
    apply(item)
    assert replica_bytes(item, "disk0") == bytes(source)
    item.refresh_from_db()
    assert item.migration_state == MigrationState.REPLICATING


def test_key_vault_revoked_refuses_wrap_key_with_key_vaults_403(replicating):
    item = replicating
    fault = inject("keyVaultAccessRevoked", item.project.arm_id, "project")
    with pytest.raises(ArmError) as refused:
        keyvault.wrap_key(item.project, b"k" * 32)
    assert refused.value.status == 403
    assert "does not have keys wrapKey permission on key vault" in refused.value.message
    faults.clear(fault, cleared_by=admin())
    assert keyvault.wrap_key(item.project, b"k" * 32)[1]


def test_a_throttled_cache_with_probability_below_one_takes_some_uploads(replicating, monkeypatch):
    item = replicating
    inject("cacheStorageThrottled", item.project.arm_id, "project", probability=0.5)
    rolls = iter([0.9, 0.1])
    monkeypatch.setattr("faults.models.random.random", lambda: next(rolls))
    ps = ProcessServer(item.project)
    body = ps.body(item, "disk0", 1, 1, b"", full=True, scanned=0)
    assert uploads.batch_store(item.appliance, body) == (1, False)  # 0.9: spared
    with pytest.raises(ArmError, match="Server Busy|unable to receive"):
        uploads.batch_store(item.appliance, ps.body(item, "disk0", 2, 1, b"", full=True, scanned=0))


@pytest.fixture
def ready(replicating):
    item = replicating
    send_full(ProcessServer(item.project), item, "disk0", image(11, MIB), cycle=1, first_sequence=1)
    apply(item)
    item.refresh_from_db()
    assert item.migration_state == MigrationState.REPLICATING
    return item


def test_target_quota_fails_test_migrate_with_operation_not_allowed_naming_family_and_numbers(
    ready, django_capture_on_commit_callbacks
):
    item = ready
    region = fault_scopes.item_region_scope(item)
    fault = inject("targetQuotaExceeded", region, "targetRegion", parameters={"limit": 1})
    assert "78604" in errors_of(item)
    network = VirtualNetwork.objects.get(name="vnet-test")
    with django_capture_on_commit_callbacks():
        job = migrate.test_migrate_start(admin(), item, network=network)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == State.FAILED
    failed = job.tasks.get(state=State.FAILED)
    assert failed.name == "CreateTestVirtualMachine"
    family = fault_effects.vm_family(item.target_vm_size)
    cores = fault_effects.vm_cores(item.target_vm_size)
    detail = failed.errors[0]["serviceErrorDetails"]
    assert detail["code"] == "OperationNotAllowed"
    assert f"exceeding approved {family} Cores quota" in detail["message"]
    numbers = f"Current Limit: 1, Current Usage: 0, Additional Required: {cores}, (Minimum) New Limit Required: {cores}"
    assert f"Location: {item.project.target_region}, {numbers}" in detail["message"]
    assert detail["possibleCauses"] and detail["recommendedAction"]
    assert Notification.objects.get(job=job).level == Notification.Level.FAILED
    assert not VirtualMachine.objects.filter(migration_item=item).exists()

    faults.clear(fault, cleared_by=admin())
    assert "78604" not in errors_of(item)
    with django_capture_on_commit_callbacks():
        job = migrate.test_migrate_start(admin(), item, network=network)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED


@pytest.mark.parametrize(
    ("size", "family"),
    [
        ("Standard_D2s_v3", "standardDSv3Family"),
        ("Standard_DS2_v2", "standardDSv2Family"),
        ("Standard_B2ms", "standardBSFamily"),
        ("Standard_D2as_v5", "standardDASv5Family"),
        ("Standard_F4s_v2", "standardFSv2Family"),
        ("Standard_D2_v3", "standardDv3Family"),
    ],
)
def test_vm_families_are_computes_quota_names(size, family):
    assert fault_effects.vm_family(size) == family


def test_a_test_network_that_routes_to_production_warns_and_the_health_warning_lasts_while_the_test_vm_exists(
    ready, django_capture_on_commit_callbacks
):
    item = ready
    network = VirtualNetwork.objects.get(name="vnet-test")
    fault = inject("networkRoutesToProduction", network.arm_id, "virtualNetwork")
    options = {option.network.name: option for option in migration_forms.test_network_options(admin(), item)}
    assert options["vnet-test"].routes_to_production and not options["vnet-prod"].routes_to_production
    assert "78605" not in errors_of(item), "no test VM yet"

    with django_capture_on_commit_callbacks():
        job = migrate.test_migrate_start(admin(), item, network=network)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED, "Azure lets the test run: the page warned"
    notified = Notification.objects.get(user=admin(), link__endswith=f"#fault-{fault.pk}")
    assert "routes to production" in notified.title
    warning = errors_of(item)["78605"]
    assert "vnet-test" in warning["summaryMessage"] and warning["errorLevel"] == "Warning"
    # A recovery point just now: the fixture's last one is old enough for "no recovery point for 60 minutes".
    MigrationItem.objects.filter(pk=item.pk).update(last_recovery_point_at=clock.now())
    item.refresh_from_db()
    assert ranked(item) == health.HEALTH_RANKS["Warning"]

    item.refresh_from_db()
    with django_capture_on_commit_callbacks():
        cleanup = migrate.test_migrate_cleanup_start(admin(), item)
    job_run(cleanup.pk)
    assert "78605" not in errors_of(item), "the test VM is gone"
    faults.clear(fault, cleared_by=admin())


def test_uploads_read_the_faults_in_force_at_most_once_a_second(replicating):  # noqa: F811
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    item = replicating
    ps = ProcessServer(item.project)
    faults.forget_in_force()
    with CaptureQueriesContext(connection) as captured:
        for sequence in range(1, 6):
            uploads.batch_store(item.appliance, ps.body(item, "disk0", sequence, 1, b"", full=True, scanned=0))
    fault_reads = [query for query in captured.captured_queries if '"faults_fault"' in query["sql"]]
    assert len(fault_reads) == 1, "one read for five uploads in the same second"
