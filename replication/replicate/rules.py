"""Replicate's rules: every choice of a plan checked against Azure's VM requirements and the
project's state. Each rule yields a `Problem` naming its rule and the field it belongs to; the
problems come in the wizard's order (Source settings first, each server's last), as the portal and
the ARM API both show the first one on top."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models.functions import Lower

from projects.models import ResourceGroup, VirtualNetwork
from projects.regions import region_display_name
from replication import sizing, vm_requirements
from replication.models import Appliance, MigrationItem, VirtualMachine
from replication.replicate.plan import Problem, ReplicationPlan, ServerPlan, auto_vm_size


def replication_plan_problems(user, project, plan: ReplicationPlan, *, item=None) -> list[Problem]:
    """Every problem with a plan; empty when it can start. With `item`, the plan changes that
    replicating server's settings (Manage > Replicating machines, PATCH)."""
    return [
        *_target_region_problems(project),
        *_source_problems(project, plan),
        *_credentials_problems(plan, item),
        *_target_group_problems(project, plan),
        *_target_network_problems(project, plan),
        *_servers_problems(project, plan, item),
    ]


def _target_region_problems(project) -> list[Problem]:
    # Create resources in Discover locks the region; until then nothing can be replicated.
    if project.target_region:
        return []
    message = "The project has no target region yet: in Discover, select Create resources first."
    return [Problem("target_region", "TargetRegionNotSet", message)]


def _source_problems(project, plan: ReplicationPlan) -> Iterator[Problem]:
    if plan.appliance is None:
        yield Problem("appliance", "ApplianceRequired", "Select the replication appliance (process server).")
    elif plan.appliance.project_id != project.pk:
        yield Problem("appliance", "ApplianceNotInProject", "That appliance belongs to another project.")
    elif plan.appliance.state != Appliance.State.FINALIZED:
        yield Problem(
            "appliance",
            "ApplianceNotFinalized",
            f"Appliance {plan.appliance.name} is not ready: select Finalize registration in Discover first.",
        )
    if plan.machines_virtualized == "vmware" and not plan.vcenter.strip():
        yield Problem("vcenter", "VCenterRequired", "Name the vCenter server that manages the VMs (VMware only).")


def _credentials_problems(plan: ReplicationPlan, item) -> Iterator[Problem]:
    # A replicating server keeps the credentials it was given: changing its settings asks for none.
    if item is None and plan.guest_credentials_required and plan.run_as_account is None and not plan.new_credentials:
        yield Problem(
            "guest_credentials",
            "GuestCredentialsRequired",
            "Add guest credentials (any account will do when the Mobility service is installed by hand).",
        )
    if plan.run_as_account is not None and plan.appliance is not None:
        appliance = plan.appliance.configuration_server  # credentials are the configuration server's
        if plan.run_as_account.appliance_id != appliance.pk:
            yield Problem(
                "guest_credentials",
                "GuestCredentialsNotOnAppliance",
                f"Guest credentials {plan.run_as_account.friendly_name} belong to another appliance: select "
                f"credentials of {appliance.name}, or add new ones.",
            )
    elif plan.new_credentials and not all(part.strip() for part in plan.new_credentials):
        yield Problem(
            "guest_credentials",
            "GuestCredentialsIncomplete",
            "Guest credentials need a friendly name, a user name and a password.",
        )
    elif plan.new_credentials and plan.appliance is not None:
        # Adding credentials under an existing name would silently change the password that other
        # replicating servers' push installation uses.
        friendly_name = plan.new_credentials[0].strip()
        appliance = plan.appliance.configuration_server
        if appliance.run_as_accounts.filter(friendly_name__iexact=friendly_name).exists():
            yield Problem(
                "guest_credentials",
                "GuestCredentialsNameTaken",
                f"Appliance {appliance.name} already has guest credentials named {friendly_name}: select "
                "them, or give the new credentials another friendly name.",
            )


def _target_group_problems(project, plan: ReplicationPlan) -> Iterator[Problem]:
    group = plan.target_resource_group
    if group is None:
        yield Problem("target_resource_group", "TargetResourceGroupRequired", "Select a resource group.")
    elif group.subscription_id != project.subscription.pk:
        yield Problem(
            "target_resource_group",
            "TargetSubscriptionMismatch",
            "The target resource group must be in the project's subscription.",
        )


