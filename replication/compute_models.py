"""The Azure compute resources a test migration or a migration builds from a recovery point: virtual
machines and their managed disks, and the disk types both they and the replicated disks choose from.
Registered with Django through replication/models.py, which imports them."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from projects.models import GroupResource


class DiskType(models.TextChoices):
    STANDARD_HDD = "Standard_LRS", "Standard HDD"
    STANDARD_SSD = "StandardSSD_LRS", "Standard SSD"
    PREMIUM_SSD = "Premium_LRS", "Premium SSD"


class VirtualMachine(GroupResource, models.Model):  # noqa: DJ008 (GroupResource gives its __str__)
    """An Azure VM (Microsoft.Compute/virtualMachines) that a test migration or a migration built from
    a recovery point. A test VM is named `<name>-Test` and tagged as a test."""

    arm_type = "Microsoft.Compute/virtualMachines"

    class PowerState(models.TextChoices):
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    resource_group = models.ForeignKey("projects.ResourceGroup", on_delete=models.CASCADE, related_name="vms")
    name = models.CharField(max_length=80)
    location = models.CharField(max_length=40)
    size = models.CharField(max_length=40)
    os_type = models.CharField(max_length=20)
    os_name = models.CharField(max_length=120, blank=True)
    license_type = models.CharField(max_length=20, blank=True)
    availability_set_id = models.CharField(max_length=400, blank=True)
    network = models.ForeignKey("projects.VirtualNetwork", null=True, on_delete=models.SET_NULL, related_name="+")
    subnet_name = models.CharField(max_length=80, blank=True)
    private_ip = models.GenericIPAddressField(null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    is_test = models.BooleanField(default=False)
    power_state = models.CharField(max_length=20, choices=PowerState.choices, default=PowerState.RUNNING)
    migration_item = models.ForeignKey(
        "replication.MigrationItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="virtual_machines"
    )
    source_server_name = models.CharField(max_length=255, blank=True)
    recovery_point_time = models.DateTimeField(null=True, blank=True)
    created_by_job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # Complete the migration: checklist item key -> {"by": email, "at": ISO time}
    checklist = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["resource_group", "name"], name="unique_vm_name_in_group")]


class ManagedDisk(models.Model):
    """A VM's disk, built from a replica disk at a recovery point; its data is a file under
    REPLICATION_DIR/disks, and its SHA-256 is recorded when built."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="disks")
    name = models.CharField(max_length=120)
    source_disk_id = models.CharField(max_length=128)
    is_os_disk = models.BooleanField(default=False)
    size_bytes = models.BigIntegerField()
    disk_type = models.CharField(max_length=20, choices=DiskType.choices)
    sha256 = models.CharField(max_length=64, blank=True)
    content_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-is_os_disk", "name"]

    def __str__(self) -> str:
        return self.name
