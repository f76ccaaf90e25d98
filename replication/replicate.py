"""Replicate: turning the wizard's (or the API's) choices into replicating servers.

`replication_plan_problems` checks every choice against Azure's VM requirements and the project's
state, each problem naming its rule and the field it belongs to; `replication_enable` creates
nothing unless there is no problem, then one migration item and one Start replication job per
server. `replication_update` is Manage > Replicating machines: the same checks, refused once
replication has started."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower

from hub import clock, secrets
from hub.arm.errors import ArmError
from jobs.models import Job
from jobs.services import job_start
from projects import access
from projects.models import AvailabilitySet, ResourceGroup, VirtualNetwork
from replication import sizing, vm_requirements
from replication.models import (
    Appliance,
    DiscoveredServer,
    DiskType,
    LicenseType,
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    ReplicationPolicy,
    RunAsAccount,
    VirtualMachine,
)

POLICY_NAME = "migrate-policy"
GIB = 1024**3


@dataclass
class DiskChoice:
    disk_id: str
    include: bool = True
    disk_type: str = DiskType.STANDARD_SSD


@dataclass
class ServerPlan:
    """One server's target settings (Compute and Disks tabs)."""

    server: DiscoveredServer
    vm_name: str
    vm_size: str = ""  # "" = Automatically select matching configuration
    os_disk_id: str = ""
    availability_set: AvailabilitySet | None = None
    disks: list[DiskChoice] = field(default_factory=list)

    def disk_choice(self, disk_id: str) -> DiskChoice:
        return next((choice for choice in self.disks if choice.disk_id == disk_id), DiskChoice(disk_id))

    def selected_disks(self) -> list[dict]:
        """The server's disks chosen for replication, in vm_requirements' shape."""
        return [
            {"diskId": disk["diskId"], "sizeBytes": disk["sizeBytes"], "isOsDisk": disk["diskId"] == self.os_disk_id}
            for disk in self.server.disks
            if self.disk_choice(disk["diskId"]).include
        ]

    @property
    def premium(self) -> bool:
        return any(choice.include and choice.disk_type == DiskType.PREMIUM_SSD for choice in self.disks)


@dataclass
class ReplicationPlan:
    """Everything Replicate asks, for a set of servers."""

    appliance: Appliance | None
    target_resource_group: ResourceGroup | None
    target_network: VirtualNetwork | None
    target_subnet: str
    hybrid_benefit: bool
    servers: list[ServerPlan]
    machines_virtualized: str = "physical"
    vcenter: str = ""
    run_as_account: RunAsAccount | None = None
    new_credentials: tuple[str, str, str] | None = None  # friendly name, user name, password
    test_network: VirtualNetwork | None = None
    test_subnet: str = ""
    # The ARM API names its policy and may go without guest credentials (runAsAccountId is optional
    # there: the Mobility service is installed by hand); the wizard always asks for them.
    policy: ReplicationPolicy | None = None
    guest_credentials_required: bool = True


@dataclass(frozen=True)
class Problem:
    field: str  # the wizard field (or API property) it belongs to
    rule: str
    message: str
    server: str = ""  # the server it concerns, if one

    def as_detail(self) -> dict:
        return {"code": self.rule, "message": self.message, "target": self.field}


class ReplicationInvalid(ArmError):
    def __init__(self, problems: list[Problem]):
        first = problems[0]
        super().__init__(
            400,
            "InvalidReplicationSettings" if len(problems) > 1 else first.rule,
            first.message if len(problems) == 1 else f"{len(problems)} settings need attention: {first.message}",
            first.field,
            [problem.as_detail() for problem in problems],
        )
        self.problems = problems


def auto_vm_size(server: DiscoveredServer, plan: ServerPlan) -> sizing.VmSize | None:
    """Automatically select matching configuration: the cheapest size for the server's cores, memory,
    selected data disks and NICs."""
    data_disks = [disk for disk in plan.selected_disks() if not disk["isOsDisk"]]
    return sizing.closest_match(
        cores=server.cores,
        memory_gib=server.memory_mb / 1024,
        data_disks=len(data_disks),
        nics=max(1, len(server.nics)),
        premium=plan.premium,
    )


def default_os_disk_id(server: DiscoveredServer) -> str:
    return next((disk["diskId"] for disk in server.disks if disk.get("isOsDisk")), "")


