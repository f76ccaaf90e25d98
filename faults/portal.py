"""The Faults tab of the Emulator blade."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from faults.models import Fault
from hub import clock
from hub.emulator_blade import blade_context


@staff_member_required(login_url="hub:signin")
@require_GET
def fault_list(request):
    now = clock.now()
    faults = Fault.objects.filter(tenant=request.user.tenant).select_related("injected_by", "cleared_by")[:200]
    rows = [(fault, fault.state(now)) for fault in faults]
    return render(request, "faults/fault_list.html", {**blade_context("faults"), "rows": rows})
