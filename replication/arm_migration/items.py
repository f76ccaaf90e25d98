"""ARM: Site Recovery migration items (replicationMigrationItems), their verbs and recovery points.

Enabling replication (PUT) becomes a Replicate plan and answers 202 with the Start replication job
to poll, as ASR does; changing an item's settings (PATCH) is quick and answers 200 with the item.
The verbs (testMigrate, testMigrateCleanup, migrate, resync, and DELETE = stop replication) are
replication.migrate's services behind ARM's long-running-operation answer: 202 and the job to poll,
or 409 OperationNotAllowed with no job when the item's allowedOperations do not list the verb."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub.arm.errors import ArmError, found
from hub.arm.odata import narrowed, paged_list
from hub.arm.paths import last_segment
from hub.arm.views import accepted, validated
from hub.ids import parse_uuid
from jobs.models import Job, State
from projects import access
from replication import migrate
from replication.arm import CONTAINER, FABRIC, Vault, VaultView
from replication.arm_migration import inputs, openapi, plans, shapes
from replication.arm_migration.jobs import JobChildView, job_failure
from replication.models import RecoveryPoint

NOTHING = Q(pk__in=[])
# $filter names an item list understands (ASR's MigrationItemsQueryParameter, and the item's own
# properties Az.Migrate users filter on); each gives the condition for a value.
ITEM_FILTERS = {
    "sourcefabricname": lambda value: Q() if value.lower() == FABRIC else NOTHING,
    "sourcecontainername": lambda value: Q() if value.lower() == CONTAINER else NOTHING,
    "instancetype": lambda value: Q() if value.lower() == shapes.PROVIDER.lower() else NOTHING,
    "machinename": lambda value: Q(server__name__iexact=value),
    "targetvmname": lambda value: Q(target_vm_name__iexact=value),
    "migrationstate": lambda value: Q(migration_state__iexact=value),
    "testmigratestate": lambda value: Q(test_migrate_state__iexact=value),
}


def job_accepted(request, vault: Vault, job: Job, item_name) -> Response:
    """202 for an ASR job on an item: Az.Migrate reads the job's name from either URL, so both keep
    ASR's layout."""
    response = accepted(
        request,
        location=f"{vault.container_id}/replicationMigrationItems/{item_name}/operationresults/{job.pk}",
        azure_async_operation=f"{vault.id}/replicationOperationStatus/{job.pk}",
    )
    response.arm_request_id = shapes.job_id(vault, job.pk)  # ASR names the job in x-ms-request-id
    return response


class MigrationItemListView(VaultView):
    @extend_schema(operation_id="ReplicationMigrationItems_List", responses={200: openapi.MIGRATION_ITEM_LIST})
    def get(self, request, **parents):
        items = narrowed(shapes.items_of(self.vault), request.query_params.get("$filter"), ITEM_FILTERS)
        return paged_list(request, items, lambda page: shapes.item_bodies(self.vault, page))


class MigrationItemView(VaultView):
    permissions = {
        "put": access.REPLICATE_SERVERS,
        "patch": access.REPLICATE_SERVERS,
        "delete": access.STOP_REPLICATION,
    }

    @extend_schema(operation_id="ReplicationMigrationItems_Get", responses={200: openapi.MIGRATION_ITEM})
    def get(self, request, item_name, **parents):
        return Response(shapes.one_item_body(self.vault, item_name))

    @extend_schema(
        operation_id="ReplicationMigrationItems_Create", request=openapi.EnableMigrationInput, responses={202: None}
    )
    def put(self, request, item_name, **parents):
        target = inputs.read_enable_input(request)
        server = plans.discovered_server(self.vault, item_name, target.machine_id)
        job = plans.enable(request.user, self.vault, server, target)
        return job_accepted(request, self.vault, job, server.pk)

    @extend_schema(
        operation_id="ReplicationMigrationItems_Update",
        request=openapi.UpdateMigrationItemInput,
        responses={200: openapi.MIGRATION_ITEM},
    )
    def patch(self, request, item_name, **parents):
        item = shapes.item_or_404(self.vault, item_name)
        plans.update(request.user, self.vault, item, inputs.read_update_input(request))
        return Response(shapes.one_item_body(self.vault, item_name))

    @extend_schema(operation_id="ReplicationMigrationItems_Delete", responses={202: None, 204: None})
    def delete(self, request, item_name, **parents):
        """Stop replication. `deleteOption` is accepted and changes nothing: the hub always removes
        the replication data, and keeps a migrated VM."""
        item = shapes.find_item(self.vault, item_name)
        # Deleting what is gone succeeds (ARM's rule): never replicated, or already stopped (a
        # migrated server's item stays, to show the migration, once its stop job has ended).
        stopped = item is not None and item.replication_stopped_at is not None
        if item is None or (stopped and (item.current_job is None or item.current_job.is_terminal)):
            return Response(status=204)
        job = migrate.stop_replication_start(request.user, item)
        return job_accepted(request, self.vault, job, item.arm_name)


class MigrationItemOperationResultView(JobChildView):
    """`Location` of an item's job: 202 while it runs, then the item (or the job's error)."""

    @extend_schema(
        operation_id="ReplicationMigrationItems_OperationResult",
        responses={200: openapi.MIGRATION_ITEM, 202: None, 204: None},
    )
    def get(self, request, item_name, **route):
        if not self.job.is_terminal:
            return accepted(request, location=request.path)
        if self.job.state != State.SUCCEEDED:
            raise ArmError(409, **job_failure(self.job))
        if self.job.scenario_name == "DisableMigration":
            # A DELETE's result is empty (and a never-migrated item is gone by now).
            return Response(status=204)
        return Response(shapes.one_item_body(self.vault, item_name))