def server_plan_problems(project, plan: ReplicationPlan, server_plan: ServerPlan, *, item=None) -> list[Problem]:
    server = server_plan.server
    name = server.name
    problems: list[Problem] = []

    def add(field_name: str, found: list[vm_requirements.Problem]) -> None:
        problems.extend(Problem(field_name, found_problem.rule, found_problem.message, name) for found_problem in found)

    if server.project_id != project.pk:
        problems.append(Problem("servers", "ServerNotInProject", f"{name} is not a server of this project.", name))
        return problems
    existing = MigrationItem.objects.filter(server=server).exclude(pk=getattr(item, "pk", None)).first()
    if existing is not None:
        problems.append(
            Problem(
                "servers",
                "AlreadyReplicating",
                f"{name} is already replicating (as {existing.target_vm_name}): a server can be replicated once.",
                name,
            )
        )
    if plan.appliance is not None and server.appliance_id != plan.appliance.pk:
        problems.append(
            Problem(
                "servers",
                "ServerOnAnotherAppliance",
                f"{name}'s Mobility service is registered with appliance {server.appliance.name}, not "
                f"{plan.appliance.name}: select that process server, or register the agent again.",
                name,
            )
        )
    add("os", vm_requirements.check_os(server.os_type, server.os_name, server.architecture))
    add("vm_name", vm_requirements.check_vm_name(server_plan.vm_name, server.os_type))
    known_disks = {disk["diskId"] for disk in server.disks}
    unknown = [choice.disk_id for choice in server_plan.disks if choice.disk_id not in known_disks]
    if unknown:
        problems.append(
            Problem("disks", "UnknownDisk", f"{name} has no disk {', '.join(unknown)}: choose among its disks.", name)
        )
    os_disk_reported = True
    if server_plan.os_disk_id not in known_disks:
        problems.append(Problem("os_disk", "OsDiskNotSelected", f"Select {name}'s OS disk.", name))
    elif not server_plan.disk_choice(server_plan.os_disk_id).include:
        problems.append(
            Problem(
                "disks",
                "OsDiskExcluded",
                f"{name}'s OS disk {server_plan.os_disk_id} can't be excluded: the VM boots from it.",
                name,
            )
        )
    else:
        os_disk_reported = False
    selected = server_plan.selected_disks()
    # A missing or excluded OS disk is already said above, in words that name the fix; "exactly one OS
    # disk" would only repeat it.
    add(
        "disks",
        [
            found
            for found in vm_requirements.check_disks(selected)
            if not (os_disk_reported and found.rule == "OneOsDisk")
        ],
    )
    data_disk_count = len([disk for disk in selected if not disk["isOsDisk"]])
    nics = max(1, len(server.nics))
    if server_plan.vm_size:
        size = sizing.SIZES_BY_NAME.get(server_plan.vm_size.lower())
        if size is None:
            problems.append(
                Problem("vm_size", "UnknownVmSize", f"{server_plan.vm_size} is not an Azure VM size we offer.", name)
            )
        else:
            lacks = sizing.fits(
                size,
                cores=server.cores,
                memory_gib=server.memory_mb / 1024,
                data_disks=data_disk_count,
                nics=nics,
                premium=server_plan.premium,
            )
            problems.extend(Problem("vm_size", "VmSizeTooSmall", f"{lack}.", name) for lack in lacks)
    elif auto_vm_size(server, server_plan) is None:
        problems.append(
            Problem(
                "vm_size",
                "NoMatchingVmSize",
                f"No Azure VM size has {server.cores} vCPUs, {server.memory_mb // 1024} GiB and room for "
                f"{data_disk_count} data disks: exclude disks or choose a size by hand.",
                name,
            )
        )
    chosen_set, group = server_plan.availability_set, plan.target_resource_group
    if chosen_set is not None and group is not None and chosen_set.resource_group_id != group.pk:
        problems.append(
            Problem(
                "availability_set",
                "AvailabilitySetNotInTargetGroup",
                f"Availability set {chosen_set.name} is in resource group {chosen_set.resource_group.name}; it must "
                f"be in the target resource group {group.name}.",
                name,
            )
        )
    elif chosen_set is not None and project.target_region and not _same_region(chosen_set.location, project):
        problems.append(
            Problem(
                "availability_set",
                "AvailabilitySetNotInTargetRegion",
                f"Availability set {chosen_set.name} is in {chosen_set.location}; the VM is created in "
                f"{project.target_region}, so the set must be there too.",
                name,
            )
        )
    if plan.hybrid_benefit and server.os_type != "Windows" and item is not None:
        problems.append(
            Problem(
                "hybrid_benefit",
                "HybridBenefitWindowsOnly",
                f"Azure Hybrid Benefit applies to Windows Server only; {name} runs {server.os_name}.",
                name,
            )
        )
    return problems


