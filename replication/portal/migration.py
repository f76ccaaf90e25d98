"""Server Migration's last steps in the portal (the tutorial's "Run a test migration", "Migrate VMs",
"Complete the migration" and "Post-migration best practices"): the Test migrated servers list, the
Test migrate, Clean up test migration, Migrate and Stop replication blades, and Virtual machines with
the migration checklist and recommendations.

The verbs are replication.migrate's services; this module only asks, explains and reports. Whether a
verb is offered is status.allowed_operations plus the user's role (projects.access), and a disabled
verb always says why. Everything is looked up within what the user may see: anything else is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from hub import clock
from hub.arm.errors import ArmError
from projects import access
from projects.models import MigrateProject, ResourceGroup, Solution
from projects.portal.migrate import project_from_arm_id
from replication import migrate
from replication.models import MigrationItem, MigrationState, TestMigrateState, VirtualMachine
from replication.portal.migration_forms import SHUTDOWN_NO, CleanupForm, MigrateForm, TestMigrateForm
from replication.selectors import server_migration_counts
from replication.status import TEST_STATE_DESCRIPTIONS, allowed_operations, item_status

PAGE_SIZE = 50

# Azure's operation names (status.allowed_operations) and the portal's words for them, in menu order.
OPERATIONS = (
    ("TestMigrate", "Test migrate", "replication:test-migrate"),
    ("TestMigrateCleanup", "Clean up test migration", "replication:test-migrate-cleanup"),
    ("Migrate", "Migrate", "replication:migrate"),
    ("DisableMigration", "Stop replication", "replication:stop-replication"),
)

INITIAL_REPLICATION_PENDING = "Available after initial replication completes."
CLEAN_UP_FIRST = "Clean up the test migration first."


# Why an operation is not offered


def unavailable_reason(item: MigrationItem, operation: str) -> str:
    """Why the item's state does not allow the operation now, in words a person can act on; "" when
    status.allowed_operations allows it."""
    if operation in allowed_operations(item):
        return ""
    state, test = item.migration_state, item.test_migrate_state
    if operation == "TestMigrateCleanup" and test == TestMigrateState.NONE and item.replication_stopped_at is None:
        if state == MigrationState.REPLICATING:
            return "There is no test migration to clean up: run Test migrate first."
        return "There is no test migration to clean up."
    if item.replication_stopped_at is not None:
        if state == MigrationState.MIGRATION_SUCCEEDED:
            return "Replication was stopped: the migration is complete."
        return "Replication is being stopped."
    if state in (MigrationState.ENABLE_MIGRATION_IN_PROGRESS, MigrationState.INITIAL_SEEDING_IN_PROGRESS):
        return INITIAL_REPLICATION_PENDING
    if state == MigrationState.ENABLE_MIGRATION_FAILED:
        return "Enabling replication failed: replicate the server again."
    if state == MigrationState.MIGRATION_IN_PROGRESS:
        return "A migration is in progress."
    if state == MigrationState.DISABLE_MIGRATION_IN_PROGRESS:
        return "Replication is being stopped."
    if state in (MigrationState.MIGRATION_SUCCEEDED, MigrationState.MIGRATION_FAILED):
        return "The server has been migrated. Select Stop replication to complete the migration."
    # Replicating: the test migration decides.
    if test == TestMigrateState.IN_PROGRESS:
        return {
            "TestMigrate": "A test migration is in progress.",
            "TestMigrateCleanup": "Available after the test migration finishes.",
            "Migrate": "A test migration is in progress: wait for it, then clean it up.",
            "DisableMigration": "A test migration is in progress: wait for it to finish.",
        }.get(operation, "A test migration is in progress.")
    if test in (TestMigrateState.SUCCEEDED, TestMigrateState.FAILED):
        return CLEAN_UP_FIRST
    if test == TestMigrateState.CLEANUP_IN_PROGRESS:
        return "The test migration is being cleaned up."
    return "Not available in the server's current state."


def _permission_for(item: MigrationItem, operation: str) -> tuple[access.Permission, ResourceGroup]:
    """The permission an operation needs, and the resource group it is checked on (as the service does)."""
    if operation == "DisableMigration":
        return access.REPLICATE_SERVERS, item.project.resource_group
    # An item always has a target resource group once Replicate saved it; the project's is a safe fallback.
    return access.MANAGE_TARGET_VMS, item.target_resource_group or item.project.resource_group


@dataclass
class Action:
    operation: str
    label: str
    url: str
    reason: str  # why it is disabled; "" when the user may run it now


class ActionPolicy:
    """The actions a user may run on items, remembering role checks across the rows of one page (one
    project has one or two resource groups, but a page has up to PAGE_SIZE rows)."""

    def __init__(self, user, next_url: str = ""):
        self.user = user
        self.next_url = next_url
        self._denials: dict[tuple, str] = {}

    def denial(self, permission: access.Permission, group: ResourceGroup) -> str:
        key = (permission, group.subscription_id, group.name.lower())
        if key not in self._denials:
            self._denials[key] = access.denial(self.user, permission, group.subscription, group.name)
        return self._denials[key]

    def actions(self, item: MigrationItem) -> list[Action]:
        query = "?" + urlencode({"next": self.next_url}) if self.next_url else ""
        actions = []
        for operation, label, url_name in OPERATIONS:
            reason = unavailable_reason(item, operation)
            if not reason:
                permission, group = _permission_for(item, operation)
                reason = self.denial(permission, group)
            actions.append(Action(operation, label, reverse(url_name, args=[item.pk]) + query, reason))
        return actions


# Lookups


def _items_shown():
    return MigrationItem.objects.select_related(
        "server",
        "appliance",
        "policy",
        "current_job",
        "project__resource_group__subscription",
        "target_resource_group__subscription",
        "test_network",
    ).prefetch_related("disks", Prefetch("virtual_machines", to_attr="vms"))


def visible_item(user, item_id) -> MigrationItem:
    """A replicating server of a project the user may see; anything else does not exist for them."""
    item = _items_shown().filter(pk=item_id, project__in=access.visible_projects(user)).first()
    if item is None:
        raise Http404("No such replicating server")
    return item


def visible_vms(user):
    return VirtualMachine.objects.filter(
        access.visibility_q(user, subscription_field="resource_group__subscription_id", rg_field="resource_group__name")
    ).select_related("resource_group__subscription", "network__resource_group", "migration_item", "created_by_job")


def visible_vm(user, vm_id) -> VirtualMachine:
    vm = visible_vms(user).filter(pk=vm_id).first()
    if vm is None:
        raise Http404("No such virtual machine")
    return vm


def _selected_project(request) -> MigrateProject | None:
    """The project named by ?project=, or the newest the user may see with the Server Migration tool."""
    arm_id = request.GET.get("project", "")
    if arm_id:
        return project_from_arm_id(request.user, arm_id)
    return (
        access.visible_projects(request.user)
        .filter(solutions__tool=Solution.Tool.SERVER_MIGRATION)
        .order_by("-created_at")
        .first()
    )


def test_migrated_servers_url(project: MigrateProject) -> str:
    return reverse("replication:test-migrated-servers") + "?" + urlencode({"project": project.arm_id})


def _next_url(request, item: MigrationItem) -> str:
    """Where a blade returns to: the page that opened it (a local path only), else the item's project's
    Test migrated servers."""
    candidate = request.POST.get("next") or request.GET.get("next", "")
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(candidate, allowed_hosts=None):
        return candidate
    return test_migrated_servers_url(item.project)


# Presenting times


def age_text(delta: timedelta) -> str:
    """Two units at most: "42 seconds", "12 minutes", "3 hours 5 minutes", "2 days 4 hours"."""
    seconds = max(0, int(delta.total_seconds()))
    units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count or (name == "second" and not parts):
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
        if len(parts) == 2 or (parts and name == "minute"):
            break  # past a minute, seconds are noise
    return " ".join(parts)


def last_test_result(item: MigrationItem) -> str:
    """The last finished test migration: it counts as done only once cleaned up."""
    if item.last_test_migration_status == "Succeeded":
        return "Succeeded (cleaned up)"
    if item.last_test_migration_status == "Failed":
        return "Failed"
    return ""


# Test migrated servers


def _test_vm(item: MigrationItem) -> VirtualMachine | None:
    """The VM of the test migration not yet cleaned up (items come from _items_shown)."""
    return next((vm for vm in item.vms if vm.is_test), None)


def _row_context(item: MigrationItem, policy: ActionPolicy, now) -> dict:
    return {
        "item": item,
        "status": item_status(item, now),
        "test_state": TEST_STATE_DESCRIPTIONS.get(item.test_migrate_state, item.test_migrate_state),
        "last_result": last_test_result(item),
        "test_vm": _test_vm(item),
        "migrated_vm": next((vm for vm in item.vms if not vm.is_test), None),
        "job_running": item.current_job is not None and not item.current_job.is_terminal,
        "actions": policy.actions(item),
    }


@login_required
@require_GET
def test_migrated_servers(request):
    project = _selected_project(request)
    context = {"blade": "test-migrated", "project": project}
    if project is not None:
        now = clock.now()
        items = _items_shown().filter(project=project).active().order_by("target_vm_name", "pk")
        page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
        policy = ActionPolicy(request.user, test_migrated_servers_url(project))
        context.update(
            {
                "page": page,
                "rows": [_row_context(item, policy, now) for item in page.object_list],
                "counts": server_migration_counts(project, now),
            }
        )
    return render(request, "replication/migration/test_migrated_servers.html", context)


@login_required
@require_GET
def test_migrated_row(request, item_id):
    """One row again: the page asks when a live update names the item or its running job."""
    item = visible_item(request.user, item_id)
    policy = ActionPolicy(request.user, test_migrated_servers_url(item.project))
    return render(request, "replication/migration/_test_migrated_row.html", _row_context(item, policy, clock.now()))


# The blades of one item


def _blade_context(request, item: MigrationItem, operation: str, **extra) -> dict:
    next_url = _next_url(request, item)
    actions = ActionPolicy(request.user, next_url).actions(item)
    current = next(action for action in actions if action.operation == operation)
    return {
        "blade": "test-migrated",
        "project": item.project,
        "item": item,
        "actions": actions,
        "current": current,
        "next_url": next_url,
        "now": clock.now(),
        **extra,
    }


def _started(request, item: MigrationItem, verb: str, next_url: str):
    messages.success(request, f"{verb} of {item.target_vm_name} started. Track it in the notifications.")
    return redirect(next_url)


@login_required
def test_migrate(request, item_id):
    item = visible_item(request.user, item_id)
    network_id = request.GET.get("network", "")
    form = TestMigrateForm(
        request.user, item, request.POST if request.method == "POST" else None, network_id=network_id
    )
    context = _blade_context(
        request, item, "TestMigrate", form=form, test_vm_name=item.target_vm_name + migrate.TEST_SUFFIX
    )
    if request.method == "POST" and form.is_valid():
        try:
            migrate.test_migrate_start(
                request.user,
                item,
                network=form.selected_network,
                subnet=form.cleaned_data["subnet"],
                link=test_migrated_servers_url(item.project),
            )
        except ArmError as error:
            form.add_error(None, error.portal_message)
        else:
            return _started(request, item, "Test migration", context["next_url"])
    if request.htmx and request.method == "GET" and network_id:
        # Choosing another network lists its subnets.
        return render(request, "replication/migration/test_migrate.html#subnet-field", context)
    return render(request, "replication/migration/test_migrate.html", context)


@login_required
def test_migrate_cleanup(request, item_id):
    item = visible_item(request.user, item_id)
    form = CleanupForm(request.POST if request.method == "POST" else None)
    context = _blade_context(request, item, "TestMigrateCleanup", form=form, test_vm=_test_vm(item))
    if request.method == "POST" and form.is_valid():
        try:
            migrate.test_migrate_cleanup_start(
                request.user, item, comments=form.cleaned_data["comments"], link=test_migrated_servers_url(item.project)
            )
        except ArmError as error:
            form.add_error(None, error.portal_message)
        else:
            return _started(request, item, "Test migration clean up", context["next_url"])
    return render(request, "replication/migration/test_migrate_cleanup.html", context)


@login_required
def migrate_item(request, item_id):
    item = visible_item(request.user, item_id)
    form = MigrateForm(request.POST if request.method == "POST" else None)
    now = clock.now()
    point_at = item.last_recovery_point_at
    context = _blade_context(
        request,
        item,
        "Migrate",
        form=form,
        shutdown_no=SHUTDOWN_NO,
        recovery_point_at=point_at,
        recovery_point_age=age_text(now - point_at) if point_at else "",
        # The tutorial highly recommends a test migration before migrating each machine.
        never_tested=item.last_test_migration_status != "Succeeded",
    )
    if request.method == "POST" and form.is_valid():
        try:
            migrate.migrate_start(
                request.user, item, shutdown=form.shutdown_requested, link=reverse("replication:virtual-machines")
            )
        except ArmError as error:
            form.add_error(None, error.portal_message)
        else:
            return _started(request, item, "Migration", context["next_url"])
    return render(request, "replication/migration/migrate.html", context)


@login_required
def stop_replication(request, item_id):
    item = visible_item(request.user, item_id)
    migrated = item.migration_state == MigrationState.MIGRATION_SUCCEEDED
    migrated_vm = item.virtual_machines.filter(is_test=False).first() if migrated else None
    context = _blade_context(request, item, "DisableMigration", migrated=migrated, migrated_vm=migrated_vm, error="")
    if request.method == "POST":
        try:
            migrate.stop_replication_start(request.user, item, link=context["next_url"])
        except ArmError as error:
            context["error"] = error.portal_message
        else:
            return _started(request, item, "Stopping replication", context["next_url"])
    return render(request, "replication/migration/stop_replication.html", context)


# Virtual machines

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
            context["cleanup"] = next(
                action
                for action in ActionPolicy(request.user, _vm_url(vm)).actions(item)
                if action.operation == "TestMigrateCleanup"
            )
    else:
        context.update(
            {
                "checklist": checklist_rows(vm),
                "best_practices": BEST_PRACTICES,
                "replication_stopped": item is None or item.replication_stopped_at is not None,
            }
        )
        if item is not None and item.replication_stopped_at is None:
            context["stop"] = next(
                action
                for action in ActionPolicy(request.user, _vm_url(vm)).actions(item)
                if action.operation == "DisableMigration"
            )
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


urlpatterns = [
    path("migrate/test-migrated-servers/", test_migrated_servers, name="test-migrated-servers"),
    path("migrate/test-migrated-servers/<uuid:item_id>/row/", test_migrated_row, name="test-migrated-row"),
    path("migrate/replicating-servers/<uuid:item_id>/test-migrate/", test_migrate, name="test-migrate"),
    path(
        "migrate/replicating-servers/<uuid:item_id>/test-migrate-cleanup/",
        test_migrate_cleanup,
        name="test-migrate-cleanup",
    ),
    path("migrate/replicating-servers/<uuid:item_id>/migrate/", migrate_item, name="migrate"),
    path("migrate/replicating-servers/<uuid:item_id>/stop-replication/", stop_replication, name="stop-replication"),
    path("vms/", virtual_machines, name="virtual-machines"),
    path("vms/<uuid:vm_id>/", virtual_machine, name="virtual-machine"),
    path("vms/<uuid:vm_id>/checklist/", virtual_machine_checklist, name="virtual-machine-checklist"),
]
