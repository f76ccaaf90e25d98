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
from replication import policies, replicate
from replication.arm import Vault, discovered_servers
from replication.arm_migration.inputs import TARGET_SETTINGS, TargetInput
from replication.arm_migration.openapi import LICENSE_TYPES
from replication.arm_migration.shapes import PROVIDER_DETAILS
from replication.models import DiscoveredServer, DiskType, LicenseType, MigrationItem, RunAsAccount
from replication.replicate import DiskChoice, Problem, ReplicationInvalid, ReplicationPlan, ServerPlan

# Where each of Replicate's wizard fields lives in an enable or update body, so a refusal names the
# property the client sent: a target setting's field is its plan field (inputs.TARGET_SETTINGS).
API_FIELDS = {field: f"{PROVIDER_DETAILS}.{key}" for key, field in TARGET_SETTINGS.items()} | {
    "servers": f"{PROVIDER_DETAILS}.fabricDiscoveryMachineId",
    "os": f"{PROVIDER_DETAILS}.fabricDiscoveryMachineId",
    "appliance": f"{PROVIDER_DETAILS}.processServerId",
    "guest_credentials": f"{PROVIDER_DETAILS}.runAsAccountId",
    "disks": f"{PROVIDER_DETAILS}.disksToInclude",
    "os_disk": f"{PROVIDER_DETAILS}.disksToInclude",
    "target_region": "properties",
}
# Enable checks the availability set before the licence, update after it: the order a refusal lists
# its problems in.
ENABLE_ORDER = (*list(TARGET_SETTINGS)[:-2], "targetAvailabilitySetId", "licenseType")
UPDATE_ORDER = tuple(TARGET_SETTINGS)
NETWORK = (
    VirtualNetwork,
    "a virtual network id",
    "VirtualNetworkNotFound",
    "Virtual network '{name}' could not be found in {group}.",
)
# The ids a body may name: (model, what the id must be, rule and message when it names nothing); a
# resource group has no model. The test network and availability set are optional: empty clears them.
RESOURCE_IDS = {
    "targetResourceGroupId": (None, "a resource group id (/subscriptions/{s}/resourceGroups/{name})", "", ""),
    "targetNetworkId": NETWORK,
    "testNetworkId": NETWORK,
    "networkId": NETWORK,  # testMigrate's
    "targetAvailabilitySetId": (
        AvailabilitySet,
        "an availability set id",
        "AvailabilitySetNotFound",
        "Availability set '{name}' could not be found.",
    ),
}
OPTIONAL_IDS = ("testNetworkId", "targetAvailabilitySetId")


class Resolver:
    """Turns the ids of a body into the hub's objects, as this user sees them; what does not resolve
    becomes a problem naming the property (`key`, in providerSpecificDetails unless said)."""

    def __init__(self, user, vault: Vault, server: DiscoveredServer):
        self.user, self.vault, self.project, self.server = user, vault, vault.project, server
        self.problems: list[Problem] = []

    def problem(self, key: str, rule: str, message: str, parent: str = PROVIDER_DETAILS) -> None:
        self.problems.append(Problem(f"{parent}.{key}", rule, message, self.server.name))

    def setting(self, key: str, value: str):
        """A target setting as the plan holds it: an id resolved (an empty optional one clears it), the
        licence as Azure Hybrid Benefit or not (None: NotSpecified), the rest as given."""
        if key == "licenseType":
            return self.license(value)
        if key in RESOURCE_IDS:
            return self.resource(value, key) if value or key not in OPTIONAL_IDS else None
        return value

    def resource(self, arm_id: str, key: str):
        """The resource group, network or availability set an id names (RESOURCE_IDS[key]), in a group
        this user sees; None, with the problem said, when either does not resolve."""
        model, what, rule, message = RESOURCE_IDS[key]
        parts = id_parts(arm_id, model.arm_type if model else None)
        if parts is None:
            return self.problem(key, "InvalidResourceId", f"'{arm_id}' is not {what}.")
        try:
            group = access.get_group(self.user, parts[0], parts[1])
        except ArmError:
            return self.problem(key, "ResourceGroupNotFound", f"Resource group '{parts[1]}' could not be found.")
        if model is None:
            return group
        rows = model.objects.filter(resource_group=group, name__iexact=parts[2])
        return rows.select_related("resource_group__subscription").first() or self.problem(
            key, rule, message.format(name=parts[2], group=group)
        )

    def appliance(self, value: str):
        """A process server: its id in the fabric's processServers, or its provider's ARM id."""
        found = self.project.appliances.filter(pk=parse_uuid(last_segment(value))).first()
        message = f"'{value}' is not a process server of this vault: use an id from the fabric's "
        return found or self.problem(
            "processServerId", "ProcessServerNotFound", message + "customDetails.processServers."
        )

    def run_as_account(self, value: str) -> RunAsAccount | None:
        name = last_segment(value)
        accounts = RunAsAccount.objects.filter(appliance__project=self.project)
        found = accounts.filter(pk=parse_uuid(name)).first() or accounts.filter(friendly_name__iexact=name).first()
        message = f"'{value}' is not guest credentials of this project."
        return found or self.problem("runAsAccountId", "RunAsAccountNotFound", message)

    def policy(self, value: str):
        """The item's policy; the default one is made on first use, as Replicate does."""
        name = last_segment(value)
        policies_path = f"{self.vault.id}/replicationPolicies/".lower()
        in_vault = "/" not in value.strip("/") or value.lower().startswith(policies_path)
        found = policies.policy_named(self.project, name) if in_vault else None
        if found is None and not (in_vault and name.lower() == replicate.POLICY_NAME):
            message = f"'{value}' is not a replication policy of vault {self.vault.resource.name}."
            self.problem("policyId", "PolicyNotFound", message, parent="properties")
        return found

    # The body's licence and disk types are spelled as their choices are when they name one
    # (hub.arm.bodies.OneOf); a value that names none is refused here, with its own rule.

    def license(self, value: str) -> bool | None:
        """Azure Hybrid Benefit or not; None: NotSpecified (keep what there is)."""
        if value not in LICENSE_TYPES:
            message = f"licenseType '{value}' is not one of {', '.join(LICENSE_TYPES)}."
            return self.problem("licenseType", "InvalidLicenseType", message)
        if value == LicenseType.WINDOWS_SERVER and self.server.os_type != "Windows":
            message = (
                f"Azure Hybrid Benefit applies to Windows Server only; {self.server.name} runs {self.server.os_name}."
            )
            self.problem("licenseType", "HybridBenefitWindowsOnly", message)
        return None if value == "NotSpecified" else value == LicenseType.WINDOWS_SERVER

    def disk_type(self, value: str | None, key: str) -> str:
        if value is None or value in DiskType.values:
            return value or DiskType.STANDARD_SSD
        message = f"diskType '{value}' is not offered for migrated servers: use {', '.join(DiskType.values)}."
        self.problem(key, "UnsupportedDiskType", message)
        return DiskType.STANDARD_SSD

    def raise_problems(self) -> None:
        if self.problems:
            raise ReplicationInvalid(self.problems)