def replication_plan_problems(user, project, plan: ReplicationPlan, *, item=None) -> list[Problem]:
    """Every problem with a plan; empty when it can start."""
    problems: list[Problem] = []
    if not project.target_region:
        problems.append(
            Problem(
                "target_region",
                "TargetRegionNotSet",
                "The project has no target region yet: in Discover, select Create resources first.",
            )
        )
    if plan.appliance is None:
        problems.append(Problem("appliance", "ApplianceRequired", "Select the replication appliance (process server)."))
    elif plan.appliance.project_id != project.pk:
        problems.append(Problem("appliance", "ApplianceNotInProject", "That appliance belongs to another project."))
    elif plan.appliance.state != Appliance.State.FINALIZED:
        problems.append(
            Problem(
                "appliance",
                "ApplianceNotFinalized",
                f"Appliance {plan.appliance.name} is not ready: select Finalize registration in Discover first.",
            )
        )
    if plan.machines_virtualized == "vmware" and not plan.vcenter.strip():
        problems.append(
            Problem("vcenter", "VCenterRequired", "Name the vCenter server that manages the VMs (VMware only).")
        )
    if item is None and plan.guest_credentials_required and plan.run_as_account is None and not plan.new_credentials:
        problems.append(
            Problem(
                "guest_credentials",
                "GuestCredentialsRequired",
                "Add guest credentials (any account will do when the Mobility service is installed by hand).",
            )
        )
    if plan.run_as_account is not None and plan.appliance is not None:
        if plan.run_as_account.appliance_id != plan.appliance.pk:
            problems.append(
                Problem(
                    "guest_credentials",
                    "GuestCredentialsNotOnAppliance",
                    f"Guest credentials {plan.run_as_account.friendly_name} belong to another appliance: select "
                    f"credentials of {plan.appliance.name}, or add new ones.",
                )
            )
    elif plan.new_credentials and not all(part.strip() for part in plan.new_credentials):
        problems.append(
            Problem(
                "guest_credentials",
                "GuestCredentialsIncomplete",
                "Guest credentials need a friendly name, a user name and a password.",
            )
        )
    elif plan.new_credentials and plan.appliance is not None:
        # Adding credentials under an existing name would silently change the password that other
        # replicating servers' push installation uses.
        friendly_name = plan.new_credentials[0].strip()
        if plan.appliance.run_as_accounts.filter(friendly_name__iexact=friendly_name).exists():
            problems.append(
                Problem(
                    "guest_credentials",
                    "GuestCredentialsNameTaken",
                    f"Appliance {plan.appliance.name} already has guest credentials named {friendly_name}: select "
                    "them, or give the new credentials another friendly name.",
                )
            )
    group = plan.target_resource_group
    if group is None:
        problems.append(Problem("target_resource_group", "TargetResourceGroupRequired", "Select a resource group."))
    elif group.subscription_id != project.subscription.pk:
        problems.append(
            Problem(
                "target_resource_group",
                "TargetSubscriptionMismatch",
                "The target resource group must be in the project's subscription.",
            )
        )
    if plan.target_network is None:
        problems.append(Problem("target_network", "VirtualNetworkRequired", "Select the virtual network to join."))
    else:
        problems.extend(_network_problems(project, plan.target_network, plan.target_subnet, "target", "migrated VMs"))
    # The test network is optional (Test migrate can pick one later), but one that is given must be usable.
    if plan.test_network is not None:
        problems.extend(_network_problems(project, plan.test_network, plan.test_subnet, "test", "test migrations"))
    if not plan.servers and item is None:
        problems.append(Problem("servers", "NoServerSelected", "Check at least one server to replicate."))
    names_in_plan: dict[str, str] = {}
    for server_plan in plan.servers:
        problems.extend(server_plan_problems(project, plan, server_plan, item=item))
        lowered = server_plan.vm_name.lower()
        if lowered in names_in_plan:
            problems.append(
                Problem(
                    "vm_name",
                    "VmNameNotUnique",
                    f"VM name {server_plan.vm_name} is chosen for both {names_in_plan[lowered]} and "
                    f"{server_plan.server.name}: each VM needs its own name.",
                    server_plan.server.name,
                )
            )
        names_in_plan[lowered] = server_plan.server.name
        if group is not None and vm_name_taken(group, server_plan.vm_name, exclude=item):
            problems.append(
                Problem(
                    "vm_name",
                    "VmNameNotUnique",
                    f"Resource group {group.name} already has a VM named {server_plan.vm_name}: choose another name.",
                    server_plan.server.name,
                )
            )
    return problems


def _same_region(location: str, project) -> bool:
    return location.lower() == project.target_region.lower()


