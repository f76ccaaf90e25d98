"""ARM reads of the VMs that test migration and migration build (Microsoft.Compute/virtualMachines),
their managed disks (Microsoft.Compute/disks) and each VM's network interface
(Microsoft.Network/networkInterfaces/{vm}-nic), as ComputeManagementClient and
NetworkManagementClient call them; the same resources in `resources` lists (generic_resources).

Read-only: a VM here exists because replication.migrate built it from a recovery point, and goes when
a test migration is cleaned up, so PUT, PATCH, DELETE and VM actions answer 405 saying so. The hub
keeps no NIC rows: a VM has exactly one NIC, named after it, whose address is the VM's."""

from __future__ import annotations

import math
import uuid

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub.arm.errors import ArmError
from hub.arm.routes import RG, tracked_resource
from hub.arm.views import arm_list, arm_time
from projects import access
from projects.arm.scopes import ScopeView
from replication.models import LicenseType, ManagedDisk, VirtualMachine

VM_TYPE = VirtualMachine.arm_type
NIC_TYPE = "Microsoft.Network/networkInterfaces"
DISK_TYPE = "Microsoft.Compute/disks"
NIC_SUFFIX = "-nic"
IP_CONFIGURATION = "ipconfig1"
GIB = 1024**3
# Azure's own prefix for the MAC addresses of its VMs' NICs.
AZURE_MAC_PREFIX = (0x00, 0x0D, 0x3A)
READ_ONLY = (
    "Virtual machines here are created by test migration and migration (replicationMigrationItems/testMigrate "
    "and /migrate) and a test VM is removed by testMigrateCleanup: the hub serves them read-only."
)


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _expand_instance_view(request) -> bool:
    """`$expand=instanceView` (get and lists) or `statusOnly=true` (list_all) asks for power state."""
    expand = [part.strip().lower() for part in (request.query_params.get("$expand") or "").split(",")]
    return "instanceview" in expand or _true(request.query_params.get("statusOnly"))


# Ids


def nic_name(vm: VirtualMachine) -> str:
    return f"{vm.name}{NIC_SUFFIX}"


def nic_id(vm: VirtualMachine) -> str:
    return f"{vm.resource_group.arm_id}/providers/{NIC_TYPE}/{nic_name(vm)}"


def disk_id(vm: VirtualMachine, disk: ManagedDisk) -> str:
    return f"{vm.resource_group.arm_id}/providers/{DISK_TYPE}/{disk.name}"


def subnet_id(vm: VirtualMachine) -> str | None:
    if vm.network is None or not vm.subnet_name:
        return None  # the network was deleted after the VM was built
    return f"{vm.network.arm_id}/subnets/{vm.subnet_name}"


def mac_address(vm: VirtualMachine) -> str:
    """Stable per VM, in Azure's format (00-0D-3A-xx-xx-xx)."""
    tail = vm.pk.bytes[-3:]
    return "-".join(f"{octet:02X}" for octet in (*AZURE_MAC_PREFIX, *tail))


# Shapes (azure-mgmt-compute's VirtualMachine, azure-mgmt-network's NetworkInterface)


def _managed_disk(vm: VirtualMachine, disk: ManagedDisk) -> dict:
    return {"id": disk_id(vm, disk), "storageAccountType": disk.disk_type}


def _os_disk(vm: VirtualMachine, disk: ManagedDisk | None) -> dict | None:
    if disk is None:
        return None
    return {
        "osType": vm.os_type,
        "name": disk.name,
        # A migrated VM boots from its own disk: it is attached, not made from an image.
        "createOption": "Attach",
        "caching": "ReadWrite",
        "diskSizeGB": math.ceil(disk.size_bytes / GIB),
        "managedDisk": _managed_disk(vm, disk),
        "deleteOption": "Detach",
    }


def _data_disks(vm: VirtualMachine, disks: list[ManagedDisk]) -> list[dict]:
    return [
        {
            "lun": lun,
            "name": disk.name,
            "createOption": "Attach",
            "caching": "None",
            "diskSizeGB": math.ceil(disk.size_bytes / GIB),
            "managedDisk": _managed_disk(vm, disk),
            "toBeDetached": False,
            "deleteOption": "Detach",
        }
        for lun, disk in enumerate(disks)
    ]


