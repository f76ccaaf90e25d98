"""The tutorial's "Run a test migration": the Test migrated servers list and the Test migrate and Clean
up test migration blades."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hub import clock
from replication import migrate
from replication.models import MigrationItem
from replication.portal.lookups import selected_project
from replication.portal.migration_blades import (
    PAGE_SIZE,
    blade_context,
    items_shown,
    start,
    test_vm,
    visible_item,
)
from replication.portal.migration_forms import CleanupForm, TestMigrateForm
from replication.selectors import server_migration_counts
from replication.status import TEST_STATE_DESCRIPTIONS, item_status
from replication.vm_build import TEST_SUFFIX


def last_test_result(item: MigrationItem) -> str:
    """The last finished test migration: it counts as done only once cleaned up."""
    if item.last_test_migration_status == "Succeeded":
        return "Succeeded (cleaned up)"
    if item.last_test_migration_status == "Failed":
        return "Failed"
    return ""


def _row_context(item: MigrationItem, now) -> dict:
    return {
        "item": item,
        "status": item_status(item, now),
        "test_state": TEST_STATE_DESCRIPTIONS.get(item.test_migrate_state, item.test_migrate_state),
        "last_result": last_test_result(item),
        "test_vm": test_vm(item),
        "migrated_vm": next((vm for vm in item.vms if not vm.is_test), None),
        "job_running": item.current_job is not None and not item.current_job.is_terminal,
    }


@login_required
@require_GET
def test_migrated_servers(request):
    project = selected_project(request)
    context = {"blade": "test-migrated", "project": project}
    if project is not None:
        now = clock.now()
        items = items_shown().filter(project=project).active().order_by("target_vm_name", "pk")
        page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(
            {
                "page": page,
                "rows": [_row_context(item, now) for item in page.object_list],
                "counts": server_migration_counts(project, now),
            }
        )
    return render(request, "replication/migration/test_migrated_servers.html", context)


@login_required
@require_GET
def test_migrated_row(request, item_id):
    """One row again: the page asks when a live update names the item or its running job."""
    item = visible_item(request.user, item_id)
    return render(request, "replication/migration/_test_migrated_row.html", _row_context(item, clock.now()))


@login_required
def test_migrate(request, item_id):
    item = visible_item(request.user, item_id)
    network_id = request.GET.get("network", "")
    form = TestMigrateForm(
        request.user, item, request.POST if request.method == "POST" else None, network_id=network_id
    )
    context = blade_context(request, item, "TestMigrate", form=form, test_vm_name=item.target_vm_name + TEST_SUFFIX)
    if request.method == "POST" and form.is_valid():
        chosen = {
            "network": form.selected_network,
            "subnet": form.cleaned_data["subnet"],
            "point": form.selected_point,
        }
        started = start(request, context, "Test migration", migrate.test_migrate_start, form, **chosen)
        if started is not None:
            return started
    if request.htmx and request.method == "GET" and network_id:
        # Choosing another network lists its subnets.
        return render(request, "replication/migration/test_migrate.html#subnet-field", context)
    return render(request, "replication/migration/test_migrate.html", context)


@login_required
def test_migrate_cleanup(request, item_id):
    item = visible_item(request.user, item_id)
    form = CleanupForm(request.POST if request.method == "POST" else None)
    context = blade_context(request, item, "TestMigrateCleanup", form=form, test_vm=test_vm(item))
    if request.method == "POST" and form.is_valid():
        cleanup, comments = migrate.test_migrate_cleanup_start, form.cleaned_data["comments"]
        started = start(request, context, "Test migration clean up", cleanup, form, comments=comments)
        if started is not None:
            return started
    return render(request, "replication/migration/test_migrate_cleanup.html", context)