def _network_problems(project, network: VirtualNetwork, subnet: str, prefix: str, purpose: str) -> list[Problem]:
    """A network the VMs join (prefix "target") or test migrations join (prefix "test")."""
    problems = []
    if network.resource_group.subscription_id != project.subscription.pk:
        problems.append(
            Problem(
                f"{prefix}_network",
                "VirtualNetworkNotInTargetSubscription",
                f"Virtual network {network.name} is in another subscription; the VMs are created in the project's "
                f"subscription {project.subscription.display_name}. Choose a network there.",
            )
        )
    if project.target_region and not _same_region(network.location, project):
        problems.append(
            Problem(
                f"{prefix}_network",
                "VirtualNetworkNotInTargetRegion",
                f"Virtual network {network.name} is in {network.location}; the project migrates to "
                f"{project.target_region}. Choose a network there.",
            )
        )
    if not network.subnets.filter(name__iexact=subnet).exists():
        problems.append(
            Problem(f"{prefix}_subnet", "SubnetNotFound", f"Select a subnet of {network.name} for the {purpose}.")
        )
    return problems


def vm_name_taken(group: ResourceGroup, name: str, *, exclude=None) -> bool:
    if VirtualMachine.objects.filter(resource_group=group, name__iexact=name).exists():
        return True
    return (
        MigrationItem.objects.filter(target_resource_group=group)
        .annotate(lowered=Lower("target_vm_name"))
        .filter(lowered=name.lower())
        .exclude(pk=getattr(exclude, "pk", None))
        .exists()
    )


def _authorize(user, project, plan: ReplicationPlan) -> None:
    access.authorize(user, access.REPLICATE_SERVERS, project.subscription, project.resource_group.name)
    if plan.target_resource_group is not None:
        access.authorize(
            user, access.MANAGE_TARGET_VMS, plan.target_resource_group.subscription, plan.target_resource_group.name
        )
    for network in (plan.target_network, plan.test_network):
        if network is not None:
            group = network.resource_group
            access.authorize(user, access.JOIN_TARGET_NETWORK, group.subscription, group.name)


def replication_policy(project) -> ReplicationPolicy:
    policy, _ = ReplicationPolicy.objects.get_or_create(
        project=project, name=POLICY_NAME, defaults={"cycle_seconds": settings.REPLICATION_CYCLE_SECONDS}
    )
    return policy


def _run_as_account(plan: ReplicationPlan) -> RunAsAccount | None:
    if plan.run_as_account is not None or not plan.new_credentials:
        return plan.run_as_account
    friendly_name, username, password = (part.strip() for part in plan.new_credentials)
    account, _ = RunAsAccount.objects.update_or_create(
        appliance=plan.appliance,
        friendly_name=friendly_name[:80],
        defaults={
            "username": username[:120],
            "encrypted_password": secrets.encrypt(password.encode(), purpose="guest credentials"),
        },
    )
    return account


def replication_enable(user, project, plan: ReplicationPlan, *, link: str = "") -> list[Job]:
    """Start replicating every server of the plan, or nothing (ReplicationInvalid names each problem)."""
    _authorize(user, project, plan)
    problems = replication_plan_problems(user, project, plan)
    if problems:
        raise ReplicationInvalid(problems)
    jobs = []
    with transaction.atomic():
        # Serialise Replicate per project: two requests must not both take one server or one VM name.
        type(project).objects.select_for_update().filter(pk=project.pk).first()
        problems = replication_plan_problems(user, project, plan)
        if problems:
            raise ReplicationInvalid(problems)
        policy = plan.policy or replication_policy(project)
        run_as_account = _run_as_account(plan)
        for server_plan in plan.servers:
            item = _create_item(user, project, plan, server_plan, policy, run_as_account)
            job = job_start(
                scenario_name="EnableMigration",
                subscription=project.subscription,
                resource_group_name=project.resource_group.name,
                target_object_id=str(item.pk),
                target_object_name=item.target_vm_name,
                target_instance_type="ProtectionEntity",
                job_input={"item_id": str(item.pk)},
                created_by=user,
                notify=True,
                link=link,
            )
            MigrationItem.objects.filter(pk=item.pk).update(current_job=job)
            jobs.append(job)
    return jobs


