"""Virtual machines: the VMs that test migrations and migrations built, and for a migrated one the
tutorial's "Complete the migration" checklist and "Post-migration best practices"."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from hub import clock
from projects import access
from replication.models import VirtualMachine
from replication.portal.migration_blades import PAGE_SIZE, ActionPolicy

# Complete the migration, after Stop replication (the tutorial's steps 2-8), as ticks on the VM.
CHECKLIST = (
    ("install-agent", "Install the Azure VM {os} agent on the migrated machine."),
    (
        "app-tweaks",
        "Perform any post-migration app tweaks, such as updating database connection strings, and web server "
        "configurations.",
    ),
    (
        "acceptance-testing",
        "Perform final application and migration acceptance testing on the migrated application now running in Azure.",
    ),
    ("cut-over", "Cut over traffic to the migrated Azure VM instance."),
    ("remove-from-inventory", "Remove the on-premises VMs from your local VM inventory."),
    ("remove-from-backups", "Remove the on-premises VMs from local backups."),
    (
        "update-documentation",
        "Update any internal documentation to show the new location and IP address of the Azure VMs.",
    ),
)
CHECKLIST_KEYS = {key for key, _ in CHECKLIST}
AGENT_DOCS = {
    "windows": "https://docs.microsoft.com/azure/virtual-machines/extensions/agent-windows",
    "linux": "https://docs.microsoft.com/azure/virtual-machines/extensions/agent-linux",
}

# Post-migration best practices, as the tutorial groups them.
BEST_PRACTICES = (
    (
        "For increased resilience",
        (
            (
                "Azure Backup",
                "Keep data secure by backing up Azure VMs using the Azure Backup service.",
                "https://docs.microsoft.com/azure/backup/quick-backup-vm-portal",
            ),
            (
                "Site Recovery",
                "Keep workloads running and continuously available by replicating Azure VMs to a secondary region "
                "with Site Recovery.",
                "https://docs.microsoft.com/azure/site-recovery/azure-to-azure-tutorial-enable-replication",
            ),
        ),
    ),
    (
        "For increased security",
        (
            (
                "Just-in-time access",
                "Lock down and limit inbound traffic access with Azure Security Center - Just in time administration.",
                "https://docs.microsoft.com/azure/security-center/security-center-just-in-time",
            ),
            (
                "Network security groups",
                "Restrict network traffic to management endpoints with Network Security Groups.",
                "https://docs.microsoft.com/azure/virtual-network/security-overview",
            ),
            (
                "Azure Disk Encryption",
                "Deploy Azure Disk Encryption to help secure disks, and keep data safe from theft and unauthorized "
                "access.",
                "https://docs.microsoft.com/azure/security/azure-security-disk-encryption-overview",
            ),
        ),
    ),
    (
        "For monitoring and management",
        (
            (
                "Azure Cost Management",
                "Consider deploying Azure Cost Management to monitor resource usage and spending.",
                "https://docs.microsoft.com/azure/cost-management/overview",
            ),
        ),
    ),
)


def visible_vms(user):
    return VirtualMachine.objects.filter(
        access.visibility_q(user, subscription_field="resource_group__subscription_id", rg_field="resource_group__name")
    ).select_related("resource_group__subscription", "network__resource_group", "migration_item", "created_by_job")


def visible_vm(user, vm_id) -> VirtualMachine:
    vm = visible_vms(user).filter(pk=vm_id).first()
    if vm is None:
        raise Http404("No such virtual machine")
    return vm


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def checklist_rows(vm: VirtualMachine) -> list[dict]:
    os_word = "Windows" if vm.os_type.lower() == "windows" else "Linux"
    rows = []
    for key, text in CHECKLIST:
        done = vm.checklist.get(key) or {}
        rows.append(
            {
                "key": key,
                "text": text.format(os=os_word),
                "done": bool(done),
                "by": done.get("by", ""),
                "at": _parse_time(done.get("at", "")),
                "docs": AGENT_DOCS[os_word.lower()] if key == "install-agent" else "",
            }
        )
    return rows


def checklist_set(user, vm: VirtualMachine, key: str, *, done: bool) -> VirtualMachine:
    """Tick or untick one step, recording who and when. The row is locked while its JSON is rewritten,
    so two people ticking different steps at once both keep their tick."""
    group = vm.resource_group
    access.authorize(user, access.MANAGE_TARGET_VMS, group.subscription, group.name)
    with transaction.atomic():
        locked = VirtualMachine.objects.select_for_update().get(pk=vm.pk)
        checklist = dict(locked.checklist)
        if done:
            checklist[key] = {"by": user.email, "at": clock.now().isoformat()}
        else:
            checklist.pop(key, None)
        locked.checklist = checklist
        locked.save(update_fields=["checklist"])
    return locked


def _vm_url(vm: VirtualMachine) -> str:
    return reverse("replication:virtual-machine", args=[vm.pk])


@login_required
@require_GET
def virtual_machines(request):
    vms = visible_vms(request.user).order_by("name", "pk")
    page = Paginator(vms, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "replication/migration/virtual_machines.html", {"page": page, "vms": page.object_list})


@login_required
@require_GET
def virtual_machine(request, vm_id):
    vm = visible_vm(request.user, vm_id)
    group = vm.resource_group
    item = vm.migration_item
    point_cycle = ((vm.created_by_job.input if vm.created_by_job else {}).get("vm") or {}).get("recoveryPointCycle")
    context = {
        "vm": vm,
        "disks": list(vm.disks.all()),
        "nic_name": f"{vm.name.lower()}-nic0",
        "recovery_point_cycle": point_cycle,
        "item": item,
        "checklist_denied": access.denial(request.user, access.MANAGE_TARGET_VMS, group.subscription, group.name),
    }
    if vm.is_test:
        if item is not None:
            context["cleanup"] = ActionPolicy(request.user, _vm_url(vm)).action(item, "TestMigrateCleanup")
    else:
        context.update(
            {
                "checklist": checklist_rows(vm),
                "best_practices": BEST_PRACTICES,
                "replication_stopped": item is None or item.replication_stopped_at is not None,
            }
        )
        if item is not None and item.replication_stopped_at is None:
            context["stop"] = ActionPolicy(request.user, _vm_url(vm)).action(item, "DisableMigration")
    return render(request, "replication/migration/virtual_machine.html", context)


@login_required
@require_POST
def virtual_machine_checklist(request, vm_id):
    vm = visible_vm(request.user, vm_id)
    key = request.POST.get("key", "")
    if vm.is_test or key not in CHECKLIST_KEYS:
        messages.error(request, "That step is not on this VM's checklist.")
        return redirect(_vm_url(vm))
    done = request.POST.get("done") == "1"
    try:
        checklist_set(request.user, vm, key, done=done)
    except access.AccessDenied as denied:
        messages.error(request, denied.portal_message)
    return redirect(_vm_url(vm) + "#checklist")