def _os_profile(vm: VirtualMachine) -> dict:
    """Minimal: a migrated VM keeps its guest's own accounts, which the hub never sees."""
    profile = {"computerName": vm.source_server_name or vm.name, "allowExtensionOperations": True}
    if vm.os_type == "Windows":
        profile["windowsConfiguration"] = {"provisionVMAgent": True, "enableAutomaticUpdates": True}
    else:
        profile["linuxConfiguration"] = {"disablePasswordAuthentication": False, "provisionVMAgent": True}
    return profile


def instance_view_body(vm: VirtualMachine) -> dict:
    power = VirtualMachine.PowerState(vm.power_state) if vm.power_state in VirtualMachine.PowerState.values else None
    statuses = [
        {
            "code": "ProvisioningState/succeeded",
            "level": "Info",
            "displayStatus": "Provisioning succeeded",
            "time": arm_time(vm.created_at),
        }
    ]
    if power is not None:
        statuses.append(
            {"code": f"PowerState/{power.value}", "level": "Info", "displayStatus": f"VM {power.label.lower()}"}
        )
    return {
        "computerName": vm.source_server_name or vm.name,
        "osName": vm.os_name or None,
        "disks": [
            {
                "name": disk.name,
                "statuses": [
                    {
                        "code": "ProvisioningState/succeeded",
                        "level": "Info",
                        "displayStatus": "Provisioning succeeded",
                        "time": arm_time(vm.created_at),
                    }
                ],
            }
            for disk in vm.disks.all()
        ],
        "statuses": statuses,
    }


def vm_body(vm: VirtualMachine, *, with_instance_view: bool = False) -> dict:
    disks = list(vm.disks.all())
    os_disk = next((disk for disk in disks if disk.is_os_disk), None)
    properties = {
        "vmId": str(vm.pk),
        "hardwareProfile": {"vmSize": vm.size},
        "storageProfile": {
            "osDisk": _os_disk(vm, os_disk),
            "dataDisks": _data_disks(vm, [disk for disk in disks if disk is not os_disk]),
        },
        "osProfile": _os_profile(vm),
        "networkProfile": {"networkInterfaces": [{"id": nic_id(vm), "properties": {"primary": True}}]},
        # Azure spells Azure Hybrid Benefit for Windows Server "Windows_Server"; none is absent.
        "licenseType": "Windows_Server" if vm.license_type == LicenseType.WINDOWS_SERVER else None,
        "provisioningState": "Succeeded",
        "timeCreated": arm_time(vm.created_at),
    }
    if vm.availability_set_id:
        properties["availabilitySet"] = {"id": vm.availability_set_id}
    if with_instance_view:
        properties["instanceView"] = instance_view_body(vm)
    return {
        "id": vm.arm_id,
        "name": vm.name,
        "type": VM_TYPE,
        "location": vm.location,
        "tags": vm.tags,
        "properties": properties,
    }


def nic_body(vm: VirtualMachine) -> dict:
    this_id = nic_id(vm)
    subnet = subnet_id(vm)
    return {
        "id": this_id,
        "name": nic_name(vm),
        "type": NIC_TYPE,
        "location": vm.location,
        "tags": {},
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": str(uuid.uuid5(vm.pk, "nic")),
            "ipConfigurations": [
                {
                    "id": f"{this_id}/ipConfigurations/{IP_CONFIGURATION}",
                    "name": IP_CONFIGURATION,
                    "type": f"{NIC_TYPE}/ipConfigurations",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "privateIPAddress": vm.private_ip,
                        "privateIPAllocationMethod": "Dynamic",
                        "privateIPAddressVersion": "IPv4",
                        "subnet": {"id": subnet} if subnet else None,
                        "primary": True,
                    },
                }
            ],
            "virtualMachine": {"id": vm.arm_id},
            "macAddress": mac_address(vm),
            "primary": True,
            "enableAcceleratedNetworking": False,
            "enableIPForwarding": False,
            "nicType": "Standard",
        },
    }


