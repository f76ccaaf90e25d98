"""The "..." (and right-click) menu of a row on every list page: Replicating servers, Test migrated
servers, Discovered servers and Virtual machines.

A row holds only the button; the menu is asked for when the person opens it (static/hub/menus.js) and
drawn outside the table. So a live push that redraws the row (every replication cycle) never closes it,
and the menu is rendered for the person who opens it: a command their role or the item's state forbids
is greyed out with the reason, though the row itself is the same HTML pushed to every viewer."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from projects import access
from replication import monitoring
from replication.models import DiscoveredServer
from replication.portal import server_migration_card
from replication.portal.migration_blades import ActionPolicy, visible_item
from replication.portal.virtual_machines import visible_vm


def _next_url(request) -> str:
    """Where a command's blade returns to: the list page the menu was opened on (a local path only)."""
    candidate = request.GET.get("next", "")
    local = candidate.startswith("/") and url_has_allowed_host_and_scheme(candidate, allowed_hosts=None)
    return candidate if local else ""


def _render(request, label: str, commands: list[monitoring.Action]):
    return render(request, "replication/migration/_row_menu.html", {"menu_label": label, "commands": commands})


@login_required
@require_GET
def item_menu(request, item_id):
    """A replicating server's commands: Test migrate, Clean up test migration, Migrate, Stop migration."""
    item = visible_item(request.user, item_id)
    opened = monitoring.Action("Open", "Open", reverse("replication:replicating-server", args=[item.pk]), "")
    return _render(request, item.server.name, [opened, *ActionPolicy(request.user, _next_url(request)).actions(item)])


@login_required
@require_GET
def item_commands(request, item_id):
    """The same commands for the command bar of the server's blade, which is pushed to every viewer."""
    item = visible_item(request.user, item_id)
    commands = ActionPolicy(request.user, reverse("replication:replicating-server", args=[item.pk])).actions(item)
    return render(request, "replication/_item_commands.html", {"commands": commands})


@login_required
@require_GET
def server_menu(request, server_id):
    """A discovered server's commands: Replicate, or its replication once it has one."""
    server = (
        DiscoveredServer.objects.select_related("project__resource_group__subscription", "migration_item")
        .filter(pk=server_id, project__in=access.visible_projects(request.user))
        .first()
    )
    if server is None:
        raise Http404("No such discovered server")
    project = server.project
    item = getattr(server, "migration_item", None)
    if item is not None:
        url = reverse("replication:replicating-server", args=[item.pk])
        commands = [
            monitoring.Action("Replicate", "Replicate", "", f"{server.name} is already replicating."),
            monitoring.Action("Open", "Open replication", url, ""),
        ]
    else:
        reason = server_migration_card.replicate_unavailable(request.user, project)
        commands = [monitoring.Action("Replicate", "Replicate", server_migration_card.replicate_url(project), reason)]
    return _render(request, server.name, commands)


@login_required
@require_GET
def vm_menu(request, vm_id):
    """A VM's commands: open it, and the command that ends its test migration or its migration."""
    vm = visible_vm(request.user, vm_id)
    vm_url = reverse("replication:virtual-machine", args=[vm.pk])
    commands = [monitoring.Action("Open", "Open", vm_url, "")]
    item = vm.migration_item
    if item is not None:
        operation = "TestMigrateCleanup" if vm.is_test else "DisableMigration"
        if vm.is_test or item.replication_stopped_at is None:
            commands.append(ActionPolicy(request.user, _next_url(request) or vm_url).action(item, operation))
    return _render(request, vm.name, commands)


urlpatterns = [
    path("migrate/replicating-servers/<uuid:item_id>/menu/", item_menu, name="item-menu"),
    path("migrate/replicating-servers/<uuid:item_id>/commands/", item_commands, name="item-commands"),
    path("migrate/discovered-servers/<uuid:server_id>/menu/", server_menu, name="server-menu"),
    path("vms/<uuid:vm_id>/menu/", vm_menu, name="vm-menu"),
]
