"""Server Migration's last steps in the portal: the tutorial's "Migrate VMs" (the Migrate and Stop
replication blades) here, and every migration page's URL. "Run a test migration" is in
migration_testing, "Complete the migration" and "Post-migration best practices" in virtual_machines,
and what their pages share in migration_blades.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

from hub import clock
from replication import migrate
from replication.models import MigrationState
from replication.portal import migration_testing, virtual_machines
from replication.portal.migration_blades import blade_context, start, visible_item
from replication.portal.migration_forms import SHUTDOWN_NO, MigrateForm


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


@login_required
def migrate_item(request, item_id):
    item = visible_item(request.user, item_id)
    form = MigrateForm(item, request.POST if request.method == "POST" else None)
    now = clock.now()
    point_at = item.last_recovery_point_at
    context = blade_context(
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
        chosen = {"shutdown": form.shutdown_requested, "point": form.selected_point}
        started = start(request, context, "Migration", migrate.migrate_start, form, **chosen)
        if started is not None:
            return started
    return render(request, "replication/migration/migrate.html", context)


@login_required
def stop_replication(request, item_id):
    item = visible_item(request.user, item_id)
    migrated = item.migration_state == MigrationState.MIGRATION_SUCCEEDED
    migrated_vm = item.virtual_machines.filter(is_test=False).first() if migrated else None
    context = blade_context(request, item, "DisableMigration", migrated=migrated, migrated_vm=migrated_vm, error="")
    if request.method == "POST":
        started = start(request, context, "Stop migration", migrate.stop_replication_start)
        if started is not None:
            return started
    return render(request, "replication/migration/stop_replication.html", context)


urlpatterns = [
    path(
        "migrate/test-migrated-servers/",
        migration_testing.test_migrated_servers,
        name="test-migrated-servers",
    ),
    path(
        "migrate/test-migrated-servers/<uuid:item_id>/row/",
        migration_testing.test_migrated_row,
        name="test-migrated-row",
    ),
    path(
        "migrate/replicating-servers/<uuid:item_id>/test-migrate/",
        migration_testing.test_migrate,
        name="test-migrate",
    ),
    path(
        "migrate/replicating-servers/<uuid:item_id>/test-migrate-cleanup/",
        migration_testing.test_migrate_cleanup,
        name="test-migrate-cleanup",
    ),
    path("migrate/replicating-servers/<uuid:item_id>/migrate/", migrate_item, name="migrate"),
    path("migrate/replicating-servers/<uuid:item_id>/stop-replication/", stop_replication, name="stop-replication"),
    path("vms/", virtual_machines.virtual_machines, name="virtual-machines"),
    path("vms/<uuid:vm_id>/", virtual_machines.virtual_machine, name="virtual-machine"),
    path("vms/<uuid:vm_id>/checklist/", virtual_machines.virtual_machine_checklist, name="virtual-machine-checklist"),
]