def in_api_terms(invalid: ReplicationInvalid) -> ArmError:
    """Replicate's refusal, each problem pointing at the body property instead of the wizard field."""
    problems = [replace(problem, field=API_FIELDS.get(problem.field, problem.field)) for problem in invalid.problems]
    taken = next((problem for problem in problems if problem.rule == "AlreadyReplicating"), None)
    if taken is not None:
        hint = " Change its settings with PATCH, or stop replication first."
        return ArmError(409, taken.rule, taken.message + hint, taken.field)
    return ReplicationInvalid(problems)


def discovered_server(vault: Vault, item_name: str, machine_id: str | None) -> DiscoveredServer:
    """The server the URL names; a body that names another machine is refused rather than guessed.
    Replicate's rules refuse a server that already replicates (in_api_terms: 409)."""
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
    return server


def _apply(resolve: Resolver, plan: ReplicationPlan, server_plan: ServerPlan, given: dict, order) -> None:
    """Set on Replicate's plan the target settings `given` names (property -> value), checked in `order`."""
    for key in (key for key in order if key in given):
        value = resolve.setting(key, given[key])
        if key != "licenseType" or value is not None:  # NotSpecified keeps the licence there is
            field = TARGET_SETTINGS[key]
            # The server's own settings (name, size, availability set) are on its ServerPlan.
            setattr(server_plan if hasattr(server_plan, field) else plan, field, value)


def enable(user, vault: Vault, server: DiscoveredServer, target: TargetInput) -> Job:
    """Start replicating `server` (its Start replication job): Replicate's defaults for it, changed by
    what the body names. An empty value means the default here: a new item has nothing to clear."""
    resolve = Resolver(user, vault, server)
    plan, server_plan = replicate.plan_for_server(server)
    plan.policy = resolve.policy(target.policy_id or "")
    if target.process_server_id:
        plan.appliance = resolve.appliance(target.process_server_id)
    if target.run_as_account_id:
        plan.run_as_account = resolve.run_as_account(target.run_as_account_id)
    plan.guest_credentials_required = False  # the Mobility service may be installed by hand
    _apply(resolve, plan, server_plan, {key: value for key, value in target.settings.items() if value}, ENABLE_ORDER)
    if target.disks is not None:
        listed = {disk["diskId"] for disk in target.disks}
        server_plan.disks = [
            DiskChoice(disk["diskId"], True, resolve.disk_type(disk.get("diskType"), "disksToInclude"))
            for disk in target.disks
        ]
        server_plan.disks += [
            DiskChoice(disk["diskId"], False) for disk in server.disks if disk["diskId"] not in listed
        ]
        server_plan.os_disk_id = next(
            (disk["diskId"] for disk in target.disks if disk.get("isOSDisk")), server_plan.os_disk_id
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
    replicate.refuse_locked_settings(item)  # before the body's ids, which a locked item never uses
    resolve = Resolver(user, vault, item.server)
    plan, server_plan = replicate.plan_for_item(item)
    _apply(resolve, plan, server_plan, target.settings, UPDATE_ORDER)
    resolve.raise_problems()
    try:
        replicate.replication_update(user, item, plan)
    except ReplicationInvalid as invalid:
        raise in_api_terms(invalid) from None
