"""ARM: Site Recovery migration items, their recovery points, replication policies and jobs, as
SiteRecoveryManagementClient calls them (ARM-API.md section 4).

Enabling replication (PUT of a `replicationMigrationItems` item, InMageRcm or VMwareCbt vocabulary)
becomes a Replicate plan (replication.replicate) and answers 202 with the Start replication job to
poll, as ASR does. Changing an item's settings (PATCH) and creating a policy (PUT) are quick and
answer 200 with the resource: the SDK accepts 200 for both, and a synchronous answer cannot leave a
client polling a job that has nothing to wait for. States, health and allowed operations come from
replication.status, so the portal and the API say the same thing.

The migration verbs (testMigrate, testMigrateCleanup, migrate, resync and DELETE = stop replication)
are replication.migrate's services behind ARM's long-running-operation answer: 202 and the job to
poll, or 409 OperationNotAllowed with no job when the item's allowedOperations do not list the verb."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub import clock
from hub.arm.errors import ArmError
from hub.arm.views import ArmView, accepted, arm_list
from hub.ids import parse_uuid
from jobs.models import Job, State
from projects import access
from projects.models import AvailabilitySet, MigrationResource, ResourceGroup, VirtualNetwork
from replication import migrate
from replication.arm import CONTAINER, FABRIC, VAULT_TYPE, Vault, _container_or_404, _vault
from replication.arm import C as CONTAINER_PATH
from replication.arm import V as VAULT_PATH
from replication.models import (
    Appliance,
    DiscoveredServer,
    DiskType,
    LicenseType,
    MigrationItem,
    MigrationState,
    RecoveryPoint,
    ReplicationPolicy,
    RunAsAccount,
)
from replication.replicate import (
    POLICY_NAME,
    DiskChoice,
    Problem,
    ReplicationInvalid,
    ReplicationPlan,
    ServerPlan,
    default_os_disk_id,
    plan_for_item,
    replication_enable,
    replication_update,
)
from replication.status import item_status

ITEM_TYPE = f"{VAULT_TYPE}/replicationFabrics/replicationProtectionContainers/replicationMigrationItems"
RECOVERY_POINT_TYPE = f"{ITEM_TYPE}/migrationRecoveryPoints"
POLICY_TYPE = f"{VAULT_TYPE}/replicationPolicies"
JOB_TYPE = f"{VAULT_TYPE}/replicationJobs"
PROVIDER = "InMageRcm"
VMWARE_CBT = "VMwareCbt"
# ASR's idle currentJob (ARM-API.md 4.3): a job named "None" that started at SQL Server's minimum date.
IDLE_JOB_START = "1753-01-01T01:01:01Z"
# How ASR writes "not ended yet" in a task.
NOT_ENDED = "0001-01-01T00:00:00"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
GIB = 1024**3
PROVIDER_DETAILS = "properties.providerSpecificDetails"
# The health error replication.status raises when initial replication has stopped moving.
NO_PROGRESS_ERROR = "78160"

WRITE_REPLICATION_POLICY = access.Permission(
    ("Microsoft.RecoveryServices/vaults/replicationPolicies/write",),
    "Contributor or Owner",
    "create or change replication policies",
)
# Azure's own action names for the item verbs, so a refusal names what a custom role would need.
TEST_MIGRATE = access.Permission((f"{ITEM_TYPE}/testMigrate/action",), "Contributor or Owner", "test migrate servers")
CLEAN_UP_TEST_MIGRATION = access.Permission(
    (f"{ITEM_TYPE}/testMigrateCleanup/action",), "Contributor or Owner", "clean up test migrations"
)
MIGRATE = access.Permission((f"{ITEM_TYPE}/migrate/action",), "Contributor or Owner", "migrate servers")
RESYNC = access.Permission((f"{ITEM_TYPE}/resync/action",), "Contributor or Owner", "resynchronize replication")
PAUSE_OR_RESUME = access.Permission(
    (f"{ITEM_TYPE}/pauseReplication/action",), "Contributor or Owner", "pause or resume replication"
)
STOP_REPLICATION = access.Permission((f"{ITEM_TYPE}/delete",), "Contributor or Owner", "stop replication")

# Where each of Replicate's wizard fields lives in an enable or update body, so a refusal names the
# property the client sent.
API_FIELDS = {
    "servers": f"{PROVIDER_DETAILS}.fabricDiscoveryMachineId",
    "os": f"{PROVIDER_DETAILS}.fabricDiscoveryMachineId",
    "appliance": f"{PROVIDER_DETAILS}.processServerId",
    "guest_credentials": f"{PROVIDER_DETAILS}.runAsAccountId",
    "target_resource_group": f"{PROVIDER_DETAILS}.targetResourceGroupId",
    "target_network": f"{PROVIDER_DETAILS}.targetNetworkId",
    "target_subnet": f"{PROVIDER_DETAILS}.targetSubnetName",
    "test_network": f"{PROVIDER_DETAILS}.testNetworkId",
    "test_subnet": f"{PROVIDER_DETAILS}.testSubnetName",
    "vm_name": f"{PROVIDER_DETAILS}.targetVmName",
    "vm_size": f"{PROVIDER_DETAILS}.targetVmSize",
    "disks": f"{PROVIDER_DETAILS}.disksToInclude",
    "os_disk": f"{PROVIDER_DETAILS}.disksToInclude",
    "availability_set": f"{PROVIDER_DETAILS}.targetAvailabilitySetId",
    "hybrid_benefit": f"{PROVIDER_DETAILS}.licenseType",
    "target_region": "properties",
}


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _flag(value: bool) -> str:
    """ASR's InMageRcm shapes carry booleans as the strings "true" and "false"."""
    return "true" if value else "false"


# Reading request bodies


