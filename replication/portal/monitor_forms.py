"""Manage > Replicating machines > a server's settings (Azure's "Compute and Network" blade): the target
settings chosen in Replicate, editable until replication starts.

The form only collects choices; replicate.replication_plan_problems judges them (the same rules as the
Replicate wizard and the API), and each problem comes back onto the field it names."""

from __future__ import annotations

from django import forms

from projects import access
from projects.models import AvailabilitySet
from projects.regions import region_display_name
from replication import sizing
from replication.models import DiskType, LicenseType, MigrationItem
from replication.replicate import DiskChoice, Problem, ReplicationPlan, auto_vm_size, plan_for_item

# replicate.Problem.field -> the form field that shows it ("disks" problems show above the disks table).
FIELD_OF_PROBLEM = {
    "target_resource_group": "target_resource_group",
    "target_network": "target_network",
    "target_subnet": "target_network",
    "test_network": "test_network",
    "vm_name": "vm_name",
    "vm_size": "vm_size",
    "availability_set": "availability_set",
    "os_disk": "os_disk",
    "hybrid_benefit": "hybrid_benefit",
}
NO_TEST_NETWORK = ""
NO_AVAILABILITY_SET = ""


class ReplicationSettingsForm(forms.Form):
    target_resource_group = forms.ChoiceField(label="Resource group")
    vm_name = forms.CharField(label="Azure VM name", max_length=64)
    vm_size = forms.ChoiceField(label="Azure VM size", required=False)
    target_network = forms.ChoiceField(label="Virtual network / subnet")
    test_network = forms.ChoiceField(label="Test migration network / subnet", required=False)
    hybrid_benefit = forms.ChoiceField(
        label="Azure Hybrid Benefit",
        choices=[("no", "No"), ("yes", "Yes")],
        widget=forms.RadioSelect,
        help_text="Yes only for Windows Server covered by Software Assurance or a Windows Server subscription.",
    )
    availability_set = forms.ChoiceField(label="Availability set", required=False)
    os_disk = forms.ChoiceField(label="OS disk")

    def __init__(self, user, item: MigrationItem, data=None):
        self.item = item
        self.plan, self.server_plan = plan_for_item(item)
        self.disks = sorted(item.disks.all(), key=lambda disk: disk.disk_id)
        self.disk_errors: list[str] = []
        super().__init__(data, initial=self._initial())
        subscription = item.project.resource_group.subscription
        groups = access.visible_resource_groups(user).filter(subscription=subscription)
        self.groups = {str(group.pk): group for group in groups}
        if item.target_resource_group is not None:  # shown even if the user lost sight of it
            self.groups.setdefault(str(item.target_resource_group.pk), item.target_resource_group)
        self.fields["target_resource_group"].choices = [(key, group.name) for key, group in self.groups.items()]
        networks = (
            access.visible_networks(user).filter(resource_group__subscription=subscription).prefetch_related("subnets")
        )
        self.subnets = {
            f"{network.pk}/{subnet.name}": (network, subnet.name)
            for network in networks
            for subnet in network.subnets.all()
        }
        subnet_choices = [
            (key, f"{network.name} / {subnet} ({region_display_name(network.location)})")
            for key, (network, subnet) in self.subnets.items()
        ]
        self.fields["target_network"].choices = subnet_choices
        self.fields["test_network"].choices = [(NO_TEST_NETWORK, "Not set (choose when you test migrate)")]
        self.fields["test_network"].choices += subnet_choices
        automatic = auto_vm_size(item.server, self.server_plan)
        self.fields["vm_size"].choices = [
            ("", f"Automatically select matching configuration ({automatic.name if automatic else 'none fits'})")
        ] + [(size.name, f"{size.name} ({size.cores} vCPUs, {size.memory_gib:g} GiB memory)") for size in sizing.SIZES]
        self.availability_sets = {
            str(choice.pk): choice
            for choice in AvailabilitySet.objects.filter(resource_group__in=groups).select_related("resource_group")
        }
        self.fields["availability_set"].choices = [(NO_AVAILABILITY_SET, "No infrastructure redundancy required")] + [
            (key, f"{choice.name} ({choice.resource_group.name})") for key, choice in self.availability_sets.items()
        ]
        self.fields["os_disk"].choices = [(disk.disk_id, f"{disk.disk_id} ({disk.size_text})") for disk in self.disks]
        for index, disk in enumerate(self.disks):
            self.fields[f"disk-{index}-include"] = forms.BooleanField(
                label=f"Replicate {disk.disk_id}", required=False, initial=disk.included
            )
            self.fields[f"disk-{index}-type"] = forms.ChoiceField(
                label=f"Disk type of {disk.disk_id}", choices=DiskType.choices, initial=disk.disk_type
            )

    def _initial(self) -> dict:
        item = self.item
        return {
            "target_resource_group": str(item.target_resource_group_id or ""),
            "vm_name": item.target_vm_name,
            "vm_size": "" if item.target_vm_size_auto else item.target_vm_size,
            "target_network": f"{item.target_network_id}/{item.target_subnet_name}" if item.target_network_id else "",
            "test_network": f"{item.test_network_id}/{item.test_subnet_name}" if item.test_network_id else "",
            "hybrid_benefit": "yes" if item.license_type == LicenseType.WINDOWS_SERVER else "no",
            "availability_set": str(self.server_plan.availability_set.pk) if self.server_plan.availability_set else "",
            "os_disk": self.server_plan.os_disk_id,
        }

    def disable(self) -> None:
        """Every input shown but not editable (replication started, or the user may not change it)."""
        for field in self.fields.values():
            field.disabled = True

    def disk_rows(self) -> list[tuple]:
        """(disk, include field, type field) for the Disks table."""
        return [
            (disk, self[f"disk-{index}-include"], self[f"disk-{index}-type"]) for index, disk in enumerate(self.disks)
        ]

    def to_plan(self) -> ReplicationPlan:
        """The item's plan (replicate.plan_for_item) with this form's choices."""
        data, plan, server_plan = self.cleaned_data, self.plan, self.server_plan
        plan.target_resource_group = self.groups[data["target_resource_group"]]
        plan.target_network, plan.target_subnet = self.subnets[data["target_network"]]
        if data["test_network"]:
            plan.test_network, plan.test_subnet = self.subnets[data["test_network"]]
        else:
            plan.test_network, plan.test_subnet = None, ""
        plan.hybrid_benefit = data["hybrid_benefit"] == "yes"
        server_plan.vm_name = data["vm_name"].strip()
        server_plan.vm_size = data["vm_size"]
        server_plan.os_disk_id = data["os_disk"]
        server_plan.availability_set = self.availability_sets.get(data["availability_set"])
        server_plan.disks = [
            DiskChoice(disk.disk_id, data[f"disk-{index}-include"], data[f"disk-{index}-type"])
            for index, disk in enumerate(self.disks)
        ]
        return plan

    def add_problems(self, problems: list[Problem]) -> None:
        for problem in problems:
            if problem.field == "disks":
                self.disk_errors.append(problem.message)
            elif problem.field in FIELD_OF_PROBLEM:
                self.add_error(FIELD_OF_PROBLEM[problem.field], problem.message)
            else:
                self.add_error(None, problem.message)