def _target_network_problems(project, plan: ReplicationPlan) -> Iterator[Problem]:
    if plan.target_network is None:
        yield Problem("target_network", "VirtualNetworkRequired", "Select the virtual network to join.")
    else:
        yield from _network_problems(project, plan.target_network, plan.target_subnet, "target", "migrated VMs")
    # The test network is optional (Test migrate can pick one later), but one that is given must be usable.
    if plan.test_network is not None:
        yield from _network_problems(project, plan.test_network, plan.test_subnet, "test", "test migrations")


def _network_problems(project, network: VirtualNetwork, subnet: str, prefix: str, purpose: str) -> Iterator[Problem]:
    """A network the VMs join (prefix "target") or test migrations join (prefix "test")."""
    if network.resource_group.subscription_id != project.subscription.pk:
        yield Problem(
            f"{prefix}_network",
            "VirtualNetworkNotInTargetSubscription",
            f"Virtual network {network.name} is in another subscription; the VMs are created in the project's "
            f"subscription {project.subscription.display_name}. Choose a network there.",
        )
    if project.target_region and not _same_region(network.location, project):
        yield Problem(
            f"{prefix}_network",
            "VirtualNetworkNotInTargetRegion",
            f"Virtual network {network.name} is in {region_display_name(network.location)}; the project migrates to "
            f"{region_display_name(project.target_region)}. Choose a network there.",
        )
    if not network.subnets.filter(name__iexact=subnet).exists():
        yield Problem(f"{prefix}_subnet", "SubnetNotFound", f"Select a subnet of {network.name} for the {purpose}.")


def _same_region(location: str, project) -> bool:
    return location.lower() == project.target_region.lower()


def _servers_problems(project, plan: ReplicationPlan, item) -> Iterator[Problem]:
    if not plan.servers and item is None:
        yield Problem("servers", "NoServerSelected", "Check at least one server to replicate.")
    group = plan.target_resource_group
    names_in_plan: dict[str, str] = {}
    for server_plan in plan.servers:
        yield from server_plan_problems(project, plan, server_plan, item=item)
        name, vm_name = server_plan.server.name, server_plan.vm_name
        if vm_name.lower() in names_in_plan:
            yield Problem(
                "vm_name",
                "VmNameNotUnique",
                f"VM name {vm_name} is chosen for both {names_in_plan[vm_name.lower()]} and {name}: each VM needs "
                "its own name.",
                name,
            )
        names_in_plan[vm_name.lower()] = name
        if group is not None and vm_name_taken(group, vm_name, exclude=item):
            yield Problem(
                "vm_name",
                "VmNameNotUnique",
                f"Resource group {group.name} already has a VM named {vm_name}: choose another name.",
                name,
            )


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


def server_plan_problems(project, plan: ReplicationPlan, server_plan: ServerPlan, *, item=None) -> list[Problem]:
    """What is wrong with one server's settings (Virtual machines, Compute and Disks tabs)."""
    server = server_plan.server
    if server.project_id != project.pk:
        return [
            Problem("servers", "ServerNotInProject", f"{server.name} is not a server of this project.", server.name)
        ]
    os_found = vm_requirements.check_os(server.os_type, server.os_name, server.architecture)
    vm_name_found = vm_requirements.check_vm_name(server_plan.vm_name, server.os_type)
    return [
        *_selection_problems(plan, server, item),
        *_requirement_problems("os", server, os_found),
        *_requirement_problems("vm_name", server, vm_name_found),
        *_disk_problems(server_plan),
        *_size_problems(server_plan),
        *_availability_set_problems(project, plan, server_plan),
        *_hybrid_benefit_problems(plan, server, item),
    ]


def _requirement_problems(field_name: str, server, found: list[vm_requirements.Problem]) -> list[Problem]:
    return [Problem(field_name, problem.rule, problem.message, server.name) for problem in found]


def _selection_problems(plan: ReplicationPlan, server, item) -> Iterator[Problem]:
    """Whether the server can be checked at all: once only, and through its own appliance."""
    existing = MigrationItem.objects.filter(server=server).exclude(pk=getattr(item, "pk", None)).first()
    if existing is not None:
        yield Problem(
            "servers",
            "AlreadyReplicating",
            f"{server.name} is already replicating (as {existing.target_vm_name}): a server can be replicated once.",
            server.name,
        )
    # A scale-out process server replicates the servers of its configuration server's appliance.
    if plan.appliance is not None and server.appliance_id != plan.appliance.configuration_server.pk:
        yield Problem(
            "servers",
            "ServerOnAnotherAppliance",
            f"{server.name}'s Mobility service is registered with appliance {server.appliance.name}, not "
            f"{plan.appliance.configuration_server.name}: select a process server of {server.appliance.name}, "
            "or register the agent again.",
            server.name,
        )