class BodyReader:
    """Reads one JSON object of a request body, field by field; every malformed field is remembered
    (with its path) so the 400 lists them all at once."""

    def __init__(self, data, path: str = "", errors: list | None = None):
        # Below a missing or malformed object nothing more is said: its own error covers it.
        self.present = isinstance(data, dict)
        self.data = data if self.present else {}
        self.path = path
        self.errors: list[dict] = [] if errors is None else errors
        # JSON property names are matched case-insensitively, as ARM does.
        self._keys = {str(key).lower(): key for key in self.data}

    def target(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> None:
        self.errors.append({"code": "InvalidParameter", "target": self.target(key), "message": message})

    def raw(self, key: str):
        return self.data.get(self._keys.get(key.lower()))

    def has(self, key: str) -> bool:
        return key.lower() in self._keys and self.raw(key) is not None

    def text(self, key: str, *, required: bool = False, max_length: int = 400) -> str | None:
        value = self.raw(key)
        if value is None:
            if required and self.present:
                self.fail(key, f"'{self.target(key)}' is required.")
            return None
        if not isinstance(value, str):
            self.fail(key, f"'{self.target(key)}' must be a string.")
            return None
        if len(value) > max_length:
            self.fail(key, f"'{self.target(key)}' is longer than {max_length} characters.")
            return None
        return value.strip()

    def integer(self, key: str, *, low: int, high: int) -> int | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(key, f"'{self.target(key)}' must be a whole number from {low} to {high}.")
            return None
        return value

    def child(self, key: str, *, required: bool = False) -> BodyReader:
        value = self.raw(key)
        if value is None:
            if required and self.present:
                self.fail(key, f"'{self.target(key)}' is required.")
        elif not isinstance(value, dict):
            self.fail(key, f"'{self.target(key)}' must be a JSON object.")
        return BodyReader(value, self.target(key), self.errors)

    def children(self, key: str) -> list[BodyReader] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail(key, f"'{self.target(key)}' must be a JSON array.")
            return []
        readers = []
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                self.fail(f"{key}[{index}]", f"'{self.target(key)}[{index}]' must be a JSON object.")
                continue
            readers.append(BodyReader(entry, f"{self.target(key)}[{index}]", self.errors))
        return readers

    def raise_errors(self) -> None:
        if self.errors:
            first = self.errors[0]
            raise ArmError(400, "InvalidRequestContent", first["message"], first["target"], list(self.errors))


def _body(request) -> BodyReader:
    if not isinstance(request.data, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return BodyReader(request.data)


def _instance_type(details: BodyReader) -> str:
    value = details.text("instanceType", required=True, max_length=40)
    if value is None:
        return ""
    for known in (PROVIDER, VMWARE_CBT):
        if value.lower() == known.lower():
            return known
    details.fail("instanceType", f"instanceType '{value}' is not served here: use '{PROVIDER}' (or '{VMWARE_CBT}').")
    return ""


@dataclass
class DiskInput:
    disk_id: str
    disk_type: str | None
    is_os_disk: bool | None  # VMwareCbt says which disk boots; InMageRcm leaves it to the machine


@dataclass
class TargetInput:
    """The target settings an enable or update body carries (None: not given)."""

    instance_type: str = PROVIDER
    policy_id: str | None = None
    machine_id: str | None = None
    process_server_id: str | None = None
    run_as_account_id: str | None = None
    target_resource_group_id: str | None = None
    target_vm_name: str | None = None
    target_vm_size: str | None = None
    target_network_id: str | None = None
    target_subnet_name: str | None = None
    test_network_id: str | None = None
    test_subnet_name: str | None = None
    license_type: str | None = None
    availability_set_id: str | None = None
    disks: list[DiskInput] | None = None
    disks_default_type: str | None = None
    given: set[str] = field(default_factory=set)


def _read_targets(details: BodyReader, target: TargetInput) -> None:
    """The properties InMageRcm and VMwareCbt name alike."""
    for attribute, key in (
        ("target_resource_group_id", "targetResourceGroupId"),
        ("target_vm_name", "targetVmName"),
        ("target_vm_size", "targetVmSize"),
        ("target_network_id", "targetNetworkId"),
        ("target_subnet_name", "targetSubnetName"),
        ("test_network_id", "testNetworkId"),
        ("test_subnet_name", "testSubnetName"),
        ("license_type", "licenseType"),
        ("availability_set_id", "targetAvailabilitySetId"),
    ):
        value = details.text(key)
        if value is not None:
            setattr(target, attribute, value)
            target.given.add(attribute)
    nics = details.children("vmNics") or []
    # One subnet per VM here: the primary NIC's choice wins, else the first NIC that names one.
    nics.sort(key=lambda nic: str(nic.raw("isPrimaryNic")).lower() != "true")
    for attribute, key in (("target_subnet_name", "targetSubnetName"), ("test_subnet_name", "testSubnetName")):
        named = [name for name in (nic.text(key) for nic in nics) if name]
        if attribute not in target.given and named:
            setattr(target, attribute, named[0])
            target.given.add(attribute)


def read_enable_input(request) -> TargetInput:
    body = _body(request)
    properties = body.child("properties", required=True)
    target = TargetInput(policy_id=properties.text("policyId", required=True))
    details = properties.child("providerSpecificDetails", required=True)
    if details.data:
        target.instance_type = _instance_type(details)
    if target.instance_type == PROVIDER:
        target.machine_id = details.text("fabricDiscoveryMachineId")
        target.process_server_id = details.text("processServerId")
        target.run_as_account_id = details.text("runAsAccountId")
    else:
        target.machine_id = details.text("vmwareMachineId")
        target.run_as_account_id = details.text("dataMoverRunAsAccountId")
    _read_targets(details, target)
    disks = details.children("disksToInclude")
    if disks is not None:
        target.disks = []
        for disk in disks:
            disk_id = disk.text("diskId", required=True, max_length=128)
            is_os = disk.text("isOSDisk")
            if disk_id is not None:
                target.disks.append(
                    DiskInput(disk_id, disk.text("diskType"), None if is_os is None else is_os.lower() == "true")
                )
    elif details.has("disksDefault"):
        target.disks_default_type = details.child("disksDefault").text("diskType")
    body.raise_errors()
    return target


def read_update_input(request) -> TargetInput:
    body = _body(request)
    details = body.child("properties", required=True).child("providerSpecificDetails", required=True)
    target = TargetInput()
    if details.data:
        target.instance_type = _instance_type(details)
    _read_targets(details, target)
    body.raise_errors()
    return target


@dataclass
class ActionInput:
    """What a testMigrate, testMigrateCleanup, migrate or resync body says (None: not given)."""

    network_id: str | None = None
    subnet_name: str | None = None
    recovery_point_id: str | None = None
    perform_shutdown: bool = True
    comments: str = ""


def _action_details(request) -> tuple[BodyReader, BodyReader]:
    """The body and its properties.providerSpecificDetails. Both may be absent: every verb has a
    default for everything (the item's test network, shutdown, the latest point)."""
    body = _body(request)
    details = body.child("properties").child("providerSpecificDetails")
    if details.data:
        _instance_type(details)
    return body, details


def _primary_nic_text(details: BodyReader, key: str) -> str | None:
    """A per-NIC choice (VMwareCbt's vmNics[]): one subnet per VM here, so the primary NIC's wins, else
    the first NIC that names one."""
    nics = details.children("vmNics") or []
    nics.sort(key=lambda nic: str(nic.raw("isPrimaryNic")).lower() != "true")
    return next((value for value in (nic.text(key) for nic in nics) if value), None)


def read_test_migrate_input(request) -> ActionInput:
    body, details = _action_details(request)
    given = ActionInput(
        network_id=details.text("networkId"),
        # InMageRcm names the test subnet on the item; a body may name it here or per NIC.
        subnet_name=details.text("testSubnetName") or _primary_nic_text(details, "testSubnetName"),
        recovery_point_id=details.text("recoveryPointId"),
    )
    body.raise_errors()
    return given


def read_migrate_input(request) -> ActionInput:
    body, details = _action_details(request)
    given = ActionInput(recovery_point_id=details.text("recoveryPointId"))
    shutdown = details.raw("performShutdown")
    # ASR's models carry it as the string "true" or "false"; a JSON boolean means the same.
    if isinstance(shutdown, bool):
        given.perform_shutdown = shutdown
    elif isinstance(shutdown, str) and shutdown.strip().lower() in ("true", "false"):
        given.perform_shutdown = shutdown.strip().lower() == "true"
    elif shutdown is not None:
        details.fail("performShutdown", f'\'{details.target("performShutdown")}\' must be "true" or "false".')
    body.raise_errors()
    return given


def read_cleanup_input(request) -> ActionInput:
    body = _body(request)
    comments = body.child("properties").text("comments", max_length=1000)
    body.raise_errors()
    return ActionInput(comments=comments or "")


def read_resync_input(request) -> ActionInput:
    """InMageRcm has no resync options; VMwareCbt's skipCbtReset has no meaning here and is ignored."""
    body, _ = _action_details(request)
    body.raise_errors()
    return ActionInput()


# ARM ids in bodies


def _id_parts(arm_id: str, resource_type: str | None = None) -> tuple[str, str, str | None] | None:
    """(subscription, resource group, name) of `/subscriptions/{s}/resourceGroups/{rg}[/providers/
    {Namespace}/{type}/{name}]`, keywords in any case; None when it is not that shape."""
    parts = [part for part in arm_id.strip().split("/") if part]
    lowered = [part.lower() for part in parts]
    if len(parts) < 4 or lowered[0] != "subscriptions" or lowered[2] != "resourcegroups":
        return None
    if resource_type is None:
        return (parts[1], parts[3], None) if len(parts) == 4 else None
    namespace, type_name = resource_type.lower().split("/")
    if len(parts) != 8 or lowered[4:7] != ["providers", namespace, type_name.lower()]:
        return None
    return parts[1], parts[3], parts[7]


def _last_segment(value: str) -> str:
    return value.rstrip("/").rsplit("/", 1)[-1]


class Resolver:
    """Turns the ids of a body into the hub's objects, as this user sees them; what does not resolve
    becomes a problem naming the property."""

    def __init__(self, user, vault: Vault, server: DiscoveredServer | None):
        self.user, self.vault, self.project = user, vault, vault.project
        self.server_name = server.name if server else ""
        self.problems: list[Problem] = []

    def problem(self, key: str, rule: str, message: str) -> None:
        self.problems.append(Problem(f"{PROVIDER_DETAILS}.{key}", rule, message, self.server_name))

    def group(self, arm_id: str, key: str = "targetResourceGroupId") -> ResourceGroup | None:
        parts = _id_parts(arm_id)
        if parts is None:
            self.problem(
                key,
                "InvalidResourceId",
                f"'{arm_id}' is not a resource group id (/subscriptions/{{s}}/resourceGroups/{{name}}).",
            )
            return None
        return self._visible_group(parts[0], parts[1], key)

    def _visible_group(self, subscription_id: str, name: str, key: str) -> ResourceGroup | None:
        try:
            return access.get_group(self.user, subscription_id, name)
        except ArmError:
            self.problem(key, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
            return None

    def network(self, arm_id: str, key: str) -> VirtualNetwork | None:
        parts = _id_parts(arm_id, VirtualNetwork.arm_type)
        if parts is None:
            self.problem(key, "InvalidResourceId", f"'{arm_id}' is not a virtual network id.")
            return None
        group = self._visible_group(parts[0], parts[1], key)
        if group is None:
            return None
        try:
            return access.get_network(self.user, group, parts[2])
        except ArmError:
            self.problem(key, "VirtualNetworkNotFound", f"Virtual network '{parts[2]}' could not be found in {group}.")
            return None

    def availability_set(self, arm_id: str) -> AvailabilitySet | None:
        key = "targetAvailabilitySetId"
        parts = _id_parts(arm_id, AvailabilitySet.arm_type)
        if parts is None:
            self.problem(key, "InvalidResourceId", f"'{arm_id}' is not an availability set id.")
            return None
        group = self._visible_group(parts[0], parts[1], key)
        found = AvailabilitySet.objects.filter(resource_group=group, name__iexact=parts[2]).first() if group else None
        if group is not None and found is None:
            self.problem(key, "AvailabilitySetNotFound", f"Availability set '{parts[2]}' could not be found.")
        return found

    def appliance(self, value: str) -> Appliance | None:
        """A process server: its id in the fabric's processServers, or its provider's ARM id."""
        found = self.project.appliances.filter(pk=parse_uuid(_last_segment(value))).first()
        if found is None:
            self.problem(
                "processServerId",
                "ProcessServerNotFound",
                f"'{value}' is not a process server of this vault: use an id from the fabric's "
                "customDetails.processServers.",
            )
        return found

    def run_as_account(self, value: str) -> RunAsAccount | None:
        name = _last_segment(value)
        accounts = RunAsAccount.objects.filter(appliance__project=self.project)
        found = accounts.filter(pk=parse_uuid(name)).first() or accounts.filter(friendly_name__iexact=name).first()
        if found is None:
            self.problem(
                "runAsAccountId", "RunAsAccountNotFound", f"'{value}' is not guest credentials of this project."
            )
        return found

    def policy(self, value: str) -> ReplicationPolicy | None:
        """The item's policy; the default one is made on first use, as Replicate does."""
        name = _last_segment(value)
        policies_path = f"{self.vault.id}/replicationPolicies/".lower()
        in_vault = "/" not in value.strip("/") or value.lower().startswith(policies_path)
        found = self.project.policies.filter(name__iexact=name).first() if in_vault else None
        if found is None and not (in_vault and name.lower() == POLICY_NAME):
            self.problems.append(
                Problem(
                    "properties.policyId",
                    "PolicyNotFound",
                    f"'{value}' is not a replication policy of vault {self.vault.resource.name}.",
                    self.server_name,
                )
            )
        return found

    def license(self, value: str, server: DiscoveredServer) -> bool | None:
        """Azure Hybrid Benefit or not; None: NotSpecified (keep what there is)."""
        known = {choice.lower(): choice for choice in ("NotSpecified", *LicenseType.values)}
        chosen = known.get(value.lower())
        if chosen is None:
            self.problem(
                "licenseType", "InvalidLicenseType", f"licenseType '{value}' is not one of {', '.join(known.values())}."
            )
            return None
        if chosen == LicenseType.WINDOWS_SERVER and server.os_type != "Windows":
            self.problem(
                "licenseType",
                "HybridBenefitWindowsOnly",
                f"Azure Hybrid Benefit applies to Windows Server only; {server.name} runs {server.os_name}.",
            )
        return None if chosen == "NotSpecified" else chosen == LicenseType.WINDOWS_SERVER

    def disk_type(self, value: str | None, key: str) -> str:
        if value is None:
            return DiskType.STANDARD_SSD
        chosen = {choice.lower(): choice for choice in DiskType.values}.get(value.lower())
        if chosen is None:
            self.problem(
                key,
                "UnsupportedDiskType",
                f"diskType '{value}' is not offered for migrated servers: use {', '.join(DiskType.values)}.",
            )
            return DiskType.STANDARD_SSD
        return chosen

    def raise_problems(self) -> None:
        if self.problems:
            raise ReplicationInvalid(self.problems)


def _in_api_terms(invalid: ReplicationInvalid) -> ArmError:
    """Replicate's refusal, each problem pointing at the body property instead of the wizard field."""
    problems = [replace(problem, field=API_FIELDS.get(problem.field, problem.field)) for problem in invalid.problems]
    taken = next((problem for problem in problems if problem.rule == "AlreadyReplicating"), None)
    if taken is not None:
        return ArmError(409, taken.rule, taken.message, taken.field)
    return ReplicationInvalid(problems)


def _discovered_server(vault: Vault, item_name: str, machine_id: str | None) -> DiscoveredServer:
    """The server the URL names; a body that names another machine is refused rather than guessed."""
    key = "fabricDiscoveryMachineId"
    if machine_id and _last_segment(machine_id).lower() != item_name.lower():
        raise ArmError(
            400,
            "InvalidParameter",
            f"The body names machine '{_last_segment(machine_id)}' but the URL names '{item_name}': a migration "
            "item is named after its discovered machine (the protectable item's name).",
            f"{PROVIDER_DETAILS}.{key}",
        )
    server = (
        vault.project.discovered_servers.discovered(clock.now())
        .select_related("appliance")
        .filter(pk=parse_uuid(item_name))
        .first()
    )
    if server is None:
        raise ArmError(
            400,
            "DiscoveredMachineNotFound",
            f"'{item_name}' is not a discovered server of vault {vault.resource.name}: use the name of one of the "
            "container's replicationProtectableItems.",
            f"{PROVIDER_DETAILS}.{key}",
        )
    return server


def enable_plan(user, vault: Vault, server: DiscoveredServer, target: TargetInput) -> ReplicationPlan:
    resolve = Resolver(user, vault, server)
    policy = resolve.policy(target.policy_id or "")
    appliance = server.appliance
    if target.process_server_id:
        appliance = resolve.appliance(target.process_server_id)
    run_as_account = resolve.run_as_account(target.run_as_account_id) if target.run_as_account_id else None
    group = resolve.group(target.target_resource_group_id) if target.target_resource_group_id else None
    network = resolve.network(target.target_network_id, "targetNetworkId") if target.target_network_id else None
    test_network = resolve.network(target.test_network_id, "testNetworkId") if target.test_network_id else None
    availability_set = resolve.availability_set(target.availability_set_id) if target.availability_set_id else None
    hybrid_benefit = bool(resolve.license(target.license_type, server)) if target.license_type else False
    os_disk_id = default_os_disk_id(server)
    if target.disks is not None:
        listed = {disk.disk_id: disk for disk in target.disks}
        choices = [
            DiskChoice(disk.disk_id, True, resolve.disk_type(disk.disk_type, "disksToInclude")) for disk in target.disks
        ]
        choices += [DiskChoice(disk["diskId"], False) for disk in server.disks if disk["diskId"] not in listed]
        os_disk_id = next((disk.disk_id for disk in target.disks if disk.is_os_disk), os_disk_id)
    else:
        disk_type = resolve.disk_type(target.disks_default_type, "disksDefault.diskType")
        choices = [DiskChoice(disk["diskId"], True, disk_type) for disk in server.disks]
    resolve.raise_problems()
    return ReplicationPlan(
        appliance=appliance,
        target_resource_group=group,
        target_network=network,
        target_subnet=target.target_subnet_name or "",
        hybrid_benefit=hybrid_benefit,
        servers=[
            ServerPlan(
                server=server,
                vm_name=target.target_vm_name or server.name,
                vm_size=target.target_vm_size or "",
                os_disk_id=os_disk_id,
                availability_set=availability_set,
                disks=choices,
            )
        ],
        run_as_account=run_as_account,
        test_network=test_network,
        test_subnet=target.test_subnet_name or "",
        policy=policy,
        guest_credentials_required=False,
    )


def update_plan(user, vault: Vault, item: MigrationItem, target: TargetInput) -> ReplicationPlan:
    """The item's current settings with what the body changes; an empty string clears an optional id
    (test network, availability set) or returns the size to automatic."""
    resolve = Resolver(user, vault, item.server)
    plan, server_plan = plan_for_item(item)
    given = target.given
    if "target_vm_name" in given:
        server_plan.vm_name = target.target_vm_name
    if "target_vm_size" in given:
        server_plan.vm_size = target.target_vm_size
    if "target_resource_group_id" in given:
        plan.target_resource_group = resolve.group(target.target_resource_group_id)
    if "target_network_id" in given:
        plan.target_network = resolve.network(target.target_network_id, "targetNetworkId")
    if "target_subnet_name" in given:
        plan.target_subnet = target.target_subnet_name
    if "test_network_id" in given:
        plan.test_network = resolve.network(target.test_network_id, "testNetworkId") if target.test_network_id else None
    if "test_subnet_name" in given:
        plan.test_subnet = target.test_subnet_name
    if "license_type" in given:
        hybrid_benefit = resolve.license(target.license_type, item.server)
        if hybrid_benefit is not None:
            plan.hybrid_benefit = hybrid_benefit
    if "availability_set_id" in given:
        server_plan.availability_set = (
            resolve.availability_set(target.availability_set_id) if target.availability_set_id else None
        )
    resolve.raise_problems()
    return plan


# OData $filter and paging


CLAUSE = re.compile(r"^\s*([A-Za-z]+)\s+(eq|ne|ge|gt|le|lt)\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)


def filter_clauses(text: str | None) -> list[tuple[str, str, str]]:
    """(lower-cased name, operator, value) of each `name op 'value'` joined by `and`. Clauses of any
    other shape are ignored: a filter narrows a list, it never makes the request fail."""
    clauses = []
    for part in re.split(r"\s+and\s+", text or "", flags=re.IGNORECASE):
        match = CLAUSE.match(part)
        if match:
            clauses.append((match.group(1).lower(), match.group(2).lower(), match.group(3).replace("''", "'")))
    return clauses


def _filter_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ArmError(
            400, "InvalidParameter", f"'{value}' in $filter is not an ISO 8601 date and time.", "$filter"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _page_token(request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not value.isdecimal() or len(value) > 9:
        raise ArmError(400, "InvalidParameter", f"{name} '{value}' is not a token this hub issued.", name)
    return int(value)


def paged_list(request, rows, shape_page) -> Response:
    """One page of `rows` (skipToken: where it starts, takeToken: its size), shaped by
    `shape_page(rows) -> bodies`, and an absolute nextLink that carries the query on, as ARM lists do."""
    skip = _page_token(request, "skipToken", 0)
    take = min(max(_page_token(request, "takeToken", DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE)
    chunk = list(rows[skip : skip + take + 1])
    body = {"value": shape_page(chunk[:take])}
    if len(chunk) > take:
        query = {"api-version": request.query_params.get("api-version", ""), "skipToken": str(skip + take)}
        if request.query_params.get("takeToken"):
            query["takeToken"] = str(take)
        if request.query_params.get("$filter"):
            query["$filter"] = request.query_params["$filter"]
        body["nextLink"] = request.build_absolute_uri(f"{request.path}?{urlencode(query, quote_via=quote)}")
    return Response(body)


# Shapes


def item_id(vault: Vault, item: MigrationItem) -> str:
    return f"{vault.container_id}/replicationMigrationItems/{item.arm_name}"


def policy_id(vault: Vault, policy: ReplicationPolicy) -> str:
    return f"{vault.id}/replicationPolicies/{policy.name}"


def job_id(vault: Vault, job_pk) -> str:
    return f"{vault.id}/replicationJobs/{job_pk}"


@dataclass
class ItemContext:
    """What every item of a response shares, read once."""

    vault: Vault
    now: datetime
    log_storage_account_id: str | None
    job_history: dict[str, list[Job]]


def item_context(vault: Vault, items: list[MigrationItem]) -> ItemContext:
    storage = vault.project.migration_resources.filter(kind=MigrationResource.Kind.STORAGE_ACCOUNT).first()
    history: dict[str, list[Job]] = {}
    jobs = Job.objects.filter(target_object_id__in=[str(item.pk) for item in items]).order_by("-created_at")
    for job in jobs:
        history.setdefault(job.target_object_id, []).append(job)
    return ItemContext(vault, clock.now(), storage.arm_id if storage else None, history)


def _items(vault: Vault):
    return (
        MigrationItem.objects.active()
        .filter(project=vault.project)
        .select_related(
            "server",
            "appliance",
            "policy",
            "run_as_account",
            "current_job",
            "project",
            "target_resource_group__subscription",
            "target_network__resource_group__subscription",
            "test_network__resource_group__subscription",
        )
        .prefetch_related("disks")
        .order_by("created_at", "pk")
    )


def _current_job(vault: Vault, job: Job | None) -> dict:
    if job is None or job.is_terminal:
        return {"jobName": "None", "jobId": job_id(vault, "None"), "startTime": IDLE_JOB_START}
    return {
        "jobName": job.scenario_name,
        "jobId": job_id(vault, job.pk),
        "startTime": _iso(job.started_at or job.created_at),
    }


def _vm_nics(item: MigrationItem) -> list[dict]:
    nics = item.server.nics or []
    return [
        {
            "nicId": nic.get("nicId", f"nic{index}"),
            "isPrimaryNic": _flag(nic.get("isPrimary", index == 0)),
            "isSelectedForFailover": "true",
            "sourceIPAddress": next(iter(nic.get("ipAddresses") or []), None),
            "sourceIPAddressType": "Dynamic",
            "sourceNetworkId": None,
            "sourceSubnetName": None,
            "targetIPAddress": None,
            "targetIPAddressType": "Dynamic",
            "targetSubnetName": item.target_subnet_name or None,
            "testSubnetName": item.test_subnet_name or None,
            "testIPAddress": None,
            "testIPAddressType": "Dynamic",
            "targetNicName": None,
        }
        for index, nic in enumerate(nics)
    ]


def item_body(context: ItemContext, item: MigrationItem) -> dict:
    vault, server = context.vault, item.server
    status = item_status(item, context.now)
    disks = list(item.disks.all())
    this_id = item_id(vault, item)
    progress_health = "None"
    initial_done = item.initial_replication_completed_at is not None
    if item.migration_state == MigrationState.INITIAL_SEEDING_IN_PROGRESS and item.replication_started_at:
        stalled = any(error["errorCode"] == NO_PROGRESS_ERROR for error in status.health_errors)
        progress_health = "NoProgress" if stalled else "InProgress"
    resync = any(disk.resync_required for disk in disks if disk.included)
    primary_ip = next((ip for nic in server.nics if nic.get("isPrimary") for ip in nic.get("ipAddresses", [])), None)
    details = {
        "instanceType": PROVIDER,
        "internalIdentifier": str(item.pk),
        "fabricDiscoveryMachineId": f"{vault.container_id}/replicationProtectableItems/{server.pk}",
        "discoveryType": "PhysicalMachine",
        "processServerId": str(item.appliance_id),
        "processServerName": item.appliance.name,
        "runAsAccountId": str(item.run_as_account_id) if item.run_as_account_id else None,
        "processorCoreCount": server.cores,
        "allocatedMemoryInMB": float(server.memory_mb),
        "osType": server.os_type,
        "osName": f"{server.os_name} {server.os_version}".strip(),
        "firmwareType": server.firmware,
        "primaryNicIpAddress": primary_ip or next(iter(server.ip_addresses), None),
        "targetGeneration": "V2" if server.firmware.upper() == "UEFI" else "V1",
        "licenseType": item.license_type,
        "targetVmName": item.target_vm_name,
        "targetVmSize": item.target_vm_size,
        "targetResourceGroupId": item.target_resource_group.arm_id if item.target_resource_group else None,
        "targetLocation": item.project.target_region,
        "targetAvailabilitySetId": item.target_availability_set_id or None,
        "targetAvailabilityZone": None,
        "targetProximityPlacementGroupId": None,
        "targetBootDiagnosticsStorageAccountId": None,
        "targetNetworkId": item.target_network.arm_id if item.target_network else None,
        "testNetworkId": item.test_network.arm_id if item.test_network else None,
        "failoverRecoveryPointId": None,
        "lastRecoveryPointReceived": _iso(item.last_recovery_point_at),
        "lastRpoInSeconds": status.rpo_seconds,
        "lastRpoCalculatedTime": _iso(context.now) if status.rpo_seconds is not None else None,
        "lastRecoveryPointId": (
            f"{this_id}/migrationRecoveryPoints/{item.last_recovery_point_id}" if item.last_recovery_point_id else None
        ),
        "initialReplicationProgressPercentage": status.initial_progress_percent,
        "initialReplicationProcessedBytes": status.processed_bytes,
        "initialReplicationTransferredBytes": status.transferred_bytes,
        "initialReplicationProgressHealth": progress_health,
        "resyncProgressPercentage": None,
        "resyncRequired": _flag(resync),
        "resyncState": "StartedResynchronization" if resync else "None",
        "agentUpgradeState": "None",
        "protectedDisks": [
            {
                "diskId": disk.disk_id,
                "diskName": disk.name or disk.disk_id,
                "isOSDisk": _flag(disk.is_os_disk),
                "capacityInBytes": disk.size_bytes,
                "diskState": "Protected" if initial_done else "InitialReplicationPending",
                "logStorageAccountId": context.log_storage_account_id,
                "seedManagedDiskId": None,
                "targetManagedDiskId": None,
                "diskType": disk.disk_type,
                "dataPendingInLogDataStoreInMB": 0.0,
                "dataPendingAtSourceAgentInMB": 0.0,
                "isInitialReplicationComplete": _flag(initial_done),
                "customTargetDiskName": None,
                "sectorSizeInBytes": 512,
                "diskSizeInGB": math.ceil(disk.size_bytes / GIB),
            }
            for disk in disks
            if disk.included
        ],
        "unprotectedDisks": [
            {"diskId": disk.disk_id, "diskName": disk.name or disk.disk_id, "capacityInBytes": disk.size_bytes}
            for disk in disks
            if not disk.included
        ],
        "mobilityAgentDetails": {
            "version": server.agent_version or None,
            "latestVersion": server.agent_version or None,
            "driverVersion": server.agent_version or None,
            "lastHeartbeatUtc": _iso(server.agent_last_heartbeat_at),
            "isUpgradeable": "false",
            "reasonsBlockingUpgrade": [],
            "osFamilyName": server.os_type,
            "distroName": f"{server.os_name} {server.os_version}".strip(),
        },
        "vmNics": _vm_nics(item),
        "targetVmTags": [],
        "supportedOSVersions": [],
    }
    history = context.job_history.get(str(item.pk), [])
    return {
        "id": this_id,
        "name": item.arm_name,
        "type": ITEM_TYPE,
        "properties": {
            "machineName": server.name,
            "policyId": policy_id(vault, item.policy),
            "policyFriendlyName": item.policy.name,
            "recoveryServicesProviderId": vault.provider_id(item.appliance),
            "replicationStatus": status.replication_status,
            "migrationState": item.migration_state,
            "migrationStateDescription": status.migration_state_description,
            "lastTestMigrationTime": _iso(item.last_test_migration_at),
            "lastTestMigrationStatus": item.last_test_migration_status or None,
            "lastMigrationTime": _iso(item.last_migration_at),
            "lastMigrationStatus": item.last_migration_status or None,
            "testMigrateState": item.test_migrate_state,
            "testMigrateStateDescription": status.test_migrate_state_description,
            "health": status.health,
            "healthErrors": status.health_errors,
            "allowedOperations": status.allowed_operations,
            "currentJob": _current_job(vault, item.current_job),
            "criticalJobHistory": [
                {
                    "jobName": job.scenario_name,
                    "jobId": job_id(vault, job.pk),
                    "startTime": _iso(job.started_at or job.created_at),
                    "jobStatus": job.state,
                }
                for job in history[:10]
            ],
            "eventCorrelationId": str(item.pk),
            "providerSpecificDetails": details,
        },
    }


def recovery_point_body(vault: Vault, item: MigrationItem, point: RecoveryPoint) -> dict:
    return {
        "id": f"{item_id(vault, item)}/migrationRecoveryPoints/{point.pk}",
        "name": str(point.pk),
        "type": RECOVERY_POINT_TYPE,
        "properties": {"recoveryPointTime": _iso(point.captured_at), "recoveryPointType": point.point_type},
    }


def policy_body(vault: Vault, policy: ReplicationPolicy) -> dict:
    return {
        "id": policy_id(vault, policy),
        "name": policy.name,
        "type": POLICY_TYPE,
        "properties": {
            "friendlyName": policy.name,
            "providerSpecificDetails": {
                "instanceType": PROVIDER,
                "recoveryPointHistoryInMinutes": policy.recovery_point_history_minutes,
                # The hub's cycle is in seconds; ASR speaks in whole minutes, so a sub-minute test
                # cycle shows as one minute.
                "crashConsistentFrequencyInMinutes": max(1, math.ceil(policy.cycle_seconds / 60)),
                "appConsistentFrequencyInMinutes": policy.app_consistent_frequency_minutes,
                "enableMultiVmSync": "false",
            },
        },
    }


def _state_label(state: str) -> str:
    return State(state).label if state in State.values else state


def _time_or_not_ended(moment) -> str:
    return _iso(moment) if moment else NOT_ENDED


def _job_error(error: dict) -> dict:
    service = error.get("serviceErrorDetails") or {}
    return {
        "serviceErrorDetails": {
            "code": service.get("code"),
            "message": service.get("message"),
            "possibleCauses": service.get("possibleCauses") or "",
            "recommendedAction": service.get("recommendedAction") or "",
            "activityId": None,
        },
        # Errors raised by the hub itself: no provider (appliance) error to report.
        "providerErrorDetails": None,
        "errorLevel": error.get("errorLevel", "Error"),
        "creationTime": error.get("creationTime"),
        "taskId": error.get("taskId"),
    }


def job_body(vault: Vault, job: Job) -> dict:
    return {
        "id": job_id(vault, job.pk),
        "name": str(job.pk),
        "type": JOB_TYPE,
        "properties": {
            "activityId": str(job.pk),
            "scenarioName": job.scenario_name,
            "friendlyName": job.friendly_name,
            "state": job.state,
            "stateDescription": job.state_description or _state_label(job.state),
            "tasks": [
                {
                    "taskId": task.name,
                    "name": task.name,
                    "friendlyName": task.friendly_name,
                    "startTime": _time_or_not_ended(task.started_at),
                    "endTime": _time_or_not_ended(task.ended_at),
                    "allowedActions": [],
                    "state": task.state,
                    "stateDescription": _state_label(task.state),
                    "taskType": "TaskDetails",
                    "customDetails": {"instanceType": "TaskDetails"},
                    "groupTaskCustomDetails": None,
                    "errors": [_job_error(error) for error in task.errors],
                }
                for task in job.tasks.all()
            ],
            "errors": [_job_error(error) for error in job.errors],
            "startTime": _iso(job.started_at or job.created_at),
            "endTime": _iso(job.ended_at),
            # Cancel, restart and resume are not served, so none is offered.
            "allowedActions": [],
            "targetObjectId": job.target_object_id,
            "targetObjectName": job.target_object_name,
            "targetInstanceType": job.target_instance_type,
            "customDetails": {"instanceType": "AsrJobDetails", "affectedObjectDetails": {}},
        },
    }


# Lookups, all below a vault the caller may see


def _item_or_404(vault: Vault, name: str) -> MigrationItem:
    item = _items(vault).filter(server_id=parse_uuid(name)).first()
    if item is None:
        raise ArmError(
            404, "MigrationItemNotFound", f"Migration item '{name}' was not found in vault {vault.resource.name}."
        )
    return item


def _vault_jobs(request, vault: Vault):
    """The jobs of the vault's resource group, as far as the caller may see them."""
    group = vault.resource.resource_group
    return Job.objects.visible_to(request.user).filter(
        subscription_id=group.subscription_id, resource_group_name__iexact=group.name
    )


def _job_or_404(request, vault: Vault, name: str) -> Job:
    job = _vault_jobs(request, vault).filter(pk=parse_uuid(name)).prefetch_related("tasks").first()
    if job is None:
        raise ArmError(404, "JobNotFound", f"Job '{name}' was not found in vault {vault.resource.name}.")
    return job


def _authorize(user, vault: Vault, permission: access.Permission) -> None:
    group = vault.resource.resource_group
    access.authorize(user, permission, group.subscription, group.name)


class AsrView(ArmView):
    """A Site Recovery handler: a 202 names its job in x-ms-request-id, as ASR does."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        request_id = getattr(response, "asr_request_id", None)
        if request_id:
            response["x-ms-request-id"] = request_id
        return response


def job_accepted(request, vault: Vault, job: Job, resource_path: str) -> Response:
    """202 for an ASR job: Az.Migrate reads the job's name from either URL, so both keep ASR's layout."""
    response = accepted(
        request,
        location=f"{resource_path}/operationresults/{job.pk}",
        azure_async_operation=f"{vault.id}/replicationOperationStatus/{job.pk}",
    )
    response.asr_request_id = job_id(vault, job.pk)
    return response


# Migration items


NOTHING = Q(pk__in=[])
# $filter names an item list understands (ASR's MigrationItemsQueryParameter, and the item's own
# properties Az.Migrate users filter on); each gives the condition for a value.
ITEM_FILTERS = {
    "sourcefabricname": lambda value: Q() if value.lower() == FABRIC else NOTHING,
    "sourcecontainername": lambda value: Q() if value.lower() == CONTAINER else NOTHING,
    "instancetype": lambda value: Q() if value.lower() == PROVIDER.lower() else NOTHING,
    "machinename": lambda value: Q(server__name__iexact=value),
    "targetvmname": lambda value: Q(target_vm_name__iexact=value),
    "migrationstate": lambda value: Q(migration_state__iexact=value),
    "testmigratestate": lambda value: Q(test_migrate_state__iexact=value),
}


def _filtered_items(items, text: str | None):
    for name, operator, value in filter_clauses(text):
        if name in ITEM_FILTERS:
            condition = ITEM_FILTERS[name](value)
            items = items.exclude(condition) if operator == "ne" else items.filter(condition)
    return items


class MigrationItemListView(AsrView):
    @extend_schema(operation_id="ReplicationMigrationItems_List", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, vault_name, fabric_name=None, container_name=None):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        if fabric_name is not None:
            _container_or_404(vault, fabric_name, container_name)
        items = _filtered_items(_items(vault), request.query_params.get("$filter"))

        def shape_page(page: list[MigrationItem]) -> list[dict]:
            context = item_context(vault, page)
            return [item_body(context, item) for item in page]

        return paged_list(request, items, shape_page)


class MigrationItemView(AsrView):
    @extend_schema(operation_id="ReplicationMigrationItems_Get", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, vault_name, fabric_name, container_name, item_name):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        _container_or_404(vault, fabric_name, container_name)
        item = _item_or_404(vault, item_name)
        return Response(item_body(item_context(vault, [item]), item))

    @extend_schema(operation_id="ReplicationMigrationItems_Create", request=dict, responses={202: None})
    def put(self, request, subscription_id, resource_group_name, vault_name, fabric_name, container_name, item_name):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        _authorize(request.user, vault, access.REPLICATE_SERVERS)
        _container_or_404(vault, fabric_name, container_name)
        target = read_enable_input(request)
        server = _discovered_server(vault, item_name, target.machine_id)
        existing = MigrationItem.objects.filter(server=server).first()
        if existing is not None:
            raise ArmError(
                409,
                "AlreadyReplicating",
                f"{server.name} is already replicating (as {existing.target_vm_name}): a server can be replicated "
                "once. Change its settings with PATCH, or stop replication first.",
            )
        plan = enable_plan(request.user, vault, server, target)
        try:
            (job,) = replication_enable(request.user, vault.project, plan)
        except ReplicationInvalid as invalid:
            raise _in_api_terms(invalid) from None
        return job_accepted(request, vault, job, f"{vault.container_id}/replicationMigrationItems/{server.pk}")

    @extend_schema(operation_id="ReplicationMigrationItems_Update", request=dict, responses={200: dict})
    def patch(self, request, subscription_id, resource_group_name, vault_name, fabric_name, container_name, item_name):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        _authorize(request.user, vault, access.REPLICATE_SERVERS)
        _container_or_404(vault, fabric_name, container_name)
        item = _item_or_404(vault, item_name)
        target = read_update_input(request)
        if item.settings_locked:
            raise ArmError(
                409,
                "ReplicationSettingsLocked",
                f"{item.target_vm_name}: {item.settings_locked_reason} Stop replication and replicate the server "
                "again to change them.",
            )
        plan = update_plan(request.user, vault, item, target)
        try:
            replication_update(request.user, item, plan)
        except ReplicationInvalid as invalid:
            raise _in_api_terms(invalid) from None
        item = _item_or_404(vault, item_name)
        return Response(item_body(item_context(vault, [item]), item))

    @extend_schema(operation_id="ReplicationMigrationItems_Delete", responses={202: None, 204: None})
    def delete(self, request, subscription_id, resource_group_name, vault_name, fabric_name, container_name, item_name):
        """Stop replication. `deleteOption` is accepted and changes nothing: the hub always removes
        the replication data, and keeps a migrated VM."""
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        _authorize(request.user, vault, STOP_REPLICATION)
        _container_or_404(vault, fabric_name, container_name)
        item = _items(vault).filter(server_id=parse_uuid(item_name)).first()
        # Deleting what is gone succeeds (ARM's rule): never replicated, or already stopped (a
        # migrated server's item stays, to show the migration, once its stop job has ended).
        if item is None or (item.replication_stopped_at is not None and _job_ended(item.current_job)):
            return Response(status=204)
        job = migrate.stop_replication_start(request.user, item)
        return job_accepted(request, vault, job, item_id(vault, item))


class MigrationItemOperationResultView(AsrView):
    """`Location` of an item's job: 202 while it runs, then the item (or the job's error)."""

    @extend_schema(operation_id="ReplicationMigrationItems_OperationResult", responses={200: dict, 202: None})
    def get(
        self,
        request,
        subscription_id,
        resource_group_name,
        vault_name,
        fabric_name,
        container_name,
        item_name,
        job_name,
    ):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        _container_or_404(vault, fabric_name, container_name)
        job = _job_or_404(request, vault, job_name)
        if not job.is_terminal:
            return accepted(request, location=request.path)
        if job.state != State.SUCCEEDED:
            error = (job.first_error or {}).get("serviceErrorDetails", {})
            raise ArmError(409, error.get("code") or "OperationFailed", error.get("message") or "The job failed.")
        if job.scenario_name == "DisableMigration":
            # A DELETE's result is empty (and a never-migrated item is gone by now).
            return Response(status=204)
        item = _item_or_404(vault, item_name)
        return Response(item_body(item_context(vault, [item]), item))


def _job_ended(job: Job | None) -> bool:
    return job is None or job.is_terminal


def _check_recovery_point(vault: Vault, item: MigrationItem, value: str | None) -> None:
    """A named recovery point must be the latest: the hub keeps one replica per disk, at its newest
    point, so an older point cannot be built. Not naming one means the latest."""
    if not value:
        return
    target = f"{PROVIDER_DETAILS}.recoveryPointId"
    points = f"{item_id(vault, item)}/migrationRecoveryPoints"
    point = item.recovery_points.filter(pk=parse_uuid(_last_segment(value))).first()
    if point is None:
        raise ArmError(
            400,
            "RecoveryPointNotFound",
            f"'{value}' is not a recovery point of {item.target_vm_name}: list them at {points}.",
            target,
        )
    if point.pk != item.last_recovery_point_id:
        raise ArmError(
            400,
            "RecoveryPointNotLatest",
            f"Recovery point {point.pk} ({_iso(point.captured_at)}) is older than the latest one, "
            f"{item.last_recovery_point_id} ({_iso(item.last_recovery_point_at)}): only the latest point can be "
            "used, because the replica disks hold that point only. Omit recoveryPointId, or pass the item's "
            "providerSpecificDetails.lastRecoveryPointId.",
            target,
        )


class ItemActionView(AsrView):
    """A POST action on a migration item. The caller's right on the vault is checked first, as ARM
    checks RBAC before the provider sees the request; then the item, then the body; the verb's service
    checks the item's state (409 OperationNotAllowed, no job) and the target side's rights."""

    permission: access.Permission

    def target(self, request, route: dict) -> tuple[Vault, MigrationItem]:
        vault = _vault(request, route["subscription_id"], route["resource_group_name"], route["vault_name"])
        _authorize(request.user, vault, self.permission)
        _container_or_404(vault, route["fabric_name"], route["container_name"])
        return vault, _item_or_404(vault, route["item_name"])


class ItemTestMigrateView(ItemActionView):
    permission = TEST_MIGRATE

    @extend_schema(operation_id="ReplicationMigrationItems_TestMigrate", request=dict, responses={202: None})
    def post(self, request, **route):
        vault, item = self.target(request, route)
        given = read_test_migrate_input(request)
        network, subnet = item.test_network, item.test_subnet_name
        if given.network_id:
            resolve = Resolver(request.user, vault, item.server)
            chosen = resolve.network(given.network_id, "networkId")
            resolve.raise_problems()
            if chosen != network:
                # The subnet chosen at Replicate belongs to the other network: the service picks the
                # new network's first subnet unless the body names one.
                network, subnet = chosen, ""
        if network is None:
            raise ArmError(
                400,
                "InvalidParameter",
                f"{item.target_vm_name} has no test network: name one in providerSpecificDetails.networkId (a "
                "virtual network in the target region; a non-production one is recommended).",
                f"{PROVIDER_DETAILS}.networkId",
            )
        _check_recovery_point(vault, item, given.recovery_point_id)
        job = migrate.test_migrate_start(request.user, item, network=network, subnet=given.subnet_name or subnet)
        return job_accepted(request, vault, job, item_id(vault, item))


class ItemTestMigrateCleanupView(ItemActionView):
    permission = CLEAN_UP_TEST_MIGRATION

    @extend_schema(operation_id="ReplicationMigrationItems_TestMigrateCleanup", request=dict, responses={202: None})
    def post(self, request, **route):
        vault, item = self.target(request, route)
        given = read_cleanup_input(request)
        job = migrate.test_migrate_cleanup_start(request.user, item, comments=given.comments)
        return job_accepted(request, vault, job, item_id(vault, item))


class ItemMigrateView(ItemActionView):
    permission = MIGRATE

    @extend_schema(operation_id="ReplicationMigrationItems_Migrate", request=dict, responses={202: None})
    def post(self, request, **route):
        vault, item = self.target(request, route)
        given = read_migrate_input(request)
        _check_recovery_point(vault, item, given.recovery_point_id)
        job = migrate.migrate_start(request.user, item, shutdown=given.perform_shutdown)
        return job_accepted(request, vault, job, item_id(vault, item))


class ItemResyncView(ItemActionView):
    permission = RESYNC

    @extend_schema(operation_id="ReplicationMigrationItems_Resync", request=dict, responses={202: None})
    def post(self, request, **route):
        vault, item = self.target(request, route)
        read_resync_input(request)
        job = migrate.resync_start(request.user, item)
        return job_accepted(request, vault, job, item_id(vault, item))


class ItemPauseOrResumeView(ItemActionView):
    """pauseReplication and resumeReplication: never in allowedOperations here, so always refused the
    way a verb the item's state does not allow is."""

    permission = PAUSE_OR_RESUME

    @extend_schema(operation_id="ReplicationMigrationItems_PauseOrResumeReplication", responses={409: dict})
    def post(self, request, action, **route):
        _, item = self.target(request, route)
        verb = "PauseReplication" if action == "pausereplication" else "ResumeReplication"
        raise ArmError(
            409,
            "OperationNotAllowed",
            f"{verb} is not allowed for {item.target_vm_name}: this hub does not pause replication, so the "
            "item's allowedOperations never list it. Stop replication (DELETE the item) instead.",
        )


# Recovery points


class RecoveryPointListView(AsrView):
    @extend_schema(operation_id="MigrationRecoveryPoints_ListByReplicationMigrationItems", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, vault_name, fabric_name, container_name, item_name):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        _container_or_404(vault, fabric_name, container_name)
        item = _item_or_404(vault, item_name)
        points = item.recovery_points.order_by("-captured_at", "pk")
        return paged_list(request, points, lambda page: [recovery_point_body(vault, item, point) for point in page])


class RecoveryPointView(AsrView):
    @extend_schema(operation_id="MigrationRecoveryPoints_Get", responses={200: dict})
    def get(
        self,
        request,
        subscription_id,
        resource_group_name,
        vault_name,
        fabric_name,
        container_name,
        item_name,
        point_name,
    ):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        _container_or_404(vault, fabric_name, container_name)
        item = _item_or_404(vault, item_name)
        point = item.recovery_points.filter(pk=parse_uuid(point_name)).first()
        if point is None:
            raise ArmError(404, "RecoveryPointNotFound", f"Recovery point '{point_name}' was not found.")
        return Response(recovery_point_body(vault, item, point))


# Policies


POLICY_NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")


def _policy_or_404(vault: Vault, name: str) -> ReplicationPolicy:
    policy = vault.project.policies.filter(name__iexact=name).first()
    if policy is None:
        raise ArmError(
            404, "PolicyNotFound", f"Replication policy '{name}' was not found in vault {vault.resource.name}."
        )
    return policy


class PolicyListView(AsrView):
    @extend_schema(operation_id="ReplicationPolicies_List", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, vault_name):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        return arm_list([policy_body(vault, policy) for policy in vault.project.policies.order_by("name")])


class PolicyView(AsrView):
    @extend_schema(operation_id="ReplicationPolicies_Get", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, vault_name, policy_name):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        return Response(policy_body(vault, _policy_or_404(vault, policy_name)))

    @extend_schema(operation_id="ReplicationPolicies_Create", request=dict, responses={200: dict})
    def put(self, request, subscription_id, resource_group_name, vault_name, policy_name):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        _authorize(request.user, vault, WRITE_REPLICATION_POLICY)
        if not POLICY_NAME_RULE.match(policy_name):
            raise ArmError(
                400,
                "InvalidResourceName",
                f"Policy name '{policy_name}' must be 1 to 80 letters, digits, hyphens or underscores, starting with "
                "a letter or digit.",
            )
        body = _body(request)
        details = body.child("properties", required=True).child("providerSpecificInput", required=True)
        if details.data:
            _instance_type(details)
        history = details.integer("recoveryPointHistoryInMinutes", low=0, high=15 * 24 * 60)
        crash = details.integer("crashConsistentFrequencyInMinutes", low=1, high=12 * 60)
        app = details.integer("appConsistentFrequencyInMinutes", low=0, high=12 * 60)
        body.raise_errors()
        with transaction.atomic():
            # One policy per name even when two clients create it at once.
            type(vault.project).objects.select_for_update().filter(pk=vault.project.pk).first()
            policy = vault.project.policies.filter(name__iexact=policy_name).first() or ReplicationPolicy(
                project=vault.project, name=policy_name, cycle_seconds=settings.REPLICATION_CYCLE_SECONDS
            )
            if history is not None:
                policy.recovery_point_history_minutes = history
            if crash is not None:
                policy.cycle_seconds = crash * 60
            if app is not None:
                policy.app_consistent_frequency_minutes = app
            policy.save()
        return Response(policy_body(vault, policy))


# Jobs and operation status


def _filtered_jobs(jobs, text: str | None):
    states = {state.lower(): state for state in State.values} | {"canceled": State.CANCELLED}
    for name, operator, value in filter_clauses(text):
        if name in ("starttime", "endtime"):
            moment = _filter_time(value)
            # ASR's startTime means "from" and endTime "up to"; an explicit ge/le/gt/lt says it outright.
            lookup = {"ge": "gte", "gt": "gt", "le": "lte", "lt": "lt"}.get(
                operator, "gte" if name == "starttime" else "lte"
            )
            jobs = jobs.filter(**{f"created_at__{lookup}": moment})
            continue
        if name == "affectedobjecttypes":
            condition = Q(target_instance_type__in=[part.strip() for part in value.split(",")])
        elif name == "jobstatus":
            parts = [part.strip().lower() for part in value.split(",")]
            condition = Q(state__in=[states[part] for part in parts if part in states])
        elif name in ("jobname", "scenarioname"):
            condition = Q(scenario_name__iexact=value) | Q(friendly_name__iexact=value)
        elif name == "targetobjectname":
            condition = Q(target_object_name__iexact=value)
        else:
            continue
        jobs = jobs.exclude(condition) if operator == "ne" else jobs.filter(condition)
    return jobs


class JobListView(AsrView):
    @extend_schema(operation_id="ReplicationJobs_List", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, vault_name):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        jobs = _filtered_jobs(_vault_jobs(request, vault), request.query_params.get("$filter"))
        jobs = jobs.prefetch_related("tasks").order_by("-created_at", "pk")
        return paged_list(request, jobs, lambda page: [job_body(vault, job) for job in page])


class JobView(AsrView):
    @extend_schema(operation_id="ReplicationJobs_Get", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, vault_name, job_name):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        return Response(job_body(vault, _job_or_404(request, vault, job_name)))


OPERATION_STATUS = {
    State.NOT_STARTED: "InProgress",
    State.IN_PROGRESS: "InProgress",
    State.SUCCEEDED: "Succeeded",
    State.FAILED: "Failed",
    # azure-core only stops polling on "Canceled"; ASR spells the job state "Cancelled".
    State.CANCELLED: "Canceled",
}


def operation_status_body(vault: Vault, job: Job) -> dict:
    tasks = list(job.tasks.all())
    done = sum(1 for task in tasks if task.state == State.SUCCEEDED)
    status = OPERATION_STATUS.get(job.state, "InProgress")
    body = {
        "id": f"{vault.id}/replicationOperationStatus/{job.pk}",
        "name": str(job.pk),
        "status": status,
        "startTime": _iso(job.started_at or job.created_at),
        "endTime": _iso(job.ended_at),
        "percentComplete": 100 if job.is_terminal else int(100 * done / len(tasks)) if tasks else 0,
    }
    if status in ("Failed", "Canceled"):
        error = (job.first_error or {}).get("serviceErrorDetails", {})
        body["error"] = {
            "code": error.get("code") or ("OperationCanceled" if status == "Canceled" else "OperationFailed"),
            "message": error.get("message") or f"{job.friendly_name} {status.lower()}.",
        }
    return body


class OperationStatusView(AsrView):
    """`Azure-AsyncOperation` of every ASR job: always 200, the job's state in ARM's words."""

    @extend_schema(operation_id="ReplicationOperationStatus_Get", responses={200: dict})
    def get(self, request, subscription_id, resource_group_name, vault_name, job_name):
        vault = _vault(request, subscription_id, resource_group_name, vault_name)
        return Response(operation_status_body(vault, _job_or_404(request, vault, job_name)))


ITEMS = f"{CONTAINER_PATH}/replicationmigrationitems"
ITEM = f"{ITEMS}/<str:item_name>"

urlpatterns = [
    path(f"{VAULT_PATH}/replicationmigrationitems", MigrationItemListView.as_view()),
    path(ITEMS, MigrationItemListView.as_view()),
    path(ITEM, MigrationItemView.as_view()),
    path(f"{ITEM}/operationresults/<str:job_name>", MigrationItemOperationResultView.as_view()),
    path(f"{ITEM}/testmigrate", ItemTestMigrateView.as_view()),
    path(f"{ITEM}/testmigratecleanup", ItemTestMigrateCleanupView.as_view()),
    path(f"{ITEM}/migrate", ItemMigrateView.as_view()),
    path(f"{ITEM}/resync", ItemResyncView.as_view()),
    path(f"{ITEM}/pausereplication", ItemPauseOrResumeView.as_view(), {"action": "pausereplication"}),
    path(f"{ITEM}/resumereplication", ItemPauseOrResumeView.as_view(), {"action": "resumereplication"}),
    path(f"{ITEM}/migrationrecoverypoints", RecoveryPointListView.as_view()),
    path(f"{ITEM}/migrationrecoverypoints/<str:point_name>", RecoveryPointView.as_view()),
    path(f"{VAULT_PATH}/replicationpolicies", PolicyListView.as_view()),
    path(f"{VAULT_PATH}/replicationpolicies/<str:policy_name>", PolicyView.as_view()),
    path(f"{VAULT_PATH}/replicationjobs", JobListView.as_view()),
    path(f"{VAULT_PATH}/replicationjobs/<str:job_name>", JobView.as_view()),
    path(f"{VAULT_PATH}/replicationoperationstatus/<str:job_name>", OperationStatusView.as_view()),
]
