"""What the migration pages share (Test migrated servers, the blades of Test migrate, Clean up test
migration, Migrate and Stop replication, and Virtual machines): how they read a replicating server,
which of its commands the user may run, and the frame of a command's blade.

The verbs are replication.migrate's services; these pages only ask, explain and report. Whether a
verb is offered is status.allowed_operations plus the user's role (projects.access), and a disabled
verb always says why."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from hub import clock
from hub.arm.errors import ArmError
from projects import access
from projects.models import MigrateProject, ResourceGroup
from replication import monitoring
from replication.models import MigrationItem, VirtualMachine
from replication.portal import lookups

PAGE_SIZE = 50


# What each command needs, as the ARM API and the verbs check it: the Site Recovery action on the
# project's vault, then (for commands that build or change VMs) the target resource group's VMs.
ITEM_PERMISSIONS = {
    "TestMigrate": access.TEST_MIGRATE,
    "TestMigrateCleanup": access.CLEAN_UP_TEST_MIGRATION,
    "Migrate": access.MIGRATE,
    "DisableMigration": access.STOP_REPLICATION,
}


def _permissions_for(item: MigrationItem, operation: str) -> list[tuple[access.Permission, ResourceGroup]]:
    """The permissions an operation needs, each with the resource group it is checked on."""
    needed = [(ITEM_PERMISSIONS.get(operation, access.REPLICATE_SERVERS), item.project.resource_group)]
    if operation != "DisableMigration":
        # An item always has a target resource group once Replicate saved it; the project's is a safe fallback.
        needed.append((access.MANAGE_TARGET_VMS, item.target_resource_group or item.project.resource_group))
    return needed


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

    def actions(self, item: MigrationItem) -> list[monitoring.Action]:
        """monitoring.actions, each the state allows also checked against the user's role."""
        actions = monitoring.actions(item, self.next_url)
        for action in actions:
            for permission, group in _permissions_for(item, action.operation):
                action.reason = action.reason or self.denial(permission, group)
        return actions

    def action(self, item: MigrationItem, operation: str) -> monitoring.Action:
        return next(action for action in self.actions(item) if action.operation == operation)


def items_shown():
    """What the migration pages read of replicating servers, with their VMs as `vms`."""
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
    return lookups.visible_item(user, item_id, items_shown())


def test_vm(item: MigrationItem) -> VirtualMachine | None:
    """The VM of the test migration not yet cleaned up (items come from items_shown)."""
    return next((vm for vm in item.vms if vm.is_test), None)


def test_migrated_servers_url(project: MigrateProject) -> str:
    return reverse("replication:test-migrated-servers") + "?" + urlencode({"project": project.arm_id})


def _next_url(request, item: MigrationItem) -> str:
    """Where a blade returns to: the page that opened it (a local path only), else the item's project's
    Test migrated servers."""
    candidate = request.POST.get("next") or request.GET.get("next", "")
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(candidate, allowed_hosts=None):
        return candidate
    return test_migrated_servers_url(item.project)


def breadcrumb_trail(next_url: str, item: MigrationItem) -> list[tuple[str, str]]:
    """The breadcrumb between Servers and the blade's name: the list the user came from (Test migrated
    servers or Replicating machines), else the resource hierarchy (Replicating machines), then the server."""
    path = urlsplit(next_url).path
    server = reverse("replication:replicating-server", args=[item.pk])
    if path == reverse("replication:test-migrated-servers"):
        origin = ("Test migrated servers", next_url)
    elif path == reverse("replication:replicating-servers"):
        origin = ("Replicating machines", next_url)
    else:
        query = urlencode({"project": item.project.arm_id})
        origin = ("Replicating machines", reverse("replication:replicating-servers") + "?" + query)
    return [origin, (item.target_vm_name, next_url if path == server else server)]


def blade_context(request, item: MigrationItem, operation: str, **extra) -> dict:
    """What every command's blade shows: the item, its commands and the current one."""
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
        "breadcrumb_trail": breadcrumb_trail(next_url, item),
        "now": clock.now(),
        **extra,
    }


def start(request, context: dict, verb: str, service, form=None, **arguments) -> HttpResponse | None:
    """Run one of replication.migrate's services for the user on the blade's item: on success, say that
    the verb started and return the way back (context["next_url"]); else show the service's refusal on
    the form (or, without one, as context["error"]) and return None, for the blade to render again."""
    item = context["item"]
    if context["current"].reason:
        # The blade already says why; a form posted anyway (an old tab, a role removed since) gets it again.
        if form is None:
            context["error"] = context["current"].reason
        else:
            form.add_error(None, context["current"].reason)
        return None
    try:
        service(request.user, item, **arguments)
    except ArmError as error:
        if form is None:
            context["error"] = error.portal_message
        else:
            form.add_error(None, error.portal_message)
        return None
    messages.success(request, f"{verb} of {item.target_vm_name} started. Track it in the notifications.")
    return redirect(context["next_url"])
