"""The Snapshots tab of the Emulator blade (hub/emulator_blade.py): list, save under a name, restore
(after a confirmation), delete, and reset to the demo data. The service is hub/snapshots.py; the same
actions are `manage.py snapshot` and `/emulator/snapshots`.

A restore replaces every row, sessions included: the operator's session is written again afterwards,
so whoever clicked Restore stays signed in (when the snapshot holds their user, as every snapshot made
after seed_demo does). A reset makes the demo users anew: the operator signs in again.
"""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from hub import emulator_blade, snapshots

emulator_blade.register_tab("snapshots", "Snapshots", "hub:emulator-snapshots-tab", order=30)


class SaveForm(forms.Form):
    name = forms.RegexField(
        regex=snapshots.NAME_PATTERN,
        max_length=63,
        label="Snapshot name",
        error_messages={"invalid": f"A snapshot name is {snapshots.NAME_RULE}."},
    )


def _page(request, form: SaveForm | None = None, status: int = 200):
    listed = snapshots.snapshot_list()
    for manifest in listed:
        manifest["saved"] = _moment(manifest.get("createdAt"))
        manifest["sizeBytes"] = sum(manifest.get(key, 0) for key in ("databaseBytes", "fileBytes", "objectBytes"))
    operation = snapshots.hold_state()
    busy = f"A {operation.get('operation')} is running since {operation.get('since')}." if operation else ""
    return render(
        request,
        "hub/emulator_snapshots.html",
        {
            **emulator_blade.blade_context("snapshots"),
            "snapshots": listed,
            "form": form or SaveForm(),
            "busy": busy,
            "max_snapshots": snapshots.MAX_SNAPSHOTS,
        },
        status=status,
    )


@staff_member_required(login_url="hub:signin")
@require_GET
def snapshots_tab(request):
    return _page(request)


@staff_member_required(login_url="hub:signin")
@require_POST
def snapshot_save(request):
    form = SaveForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        snapshots.snapshot_save(form.cleaned_data["name"], created_by=request.user.email)
    except snapshots.SnapshotError as error:
        form.add_error("name" if error.status == 400 or error.code == "SnapshotExists" else None, error.message)
        return _page(request, form, status=error.status)
    messages.success(request, f"Saved snapshot {form.cleaned_data['name']}.")
    return redirect("hub:emulator-snapshots-tab")


@staff_member_required(login_url="hub:signin")
@require_POST
def snapshot_restore(request):
    name = request.POST.get("name", "")[:80]
    session = dict(request.session.items())
    try:
        manifest = snapshots.snapshot_restore(name)
    except snapshots.SnapshotError as error:
        messages.error(request, error.message)
        return redirect("hub:emulator-snapshots-tab")
    _keep_session(request, session)
    saved = _moment(manifest["createdAt"])
    messages.success(
        request,
        f"Restored snapshot {name} of {saved:%Y-%m-%d %H:%M:%S} UTC. Appliances and agents resynchronize at "
        "their next heartbeat.",
    )
    return redirect("hub:emulator-snapshots-tab")


@staff_member_required(login_url="hub:signin")
@require_POST
def snapshot_delete(request):
    name = request.POST.get("name", "")[:80]
    try:
        snapshots.snapshot_delete(name)
    except snapshots.SnapshotError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Deleted snapshot {name}.")
    return redirect("hub:emulator-snapshots-tab")


@staff_member_required(login_url="hub:signin")
@require_POST
def snapshot_reset(request):
    try:
        snapshots.snapshot_reset()
    except snapshots.SnapshotError as error:
        messages.error(request, error.message)
        return redirect("hub:emulator-snapshots-tab")
    return redirect("hub:signin")


def _moment(text):
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def _keep_session(request, data: dict) -> None:
    """Write the operator's session again: the restored sessions table may not hold it."""
    request.session.clear()
    request.session.update(data)
    request.session.cycle_key()
