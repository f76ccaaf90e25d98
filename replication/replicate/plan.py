"""What Replicate is asked: a `ReplicationPlan` of target settings with a `ServerPlan` per server,
and the `Problem`s the rules find in it (`ReplicationInvalid` carries them to the portal and the ARM
API). Also the plan's defaults that the wizard shows before the user chooses: the automatic VM size
and the reported OS disk; a server's starting plan; and an existing item's settings read back as a plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.arm.errors import ArmError
from projects.models import AvailabilitySet, ResourceGroup, VirtualNetwork
from replication import sizing
from replication.models import (
    Appliance,
    DiscoveredServer,
    DiskType,
    LicenseType,
    MigrationItem,
    ReplicationPolicy,
    RunAsAccount,
)


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


def target_vm_size(server: DiscoveredServer, server_plan: ServerPlan) -> str:
    """The size the VM gets, spelled as the catalogue does: the chosen one, or the automatic match."""
    size = server_plan.vm_size or auto_vm_size(server, server_plan).name
    return sizing.SIZES_BY_NAME[size.lower()].name


def default_os_disk_id(server: DiscoveredServer) -> str:
    return next((disk["diskId"] for disk in server.disks if disk.get("isOsDisk")), "")


def plan_for_server(server: DiscoveredServer) -> tuple[ReplicationPlan, ServerPlan]:
    """Replicate's starting point for one server (the ARM API's enable): named after itself, its OS
    disk as reported, on its own appliance, nothing in Azure chosen yet."""
    server_plan = ServerPlan(server=server, vm_name=server.name, os_disk_id=default_os_disk_id(server))
    plan = ReplicationPlan(
        appliance=server.appliance,
        target_resource_group=None,
        target_network=None,
        target_subnet="",
        hybrid_benefit=False,
        servers=[server_plan],
    )
    return plan, server_plan


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
