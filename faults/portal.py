"""The Faults tab of the Emulator blade: the tenant's faults (who injected each, when, its scope by name
with its id beneath, and state), the Inject fault form and a Clear command per fault.

The form's scope is found by a bounded search on the server (`scope_search`, htmx as the person
types): a hub may hold 10,000 servers, too many for one list, and the search reads only the tenant's
own resources of the kinds the chosen fault goes on."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from faults import scopes, services
from faults.forms import InjectFaultForm
from faults.kinds import KINDS, ScopeKind
from faults.models import Fault, FaultState
from hub import clock
from hub.emulator_blade import blade_context

MAX_LISTED = 200


def scope_results(tenant, kind: str, text: str, selected: str) -> dict:
    """The search's answer for the form's scope list: the matching scopes by kind (bounded), which
    kinds have more than shown, the chosen scope kept at the top, or a message on bad input."""
    fault_kind = KINDS.get(kind or "")
    kinds = fault_kind.scope_kinds if fault_kind else None
    context = {"scope_query": text or "", "scope_groups": [], "scope_more": False, "scope_error": "", "selected": None}
    try:
        found = scopes.search(tenant, text, kinds)
    except ValueError as error:
        context["scope_error"] = str(error)
        found = scopes.search(tenant, "", kinds)
    context["scope_groups"] = [(ScopeKind.LABELS[k], rows) for k, rows in found.groups.items() if rows]
    context["scope_more"] = bool(found.more)
    chosen = scopes.scope_of(tenant, selected, kinds) if selected else None
    if chosen is not None and all(chosen not in rows for rows in found.groups.values()):
        context["selected"] = chosen  # still chosen though the search no longer lists it
    context["selected_scope"] = chosen.scope if chosen else ""
    if not found and not context["scope_error"]:
        what = " or ".join(ScopeKind.LABELS[k].lower() for k in kinds) if kinds else "resource"
        typed = (text or "").strip()
        context["scope_error"] = (
            f"No {what} of your directory matches “{typed}”." if typed else f"Your directory has no {what}."
        )
    return context


def _page(request, form: InjectFaultForm, *, status: int = 200):
    now = clock.now()
    tenant = request.user.tenant
    faults = list(Fault.objects.filter(tenant=tenant).select_related("injected_by", "cleared_by")[:MAX_LISTED])
    named = scopes.describe(tenant, {fault.scope for fault in faults})
    rows = [(fault, fault.state(now), named.get(fault.scope)) for fault in faults]
    context = {
        **blade_context("faults"),
        "rows": rows,
        "form": form,
        "show_form": form.is_bound or request.GET.get("new") == "1",
        "clearable": (FaultState.SCHEDULED, FaultState.ACTIVE),
        "now": now,
    }
    if context["show_form"]:
        source = request.POST if form.is_bound else request.GET
        context.update(
            scope_results(tenant, source.get("kind", ""), source.get("scope_search", ""), source.get("scope", ""))
        )
    return render(request, "faults/fault_list.html", context, status=status)


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
    choice = form.cleaned_data["scope_choice"]
    messages.success(request, f"Injected {fault.description.label} on {choice.name}.")
    return redirect("faults:list")


@staff_member_required(login_url="hub:signin")
@require_GET
def scope_search(request):
    """The form's scope list for what the person typed (htmx swaps it in). Bad input is a message in
    the list, answered 200 so htmx shows it."""
    context = scope_results(
        request.user.tenant,
        request.GET.get("kind", ""),
        request.GET.get("scope_search", ""),
        request.GET.get("scope", ""),
    )
    return render(request, "faults/_scope_results.html", context)


def _scope_name(fault: Fault) -> str:
    choice = scopes.describe(fault.tenant, [fault.scope]).get(fault.scope)
    return choice.name if choice else fault.scope


@staff_member_required(login_url="hub:signin")
@require_POST
def clear_fault(request, fault_id):
    fault = get_object_or_404(Fault, pk=fault_id, tenant=request.user.tenant)
    label, name = fault.description.label, _scope_name(fault)
    if services.clear(fault, cleared_by=request.user):
        messages.success(request, f"Cleared {label} on {name}: normal behaviour is restored.")
    else:
        messages.info(request, f"{label} on {name} was already cleared.")
    return redirect("faults:list")
