"""The Replicate wizard's Compute and Disks settings: a `ServerRow` per checked server, with a
`DiskRow` per disk, posted under the prefix `s-<server id>-` (`s-<server id>-disk-<disk id>-` for a
disk). Its table cells are drawn in templates/replication/replicate/wizard.html."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub import units
from projects.models import AvailabilitySet
from replication import sizing
from replication.models import DiscoveredServer, DiskType
from replication.portal.replicate_fields import COMPUTE, DISKS, VMS
from replication.replicate import DiskChoice, ServerPlan, auto_vm_size, default_os_disk_id

# The tab of what a server row shows in its cells; anything else a rule says about a server goes
# under Compute.
ROW_FIELD_STEPS = {
    "servers": VMS,
    "os": VMS,
    "vm_name": COMPUTE,
    "vm_size": COMPUTE,
    "os_disk": COMPUTE,
    "availability_set": COMPUTE,
    "disks": DISKS,
}
INCLUDE, EXCLUDE = "replicate", "exclude"


def row_step(name: str) -> int:
    return ROW_FIELD_STEPS.get(name, COMPUTE)


@dataclass
class DiskRow:
    disk: dict
    include: bool
    disk_type: str
    is_os_disk: bool

    @property
    def disk_id(self) -> str:
        return self.disk["diskId"]

    @property
    def size_gb(self) -> float:
        return units.gigabytes(self.disk.get("sizeBytes", 0))

    @property
    def size_text(self) -> str:
        return units.decimal_size(self.disk.get("sizeBytes", 0))

    @property
    def disk_type_label(self) -> str:
        return DiskType(self.disk_type).label


@dataclass
class ServerRow:
    """A checked server's Compute and Disks settings, as posted (or their defaults when first checked)."""

    server: DiscoveredServer
    vm_name: str
    vm_size: str  # "" = Automatically select matching configuration
    os_disk_id: str
    availability_set: AvailabilitySet | None
    disks: list[DiskRow]
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"s-{self.server.pk}-"

    @classmethod
    def from_data(cls, server: DiscoveredServer, data, availability_sets: dict[str, AvailabilitySet]) -> ServerRow:
        prefix = f"s-{server.pk}-"
        if data is None or f"{prefix}vm_name" not in data:
            # Just checked: the tutorial's defaults (source name, automatic size, reported OS disk).
            os_disk_id = default_os_disk_id(server)
            return cls(
                server=server,
                vm_name=server.name,
                vm_size="",
                os_disk_id=os_disk_id,
                availability_set=None,
                disks=[
                    DiskRow(disk, True, DiskType.STANDARD_SSD.value, disk["diskId"] == os_disk_id)
                    for disk in server.disks
                ],
            )
        os_disk_id = data.get(f"{prefix}os_disk", "")
        disks = []
        for disk in server.disks:
            disk_prefix = f"{prefix}disk-{disk['diskId']}-"
            disk_type = data.get(f"{disk_prefix}type", "")
            disks.append(
                DiskRow(
                    disk,
                    include=data.get(f"{disk_prefix}include", INCLUDE) != EXCLUDE,
                    disk_type=disk_type if disk_type in DiskType.values else DiskType.STANDARD_SSD.value,
                    is_os_disk=disk["diskId"] == os_disk_id,
                )
            )
        return cls(
            server=server,
            vm_name=data.get(f"{prefix}vm_name", "").strip(),
            vm_size=data.get(f"{prefix}vm_size", "").strip(),
            os_disk_id=os_disk_id,
            # A set of another resource group (the target group changed since) is not offered any more.
            availability_set=availability_sets.get(data.get(f"{prefix}availability_set", "")),
            disks=disks,
        )

    def server_plan(self) -> ServerPlan:
        return ServerPlan(
            server=self.server,
            vm_name=self.vm_name,
            vm_size=self.vm_size,
            os_disk_id=self.os_disk_id,
            availability_set=self.availability_set,
            disks=[DiskChoice(disk.disk_id, disk.include, disk.disk_type) for disk in self.disks],
        )

    @property
    def auto_size(self) -> sizing.VmSize | None:
        return auto_vm_size(self.server, self.server_plan())

    @property
    def size_name(self) -> str:
        """The size the VM gets: the manual one, or the automatic match."""
        if self.vm_size:
            size = sizing.SIZES_BY_NAME.get(self.vm_size.lower())
            return size.name if size else self.vm_size
        auto = self.auto_size
        return auto.name if auto else ""

    @property
    def excluded_disks(self) -> list[DiskRow]:
        return [disk for disk in self.disks if not disk.include]

    @property
    def other_errors(self) -> list[str]:
        return [
            message for name, messages in self.errors.items() if name not in ROW_FIELD_STEPS for message in messages
        ]

    @property
    def vms_errors(self) -> list[str]:
        return self.errors.get("servers", []) + self.errors.get("os", [])