def _disk_problems(server_plan: ServerPlan) -> Iterator[Problem]:
    server, name = server_plan.server, server_plan.server.name
    known_disks = {disk["diskId"] for disk in server.disks}
    unknown = [choice.disk_id for choice in server_plan.disks if choice.disk_id not in known_disks]
    if unknown:
        yield Problem("disks", "UnknownDisk", f"{name} has no disk {', '.join(unknown)}: choose among its disks.", name)
    os_disk_reported = True
    if server_plan.os_disk_id not in known_disks:
        yield Problem("os_disk", "OsDiskNotSelected", f"Select {name}'s OS disk.", name)
    elif not server_plan.disk_choice(server_plan.os_disk_id).include:
        yield Problem(
            "disks",
            "OsDiskExcluded",
            f"{name}'s OS disk {server_plan.os_disk_id} can't be excluded: the VM boots from it.",
            name,
        )
    else:
        os_disk_reported = False
    # A missing or excluded OS disk is already said above, in words that name the fix; "exactly one OS
    # disk" would only repeat it.
    found = vm_requirements.check_disks(server_plan.selected_disks())
    yield from _requirement_problems(
        "disks", server, [problem for problem in found if not (os_disk_reported and problem.rule == "OneOsDisk")]
    )


def _size_problems(server_plan: ServerPlan) -> Iterator[Problem]:
    server, name = server_plan.server, server_plan.server.name
    data_disk_count = len([disk for disk in server_plan.selected_disks() if not disk["isOsDisk"]])
    if server_plan.vm_size:
        size = sizing.SIZES_BY_NAME.get(server_plan.vm_size.lower())
        if size is None:
            yield Problem("vm_size", "UnknownVmSize", f"{server_plan.vm_size} is not an Azure VM size we offer.", name)
            return
        lacks = sizing.fits(
            size,
            cores=server.cores,
            memory_gib=server.memory_mb / 1024,
            data_disks=data_disk_count,
            nics=max(1, len(server.nics)),
            premium=server_plan.premium,
        )
        for lack in lacks:
            yield Problem("vm_size", "VmSizeTooSmall", f"{lack}.", name)
    elif auto_vm_size(server, server_plan) is None:
        yield Problem(
            "vm_size",
            "NoMatchingVmSize",
            f"No Azure VM size has {server.cores} vCPUs, {server.memory_mb // 1024} GiB and room for "
            f"{data_disk_count} data disks: exclude disks or choose a size by hand.",
            name,
        )


def _availability_set_problems(project, plan: ReplicationPlan, server_plan: ServerPlan) -> Iterator[Problem]:
    chosen_set, group, name = server_plan.availability_set, plan.target_resource_group, server_plan.server.name
    if chosen_set is None:
        return
    if group is not None and chosen_set.resource_group_id != group.pk:
        yield Problem(
            "availability_set",
            "AvailabilitySetNotInTargetGroup",
            f"Availability set {chosen_set.name} is in resource group {chosen_set.resource_group.name}; it must "
            f"be in the target resource group {group.name}.",
            name,
        )
    elif project.target_region and not _same_region(chosen_set.location, project):
        yield Problem(
            "availability_set",
            "AvailabilitySetNotInTargetRegion",
            f"Availability set {chosen_set.name} is in {region_display_name(chosen_set.location)}; the VM is "
            f"created in {region_display_name(project.target_region)}, so the set must be there too.",
            name,
        )


def _hybrid_benefit_problems(plan: ReplicationPlan, server, item) -> Iterator[Problem]:
    # Replicate applies the benefit to the Windows servers of the plan and leaves the others alone; a
    # change to one replicating server can only ask for it where it can't apply.
    if plan.hybrid_benefit and server.os_type != "Windows" and item is not None:
        yield Problem(
            "hybrid_benefit",
            "HybridBenefitWindowsOnly",
            f"Azure Hybrid Benefit applies to Windows Server only; {server.name} runs {server.os_name}.",
            server.name,
        )