def _create_item(user, project, plan, server_plan: ServerPlan, policy, run_as_account) -> MigrationItem:
    server = server_plan.server
    size = server_plan.vm_size or auto_vm_size(server, server_plan).name
    item = MigrationItem.objects.create(
        project=project,
        server=server,
        appliance=plan.appliance,
        policy=policy,
        run_as_account=run_as_account,
        created_by=user,
        created_at=clock.now(),
        target_resource_group=plan.target_resource_group,
        target_vm_name=server_plan.vm_name,
        target_vm_size=sizing.SIZES_BY_NAME[size.lower()].name,
        target_vm_size_auto=not server_plan.vm_size,
        target_network=plan.target_network,
        target_subnet_name=plan.target_subnet,
        test_network=plan.test_network,
        test_subnet_name=plan.test_subnet,
        license_type=LicenseType.WINDOWS_SERVER
        if plan.hybrid_benefit and server.os_type == "Windows"
        else LicenseType.NO_LICENSE,
        target_availability_set_id=server_plan.availability_set.arm_id if server_plan.availability_set else "",
    )
    ProtectedDisk.objects.bulk_create(
        ProtectedDisk(
            item=item,
            disk_id=disk["diskId"],
            name=disk.get("name") or disk["diskId"],
            is_os_disk=disk["diskId"] == server_plan.os_disk_id,
            size_bytes=disk["sizeBytes"],
            disk_type=server_plan.disk_choice(disk["diskId"]).disk_type,
            included=server_plan.disk_choice(disk["diskId"]).include,
        )
        for disk in server.disks
    )
    return item


def plan_for_item(item: MigrationItem) -> tuple[ReplicationPlan, ServerPlan]:
    """The item's current settings as a plan, for Manage > Replicating machines and PATCH."""
    availability_set = None
    if item.target_availability_set_id:
        name = item.target_availability_set_id.rsplit("/", 1)[-1]
        availability_set = AvailabilitySet.objects.filter(
            resource_group=item.target_resource_group, name__iexact=name
        ).first()
    server_plan = ServerPlan(
        server=item.server,
        vm_name=item.target_vm_name,
        vm_size="" if item.target_vm_size_auto else item.target_vm_size,
        os_disk_id=next((disk.disk_id for disk in item.disks.all() if disk.is_os_disk), ""),
        availability_set=availability_set,
        disks=[DiskChoice(disk.disk_id, disk.included, disk.disk_type) for disk in item.disks.all()],
    )
    plan = ReplicationPlan(
        appliance=item.appliance,
        target_resource_group=item.target_resource_group,
        target_network=item.target_network,
        target_subnet=item.target_subnet_name,
        hybrid_benefit=item.license_type == LicenseType.WINDOWS_SERVER,
        servers=[server_plan],
        run_as_account=item.run_as_account,
        test_network=item.test_network,
        test_subnet=item.test_subnet_name,
    )
    return plan, server_plan


def replication_update(user, item: MigrationItem, plan: ReplicationPlan) -> MigrationItem:
    """Change a replicating server's settings; only before replication starts, as the tutorial says."""
    project = item.project
    _authorize(user, project, plan)
    with transaction.atomic():
        locked = MigrationItem.objects.select_for_update().select_related("server", "project").get(pk=item.pk)
        if locked.settings_locked:
            raise ArmError(
                409,
                "ReplicationSettingsLocked",
                f"Replication of {locked.target_vm_name} has started: settings can't be changed after replication "
                "starts. Stop replication and replicate the server again to change them.",
            )
        problems = replication_plan_problems(user, project, plan, item=locked)
        if problems:
            raise ReplicationInvalid(problems)
        server_plan = plan.servers[0]
        size = server_plan.vm_size or auto_vm_size(locked.server, server_plan).name
        locked.target_resource_group = plan.target_resource_group
        locked.target_vm_name = server_plan.vm_name
        locked.target_vm_size = sizing.SIZES_BY_NAME[size.lower()].name
        locked.target_vm_size_auto = not server_plan.vm_size
        locked.target_network, locked.target_subnet_name = plan.target_network, plan.target_subnet
        locked.test_network, locked.test_subnet_name = plan.test_network, plan.test_subnet
        locked.license_type = LicenseType.WINDOWS_SERVER if plan.hybrid_benefit else LicenseType.NO_LICENSE
        locked.target_availability_set_id = server_plan.availability_set.arm_id if server_plan.availability_set else ""
        locked.save()
        for disk in locked.disks.all():
            choice = server_plan.disk_choice(disk.disk_id)
            disk.included, disk.disk_type = choice.include, choice.disk_type
            disk.is_os_disk = disk.disk_id == server_plan.os_disk_id
            disk.save(update_fields=["included", "disk_type", "is_os_disk"])
    return locked


def replication_activate(item_id) -> None:
    """Start replication's last task: the agent may start sending (settings lock at its first batch)."""
    MigrationItem.objects.filter(pk=item_id, migration_state=MigrationState.ENABLE_MIGRATION_IN_PROGRESS).update(
        migration_state=MigrationState.INITIAL_SEEDING_IN_PROGRESS
    )
