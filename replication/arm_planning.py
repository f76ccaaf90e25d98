"""ARM: the replication capacity planner (Azure Site Recovery's deployment planner as one call), below
the vault's protection container, where the servers it plans for are protectable items:

    POST .../replicationFabrics/{fabric}/replicationProtectionContainers/{container}/planReplicationCapacity

The body names the machines (protectable item ids or names), optionally their disks and declared churn,
the bandwidth and the RPO target; the answer is the planner page's figures (replication.planning)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from hub.arm.bodies import BodyReader
from hub.arm.errors import ArmError
from hub.arm.paths import last_segment
from hub.ids import parse_uuid
from projects import access
from replication import capacity_plan, planning
from replication.arm import C as CONTAINER_PATH
from replication.arm import VaultView, discovered_servers

MEGABYTE = 10**6
PLAN_CAPACITY = access.Permission(
    ("Microsoft.RecoveryServices/vaults/read",), "plan replication capacity (it reads the vault's servers)"
)
EXAMPLE_BODY = {
    "properties": {
        "machines": [
            {"fabricDiscoveryMachineId": "<protectable item id>", "disksToInclude": ["disk0"], "churnMBps": 1.5}
        ],
        "bandwidthMbps": 100,
        "rpoTargetMinutes": 60,
    }
}


def _number(reader: BodyReader, key: str, high: float) -> float | None:
    value = reader.raw(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        reader.fail(key, f"'{reader.target(key)}' must be a number from 0 to {high:g}.")
        return None
    return float(value)


def read_plan_body(request, vault):
    body = BodyReader.of(request)
    properties = body.child("properties", required=True)
    machines = properties.children("machines")
    if machines is None and properties.present:
        properties.fail("machines", "'properties.machines' is required: name at least one machine.")
    machines = machines or []
    if len(machines) > planning.MAX_PLANNED_SERVERS:
        properties.fail("machines", f"'properties.machines' lists at most {planning.MAX_PLANNED_SERVERS} machines.")
        machines = []
    bandwidth = _number(properties, "bandwidthMbps", planning.MAX_BANDWIDTH_MBPS)
    rpo = _number(properties, "rpoTargetMinutes", planning.MAX_RPO_TARGET_MINUTES)
    servers = {server.pk: server for server in discovered_servers(vault)}
    chosen, churn = [], {}
    for machine in machines:
        name = machine.text("fabricDiscoveryMachineId", required=True)
        server = servers.get(parse_uuid(last_segment(name))) if name else None
        if name and server is None:
            machine.fail(
                "fabricDiscoveryMachineId", f"Machine '{last_segment(name)}' is no discovered server of this vault."
            )
            continue
        disks = machine.raw("disksToInclude")
        disk_ids = None
        if disks is not None:
            known = {disk["diskId"] for disk in server.disks} if server else set()
            if not isinstance(disks, list) or not all(isinstance(disk, str) and disk in known for disk in disks):
                machine.fail(
                    "disksToInclude", f"'{machine.target('disksToInclude')}' must list disk ids of the machine."
                )
            else:
                disk_ids = set(disks)
        declared = _number(machine, "churnMBps", planning.MAX_CHURN_MBPS)
        if server is not None:
            chosen.append((server, disk_ids))
            if declared is not None:
                churn[server.pk] = declared * MEGABYTE
    body.raise_errors()
    if not chosen:
        raise ArmError(400, "InvalidRequestContent", "Name at least one machine.", "properties.machines")
    return chosen, churn, bandwidth, rpo


def plan_body(plan: planning.Plan) -> dict:
    figures = plan.figures
    initial, rpo = figures.initial_replication_seconds, figures.achievable_rpo_seconds

    def mbps(value):
        return None if value is None else round(value * 8 / MEGABYTE, 3)

    return {
        "properties": {
            "machineCount": len(figures.servers),
            "totalDiskBytes": figures.total_disk_bytes,
            "totalDataBytes": figures.total_data_bytes,
            "bandwidthMbps": mbps(figures.bandwidth_bytes_per_second),
            "bandwidthSource": plan.link.source,
            "compressionRatio": round(figures.compression_ratio, 3),
            "compressionSource": plan.compression_source,
            "churnMBps": round(figures.churn_bytes_per_second / MEGABYTE, 3),
            "replicationCycleSeconds": figures.cycle_seconds,
            "initialReplicationDuration": None if initial is None else capacity_plan.iso_duration(initial),
            "initialReplicationSeconds": None if initial is None else round(initial, 1),
            "achievableRpo": None if rpo is None else capacity_plan.iso_duration(rpo),
            "achievableRpoSeconds": None if rpo is None else round(rpo, 1),
            "rpoTargetMinutes": figures.rpo_target_seconds / 60,
            "meetsRpoTarget": figures.meets_rpo_target,
            "bandwidthForRpoTargetMbps": mbps(figures.bandwidth_for_rpo_target),
            "bandwidthForChurnWithHeadroomMbps": mbps(figures.bandwidth_for_churn_with_headroom),
            "appliancesNeeded": figures.appliances.needed,
            "oneApplianceSuffices": figures.appliances.one_suffices,
            "applianceLimitsExceeded": figures.appliances.reasons,
            "machines": [
                {
                    "machineName": server.name,
                    "diskBytes": server.disk_bytes,
                    "dataBytes": server.data_bytes,
                    "dataSource": server.data_source,
                    "churnMBps": round(server.churn_bytes_per_second / MEGABYTE, 3),
                    "churnSource": server.churn_source,
                }
                for server in figures.servers
            ],
        }
    }


# The document's shapes of the request and the answer (read by read_plan_body, written by plan_body).
F, N, S = serializers.FloatField, serializers.IntegerField, serializers.CharField
optional = {"required": False, "allow_null": True}


class PlannedMachineInput(serializers.Serializer):
    fabricDiscoveryMachineId = S(help_text="The discovered server's id (its ARM id or its last segment).")
    disksToInclude = serializers.ListField(child=S(), required=False, help_text="Absent: every disk.")
    churnMBps = F(required=False, help_text="Declared churn; absent: measured, else none.")


class PlanReplicationCapacityInputProperties(serializers.Serializer):
    machines = PlannedMachineInput(many=True)
    bandwidthMbps = F(required=False, help_text="Declared upload bandwidth; absent: the appliance's upload cap.")
    rpoTargetMinutes = F(required=False)


class PlanReplicationCapacityInput(serializers.Serializer):
    properties = PlanReplicationCapacityInputProperties()


class PlannedMachine(serializers.Serializer):
    machineName = S()
    diskBytes = N()
    dataBytes = N()
    dataSource = S()
    churnMBps = F()
    churnSource = S()


class ReplicationCapacityPlanProperties(serializers.Serializer):
    machineCount = N()
    totalDiskBytes = N()
    totalDataBytes = N()
    bandwidthMbps = F(**optional)
    bandwidthSource = S()
    compressionRatio = F()
    compressionSource = S()
    churnMBps = F()
    replicationCycleSeconds = N()
    initialReplicationDuration = S(**optional, help_text="ISO 8601; null when the bandwidth is unknown.")
    initialReplicationSeconds = F(**optional)
    achievableRpo = S(**optional)
    achievableRpoSeconds = F(**optional)
    rpoTargetMinutes = F()
    meetsRpoTarget = serializers.BooleanField(**optional)
    bandwidthForRpoTargetMbps = F(**optional)
    bandwidthForChurnWithHeadroomMbps = F(**optional)
    appliancesNeeded = N()
    oneApplianceSuffices = serializers.BooleanField()
    applianceLimitsExceeded = serializers.ListField(child=S())
    machines = PlannedMachine(many=True)


class ReplicationCapacityPlan(serializers.Serializer):
    properties = ReplicationCapacityPlanProperties()


class PlanReplicationCapacityView(VaultView):
    permissions = {"post": PLAN_CAPACITY}

    @extend_schema(
        operation_id="ReplicationProtectionContainers_PlanReplicationCapacity",
        request=PlanReplicationCapacityInput,
        responses={200: ReplicationCapacityPlan},
        examples=[OpenApiExample("Two servers over 100 Mbps", value=EXAMPLE_BODY, request_only=True)],
        description="Plan bandwidth and time before replicating: initial replication time, achievable RPO, "
        "bandwidth for an RPO target (the churn plus 20% headroom at least), and whether one appliance suffices.",
    )
    def post(self, request, **parents):
        chosen, churn, bandwidth, rpo = read_plan_body(request, self.vault)
        plan = planning.plan(
            self.vault.project,
            chosen,
            declared_churn=churn,
            declared_bandwidth=None if bandwidth is None else bandwidth * MEGABYTE / 8,
            rpo_target_minutes=rpo,
        )
        return Response(plan_body(plan))


urlpatterns = [
    path(f"{CONTAINER_PATH}/planreplicationcapacity", PlanReplicationCapacityView.as_view()),
]
