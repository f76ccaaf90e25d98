"""The Faults tab of the Emulator blade: the tenant's faults (who injected each, when, its scope and
state), the Inject fault form and a Clear command per fault."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from faults import services
from faults.forms import InjectFaultForm
from faults.models import Fault, FaultState
from hub import clock
from hub.emulator_blade import blade_context

MAX_LISTED = 200


def _page(request, form: InjectFaultForm, *, status: int = 200):
    now = clock.now()
    faults = Fault.objects.filter(tenant=request.user.tenant).select_related("injected_by", "cleared_by")[:MAX_LISTED]
    rows = [(fault, fault.state(now)) for fault in faults]
    return render(
        request,
        "faults/fault_list.html",
        {
            **blade_context("faults"),
            "rows": rows,
            "form": form,
            "show_form": form.is_bound or request.GET.get("new") == "1",
            "clearable": (FaultState.SCHEDULED, FaultState.ACTIVE),
            "now": now,
        },
        status=status,
    )


@staff_member_required(login_url="hub:signin")
@require_http_methods(["GET", "POST"])
def fault_list(request):
    if request.method == "GET":
        return _page(request, InjectFaultForm(tenant=request.user.tenant))
    form = InjectFaultForm(request.POST, tenant=request.user.tenant)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        fault = form.inject(request.user)
    except services.FaultRejected as rejected:
        form.add_error(None, str(rejected))
        return _page(request, form, status=400)
    messages.success(request, f"Injected {fault.description.label} on {fault.scope}.")
    return redirect("faults:list")


@staff_member_required(login_url="hub:signin")
@require_POST
def clear_fault(request, fault_id):
    fault = get_object_or_404(Fault, pk=fault_id, tenant=request.user.tenant)
    if services.clear(fault, cleared_by=request.user):
        messages.success(request, f"Cleared {fault.description.label} on {fault.scope}: normal behaviour is restored.")
    else:
        messages.info(request, f"{fault.description.label} on {fault.scope} was already cleared.")
    return redirect("faults:list")
