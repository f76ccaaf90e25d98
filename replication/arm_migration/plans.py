"""From an enable or update body to Replicate (replication.replicate): the ARM ids a body names
become the hub's objects, as the caller sees them, and Replicate's refusals point back at the body's
properties instead of the wizard's fields."""

from __future__ import annotations

from dataclasses import replace

from hub.arm.errors import ArmError
from hub.arm.paths import id_parts, last_segment
from hub.ids import parse_uuid
from jobs.models import Job
from projects import access
from projects.models import AvailabilitySet, VirtualNetwork
from replication import replicate
from replication.arm import Vault, discovered_servers
from replication.arm_migration.inputs import TargetInput
from replication.arm_migration.shapes import PROVIDER_DETAILS
from replication.models import DiscoveredServer, DiskType, LicenseType, MigrationItem, RunAsAccount
from replication.replicate import DiskChoice, Problem, ReplicationInvalid, ReplicationPlan, ServerPlan

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


def _choice(value: str, choices) -> str | None:
    """The choice `value` names in any case, spelled as the choice is (None: none of them)."""
    return {choice.lower(): choice for choice in choices}.get(value.lower())


class Resolver:
    """Turns the ids of a body into the hub's objects, as this user sees them; what does not resolve
    becomes a problem naming the property (`key`, in providerSpecificDetails unless said)."""

    def __init__(self, user, vault: Vault, server: DiscoveredServer | None):
        self.user, self.vault, self.project = user, vault, vault.project
        self.server_name = server.name if server else ""
        self.problems: list[Problem] = []

    def problem(self, key: str, rule: str, message: str, parent: str = PROVIDER_DETAILS) -> None:
        self.problems.append(Problem(f"{parent}.{key}", rule, message, self.server_name))

    def _in_group(self, arm_id: str, key: str, resource_type: str | None, what: str):
        """(visible resource group, name) of an id; None, with the problem said, when either fails."""
        parts = id_parts(arm_id, resource_type)
        if parts is None:
            self.problem(key, "InvalidResourceId", f"'{arm_id}' is not {what}.")
            return None
        try:
            return access.get_group(self.user, parts[0], parts[1]), parts[2]
        except ArmError:
            self.problem(key, "ResourceGroupNotFound", f"Resource group '{parts[1]}' could not be found.")
            return None

    def group(self, arm_id: str, key: str = "targetResourceGroupId"):
        found = self._in_group(arm_id, key, None, "a resource group id (/subscriptions/{s}/resourceGroups/{name})")
        return found[0] if found else None

    def network(self, arm_id: str, key: str) -> VirtualNetwork | None:
        found = self._in_group(arm_id, key, VirtualNetwork.arm_type, "a virtual network id")
        if found is None:
            return None
        group, name = found
        try:
            return access.get_network(self.user, group, name)
        except ArmError:
            self.problem(key, "VirtualNetworkNotFound", f"Virtual network '{name}' could not be found in {group}.")
            return None

    def availability_set(self, arm_id: str) -> AvailabilitySet | None:
        key = "targetAvailabilitySetId"
        found = self._in_group(arm_id, key, AvailabilitySet.arm_type, "an availability set id")
        if found is None:
            return None
        group, name = found
        availability_set = AvailabilitySet.objects.filter(resource_group=group, name__iexact=name).first()
        if availability_set is None:
            self.problem(key, "AvailabilitySetNotFound", f"Availability set '{name}' could not be found.")
        return availability_set

    def appliance(self, value: str):
        """A process server: its id in the fabric's processServers, or its provider's ARM id."""
        found = self.project.appliances.filter(pk=parse_uuid(last_segment(value))).first()
        if found is None:
            message = f"'{value}' is not a process server of this vault: use an id from the fabric's "
            self.problem("processServerId", "ProcessServerNotFound", message + "customDetails.processServers.")
        return found

    def run_as_account(self, value: str) -> RunAsAccount | None:
        name = last_segment(value)
        accounts = RunAsAccount.objects.filter(appliance__project=self.project)
        found = accounts.filter(pk=parse_uuid(name)).first() or accounts.filter(friendly_name__iexact=name).first()
        if found is None:
            self.problem(
                "runAsAccountId", "RunAsAccountNotFound", f"'{value}' is not guest credentials of this project."
            )
        return found

    def policy(self, value: str):
        """The item's policy; the default one is made on first use, as Replicate does."""
        name = last_segment(value)
        policies_path = f"{self.vault.id}/replicationPolicies/".lower()
        in_vault = "/" not in value.strip("/") or value.lower().startswith(policies_path)
        found = self.project.policies.filter(name__iexact=name).first() if in_vault else None
        if found is None and not (in_vault and name.lower() == replicate.POLICY_NAME):
            message = f"'{value}' is not a replication policy of vault {self.vault.resource.name}."
            self.problem("policyId", "PolicyNotFound", message, parent="properties")
        return found

    def license(self, value: str, server: DiscoveredServer) -> bool | None:
        """Azure Hybrid Benefit or not; None: NotSpecified (keep what there is)."""
        choices = ("NotSpecified", *LicenseType.values)
        chosen = _choice(value, choices)
        if chosen is None:
            message = f"licenseType '{value}' is not one of {', '.join(choices)}."
            self.problem("licenseType", "InvalidLicenseType", message)
            return None
        if chosen == LicenseType.WINDOWS_SERVER and server.os_type != "Windows":
            message = f"Azure Hybrid Benefit applies to Windows Server only; {server.name} runs {server.os_name}."
            self.problem("licenseType", "HybridBenefitWindowsOnly", message)
        return None if chosen == "NotSpecified" else chosen == LicenseType.WINDOWS_SERVER

    def disk_type(self, value: str | None, key: str) -> str:
        chosen = _choice(value, DiskType.values) if value is not None else DiskType.STANDARD_SSD
        if chosen is None:
            message = f"diskType '{value}' is not offered for migrated servers: use {', '.join(DiskType.values)}."
            self.problem(key, "UnsupportedDiskType", message)
        return chosen or DiskType.STANDARD_SSD

    def raise_problems(self) -> None:
        if self.problems:
            raise ReplicationInvalid(self.problems)