class ItemChildView(VaultView):
    """Below a migration item (its verbs and recovery points): the item is a parent too, resolved
    after the container, into `self.item`."""

    def resolve_parents(self, request, item_name, **parents):
        super().resolve_parents(request, **parents)
        self.item = shapes.item_or_404(self.vault, item_name)


class ItemVerbView(ItemChildView):
    """A POST action on a migration item, declared by its operation's name, the right it needs and its
    body (which documents it and reads it). The right is checked first, then the item, then the body;
    the answer is 202 and the verb's job. The verb's service refuses a state that does not allow it (409
    OperationNotAllowed, no job) and checks the target side's rights."""

    def __init_subclass__(cls, operation: str, permission: access.Permission, body, **kwargs):
        def post(self, request, **route):
            properties = validated(body, request.data).get("properties", {})
            return job_accepted(request, self.vault, self.start(request, properties), self.item.arm_name)

        cls.permissions = {"post": permission}
        cls.post = extend_schema(
            operation_id=f"ReplicationMigrationItems_{operation}", request=body, responses={202: None}
        )(post)
        super().__init_subclass__(**kwargs)

    def start(self, request, properties: dict) -> Job:
        """Start the verb's job from the body's `properties`: every one of them has a default."""
        raise NotImplementedError

    def chosen_recovery_point(self, value: str | None) -> RecoveryPoint | None:
        """The recovery point a verb names (any kept point, by id or by its ARM id); none: the latest."""
        if not value:
            return None
        item, target = self.item, f"{shapes.PROVIDER_DETAILS}.recoveryPointId"
        point = item.recovery_points.filter(pk=parse_uuid(last_segment(value))).first()
        if point is None:
            raise ArmError(
                400,
                "RecoveryPointNotFound",
                f"'{value}' is not a recovery point of {item.target_vm_name}: list them at "
                f"{shapes.item_id(self.vault, item)}/migrationRecoveryPoints.",
                target,
            )
        return point


class ItemTestMigrateView(
    ItemVerbView, operation="TestMigrate", permission=access.TEST_MIGRATE, body=openapi.TestMigrateInput
):
    def start(self, request, properties: dict) -> Job:
        item, details = self.item, properties.get("providerSpecificDetails", {})
        # InMageRcm names the test subnet on the item; a body may name it here or per NIC.
        subnet_name = details.get("testSubnetName") or inputs.nic_setting(details, "testSubnetName")
        network = item.test_network
        if details.get("networkId"):
            resolve = plans.Resolver(request.user, self.vault, item.server)
            network = resolve.resource(details["networkId"], "networkId")
            resolve.raise_problems()
        if network is None:
            raise ArmError(
                400,
                "InvalidParameter",
                f"{item.target_vm_name} has no test network: name one in providerSpecificDetails.networkId (a "
                "virtual network in the target region; a non-production one is recommended).",
                f"{shapes.PROVIDER_DETAILS}.networkId",
            )
        point = self.chosen_recovery_point(details.get("recoveryPointId"))
        return migrate.test_migrate_start(request.user, item, network=network, subnet=subnet_name, point=point)


class ItemTestMigrateCleanupView(
    ItemVerbView,
    operation="TestMigrateCleanup",
    permission=access.CLEAN_UP_TEST_MIGRATION,
    body=openapi.TestMigrateCleanupInput,
):
    def start(self, request, properties: dict) -> Job:
        comments = properties.get("comments", "")
        return migrate.test_migrate_cleanup_start(request.user, self.item, comments=comments)


class ItemMigrateView(ItemVerbView, operation="Migrate", permission=access.MIGRATE, body=openapi.MigrateInput):
    def start(self, request, properties: dict) -> Job:
        details = properties.get("providerSpecificDetails", {})
        point = self.chosen_recovery_point(details.get("recoveryPointId"))
        shutdown = details.get("performShutdown", True)
        return migrate.migrate_start(request.user, self.item, shutdown=shutdown, point=point)


class ItemResyncView(ItemVerbView, operation="Resync", permission=access.RESYNC, body=openapi.ResyncInput):
    def start(self, request, properties: dict) -> Job:
        # InMageRcm has no resync options; VMwareCbt's skipCbtReset has no meaning here and is ignored.
        return migrate.resync_start(request.user, self.item)


class ItemPauseOrResumeView(ItemChildView):
    """pauseReplication and resumeReplication: never in allowedOperations here, so always refused the
    way a verb the item's state does not allow is. Not served, so not in the OpenAPI document."""

    permissions = {"post": access.PAUSE_OR_RESUME}

    @extend_schema(exclude=True)
    def post(self, request, verb, **route):
        raise ArmError(
            409,
            "OperationNotAllowed",
            f"{verb} is not allowed for {self.item.target_vm_name}: this hub does not pause replication, so the "
            "item's allowedOperations never list it. Stop replication (DELETE the item) instead.",
        )


class RecoveryPointListView(ItemChildView):
    @extend_schema(
        operation_id="MigrationRecoveryPoints_ListByReplicationMigrationItems",
        responses={200: openapi.RECOVERY_POINT_LIST},
    )
    def get(self, request, **parents):
        points = self.item.recovery_points.order_by("-captured_at", "pk")
        return paged_list(
            request, points, lambda page: [shapes.recovery_point_body(self.vault, self.item, p) for p in page]
        )


class RecoveryPointView(ItemChildView):
    @extend_schema(operation_id="MigrationRecoveryPoints_Get", responses={200: openapi.RECOVERY_POINT})
    def get(self, request, point_name, **parents):
        point = self.item.recovery_points.filter(pk=parse_uuid(point_name)).first()
        found(point, "RecoveryPointNotFound", f"Recovery point '{point_name}' was not found.")
        return Response(shapes.recovery_point_body(self.vault, self.item, point))