def disk_body(vm: VirtualMachine, disk: ManagedDisk) -> dict:
    """azure-mgmt-compute's Disk: attached to its VM (managedBy), made when the VM was built."""
    size_gb = math.ceil(disk.size_bytes / GIB)
    return {
        "id": disk_id(vm, disk),
        "name": disk.name,
        "type": DISK_TYPE,
        "location": vm.location,
        "tags": {},
        "managedBy": vm.arm_id,
        "sku": {"name": disk.disk_type, "tier": "Premium" if disk.disk_type.startswith("Premium") else "Standard"},
        "properties": {
            "osType": vm.os_type if disk.is_os_disk else None,
            "hyperVGeneration": "V1",
            # Built from the replica at a recovery point, as Azure imports a migrated disk.
            "creationData": {"createOption": "Import"},
            "diskSizeGB": size_gb,
            "diskSizeBytes": size_gb * GIB,
            "uniqueId": str(disk.pk),
            "provisioningState": "Succeeded",
            "diskState": "Attached",
            "timeCreated": arm_time(vm.created_at),
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "networkAccessPolicy": "AllowAll",
            "publicNetworkAccess": "Enabled",
        },
    }


# Lookups, limited to the resource groups the caller may see


def visible_vms(user):
    visible = access.visibility_q(
        user, subscription_field="resource_group__subscription_id", rg_field="resource_group__name"
    )
    return (
        VirtualMachine.objects.filter(visible)
        .select_related("resource_group__subscription", "network__resource_group__subscription")
        .prefetch_related("disks")
        .order_by("name", "pk")
    )


def visible_disks(user):
    visible = access.visibility_q(
        user, subscription_field="vm__resource_group__subscription_id", rg_field="vm__resource_group__name"
    )
    return ManagedDisk.objects.filter(visible).select_related("vm__resource_group__subscription").order_by("name", "pk")


def generic_resources(user, subscription, group) -> list[dict]:
    """The VMs, their NICs and disks as `resources.list` / `list_by_resource_group` show them
    (registered with projects.arm.resource_manager at start-up)."""
    vms = visible_vms(user).filter(resource_group__subscription=subscription)
    disks = visible_disks(user).filter(vm__resource_group__subscription=subscription)
    if group is not None:
        vms, disks = vms.filter(resource_group=group), disks.filter(vm__resource_group=group)
    found = []
    for vm in vms:
        found.append({"id": vm.arm_id, "name": vm.name, "type": VM_TYPE, "location": vm.location, "tags": vm.tags})
        found.append({"id": nic_id(vm), "name": nic_name(vm), "type": NIC_TYPE, "location": vm.location, "tags": {}})
    for disk in disks:
        body = disk_body(disk.vm, disk)
        found.append({key: body[key] for key in ("id", "name", "type", "location", "tags", "managedBy", "sku")})
    return found


def _vm_or_404(user, group, vm_name: str, *, shown_as: str) -> VirtualMachine:
    """The VM of the group named `vm_name`; a miss names the resource asked for (`shown_as`, a VM or its NIC)."""
    vm = visible_vms(user).filter(resource_group=group, name__iexact=vm_name).first()
    if vm is None:
        raise ArmError(
            404, "ResourceNotFound", f"The Resource '{shown_as}' under resource group '{group.name}' was not found."
        )
    return vm


# Views


class ReadOnly:
    """PUT, PATCH and DELETE of a resource that only migration creates and removes: 405, once the
    caller may see the resource group (404 before that, so nothing is learnt about others' groups)."""

    def _read_only(self, request, **route):
        raise ArmError(405, "MethodNotAllowed", f"{request.method} is not served: {READ_ONLY}")

    put = patch = delete = _read_only


class VirtualMachineListView(ScopeView):
    @extend_schema(operation_id="VirtualMachines_List", responses={200: dict})
    def get(self, request, **parents):
        expand = _expand_instance_view(request)
        return arm_list([vm_body(vm, with_instance_view=expand) for vm in self.in_scope(visible_vms(request.user))])