def in_api_terms(invalid: ReplicationInvalid) -> ArmError:
    """Replicate's refusal, each problem pointing at the body property instead of the wizard field."""
    problems = [replace(problem, field=API_FIELDS.get(problem.field, problem.field)) for problem in invalid.problems]
    taken = next((problem for problem in problems if problem.rule == "AlreadyReplicating"), None)
    if taken is not None:
        return ArmError(409, taken.rule, taken.message, taken.field)
    return ReplicationInvalid(problems)


def discovered_server(vault: Vault, item_name: str, machine_id: str | None) -> DiscoveredServer:
    """The server the URL names, not yet replicating; a body that names another machine is refused
    rather than guessed."""
    target = f"{PROVIDER_DETAILS}.fabricDiscoveryMachineId"
    if machine_id and last_segment(machine_id).lower() != item_name.lower():
        raise ArmError(
            400,
            "InvalidParameter",
            f"The body names machine '{last_segment(machine_id)}' but the URL names '{item_name}': a migration "
            "item is named after its discovered machine (the protectable item's name).",
            target,
        )
    server = discovered_servers(vault).filter(pk=parse_uuid(item_name)).first()
    if server is None:
        raise ArmError(
            400,
            "DiscoveredMachineNotFound",
            f"'{item_name}' is not a discovered server of vault {vault.resource.name}: use the name of one of the "
            "container's replicationProtectableItems.",
            target,
        )
    existing = MigrationItem.objects.filter(server=server).first()
    if existing is not None:
        raise ArmError(
            409,
            "AlreadyReplicating",
            f"{server.name} is already replicating (as {existing.target_vm_name}): a server can be replicated "
            "once. Change its settings with PATCH, or stop replication first.",
        )
    return server


def _apply_settings(resolve: Resolver, plan: ReplicationPlan, server_plan: ServerPlan, given: dict) -> None:
    """The settings enable and update treat alike (licence and availability set are left to each: the
    order they are checked in is the order a refusal lists them)."""
    if "targetVmName" in given:
        server_plan.vm_name = given["targetVmName"]
    if "targetVmSize" in given:
        server_plan.vm_size = given["targetVmSize"]
    if "targetResourceGroupId" in given:
        plan.target_resource_group = resolve.group(given["targetResourceGroupId"])
    if "targetNetworkId" in given:
        plan.target_network = resolve.network(given["targetNetworkId"], "targetNetworkId")
    if "targetSubnetName" in given:
        plan.target_subnet = given["targetSubnetName"]
    if "testNetworkId" in given:
        plan.test_network = resolve.network(given["testNetworkId"], "testNetworkId") if given["testNetworkId"] else None
    if "testSubnetName" in given:
        plan.test_subnet = given["testSubnetName"]


def _apply_license(resolve: Resolver, plan: ReplicationPlan, given: dict, server: DiscoveredServer) -> None:
    hybrid_benefit = resolve.license(given["licenseType"], server) if "licenseType" in given else None
    if hybrid_benefit is not None:
        plan.hybrid_benefit = hybrid_benefit


def _apply_availability_set(resolve: Resolver, server_plan: ServerPlan, given: dict) -> None:
    if "targetAvailabilitySetId" in given:
        value = given["targetAvailabilitySetId"]
        server_plan.availability_set = resolve.availability_set(value) if value else None


def enable(user, vault: Vault, server: DiscoveredServer, target: TargetInput) -> Job:
    """Start replicating `server` (its Start replication job): Replicate's defaults for it, changed by
    what the body names. An empty value means the default here: a new item has nothing to clear."""
    resolve = Resolver(user, vault, server)
    policy = resolve.policy(target.policy_id or "")
    appliance = resolve.appliance(target.process_server_id) if target.process_server_id else server.appliance
    run_as_account = resolve.run_as_account(target.run_as_account_id) if target.run_as_account_id else None
    server_plan = ServerPlan(server=server, vm_name=server.name, os_disk_id=replicate.default_os_disk_id(server))
    plan = ReplicationPlan(
        appliance=appliance,
        target_resource_group=None,
        target_network=None,
        target_subnet="",
        hybrid_benefit=False,
        servers=[server_plan],
        run_as_account=run_as_account,
        policy=policy,
        guest_credentials_required=False,  # the Mobility service may be installed by hand
    )
    given = {key: value for key, value in target.settings.items() if value}
    _apply_settings(resolve, plan, server_plan, given)
    _apply_availability_set(resolve, server_plan, given)
    _apply_license(resolve, plan, given, server)
    if target.disks is not None:
        listed = {disk.disk_id for disk in target.disks}
        server_plan.disks = [
            DiskChoice(disk.disk_id, True, resolve.disk_type(disk.disk_type, "disksToInclude")) for disk in target.disks
        ]
        server_plan.disks += [
            DiskChoice(disk["diskId"], False) for disk in server.disks if disk["diskId"] not in listed
        ]
        server_plan.os_disk_id = next(
            (disk.disk_id for disk in target.disks if disk.is_os_disk), server_plan.os_disk_id
        )
    else:
        disk_type = resolve.disk_type(target.disks_default_type, "disksDefault.diskType")
        server_plan.disks = [DiskChoice(disk["diskId"], True, disk_type) for disk in server.disks]
    resolve.raise_problems()
    try:
        (job,) = replicate.replication_enable(user, vault.project, plan)
    except ReplicationInvalid as invalid:
        raise in_api_terms(invalid) from None
    return job


def update(user, vault: Vault, item: MigrationItem, target: TargetInput) -> None:
    """Change the item's current settings (Replicate's plan_for_item) by what the body names; an empty
    string clears an optional id (test network, availability set) or returns the size to automatic."""
    if item.settings_locked:
        raise ArmError(
            409,
            "ReplicationSettingsLocked",
            f"{item.target_vm_name}: {item.settings_locked_reason} Stop replication and replicate the server "
            "again to change them.",
        )
    resolve = Resolver(user, vault, item.server)
    plan, server_plan = replicate.plan_for_item(item)
    _apply_settings(resolve, plan, server_plan, target.settings)
    _apply_license(resolve, plan, target.settings, item.server)
    _apply_availability_set(resolve, server_plan, target.settings)
    resolve.raise_problems()
    try:
        replicate.replication_update(user, item, plan)
    except ReplicationInvalid as invalid:
        raise in_api_terms(invalid) from None