class VirtualMachineScopeView(ScopeView):
    """A VM's own paths: `vm()` finds the VM the URL names (404 unless the caller may see it)."""

    def vm(self, request, vm_name: str) -> VirtualMachine:
        return _vm_or_404(request.user, self.group, vm_name, shown_as=f"{VM_TYPE}/{vm_name}")


class VirtualMachineView(ReadOnly, VirtualMachineScopeView):
    @extend_schema(operation_id="VirtualMachines_Get", responses={200: dict})
    def get(self, request, vm_name, **parents):
        return Response(vm_body(self.vm(request, vm_name), with_instance_view=_expand_instance_view(request)))


class VirtualMachineInstanceView(VirtualMachineScopeView):
    @extend_schema(operation_id="VirtualMachines_InstanceView", responses={200: dict})
    def get(self, request, vm_name, **parents):
        return Response(instance_view_body(self.vm(request, vm_name)))


class VirtualMachineActionView(VirtualMachineScopeView):
    """start, powerOff, restart, deallocate, redeploy...: the VM must exist; then 405, read-only. Other
    child paths (extensions, say) are not served: 404 as for any unknown path. As in Azure, the
    caller's right to the action is checked first (a Reader gets 403)."""

    permissions = {"post": access.virtual_machine_action}

    @extend_schema(operation_id="VirtualMachines_Action", responses={405: dict})
    def post(self, request, vm_name, action, **parents):
        self.vm(request, vm_name)
        raise ArmError(405, "MethodNotAllowed", f"The VM action '{action}' is not served: {READ_ONLY}")

    def _not_served(self, request, **route):
        raise ArmError(
            404,
            "InvalidResourceType",
            f"The resource type or path '{request.path}' is not served by this hub. "
            "See /api/schema/ for the resources it emulates.",
        )

    get = put = patch = delete = _not_served


class NetworkInterfaceListView(ScopeView):
    @extend_schema(operation_id="NetworkInterfaces_List", responses={200: dict})
    def get(self, request, **parents):
        return arm_list([nic_body(vm) for vm in self.in_scope(visible_vms(request.user))])


class NetworkInterfaceView(ReadOnly, ScopeView):
    @extend_schema(operation_id="NetworkInterfaces_Get", responses={200: dict})
    def get(self, request, nic_name, **parents):
        # A VM's one NIC is named after it.
        vm_name = nic_name[: -len(NIC_SUFFIX)] if nic_name.lower().endswith(NIC_SUFFIX) else None
        if vm_name is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{NIC_TYPE}/{nic_name}' under resource group '{self.group.name}' was not found.",
            )
        return Response(nic_body(_vm_or_404(request.user, self.group, vm_name, shown_as=f"{NIC_TYPE}/{nic_name}")))


class DiskListView(ScopeView):
    @extend_schema(operation_id="Disks_List", responses={200: dict})
    def get(self, request, **parents):
        disks = visible_disks(request.user).filter(vm__resource_group__subscription=self.subscription)
        if self.group is not None:
            disks = disks.filter(vm__resource_group=self.group)
        return arm_list([disk_body(disk.vm, disk) for disk in disks])


class DiskView(ScopeView):
    @extend_schema(operation_id="Disks_Get", responses={200: dict})
    def get(self, request, disk_name, **parents):
        disk = visible_disks(request.user).filter(vm__resource_group=self.group, name__iexact=disk_name).first()
        if disk is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{DISK_TYPE}/{disk_name}' under resource group '{self.group.name}' was not found.",
            )
        return Response(disk_body(disk.vm, disk))


VMS = "providers/microsoft.compute/virtualmachines"
VM = f"{RG}/{VMS}/<str:vm_name>"

urlpatterns = [
    *tracked_resource(VMS, VirtualMachineListView, VirtualMachineView, "vm_name"),
    path(f"{VM}/instanceview", VirtualMachineInstanceView.as_view()),
    path(f"{VM}/<str:action>", VirtualMachineActionView.as_view()),
    *tracked_resource("providers/microsoft.compute/disks", DiskListView, DiskView, "disk_name"),
    *tracked_resource(
        "providers/microsoft.network/networkinterfaces", NetworkInterfaceListView, NetworkInterfaceView, "nic_name"
    ),
]
