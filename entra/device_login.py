"""The device code page (/devicelogin): where a person signed in to the portal enters the code a tool
printed (`az login --use-device-code`) and confirms the sign-in, as at microsoft.com/devicelogin. The
tool's next poll of the token endpoint then gets tokens for that person."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from entra import signin
from entra.models import Application
from hub.ids import parse_uuid


@login_required
@require_http_methods(["GET", "POST"])
def device_login(request):
    typed = request.POST.get("code", "")[:40] if request.method == "POST" else ""
    context = {"code": typed, "step": "enter"}
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        try:
            if decision in ("continue", "cancel"):
                signin.decide_device_code(request.user, typed, approve=decision == "continue")
                context["step"] = "done" if decision == "continue" else "declined"
            else:
                pending = signin.pending_device_code(request.user, typed)
                context.update(step="confirm", code=pending.user_code, app=application_name(pending.client_id))
        except signin.DeviceCodeProblem as problem:
            context.update(step="enter", error=str(problem))
    return render(request, "entra/devicelogin.html", context, status=400 if context.get("error") else 200)


def application_name(client_id: str) -> str:
    known = signin.PUBLIC_CLIENTS.get(client_id.lower())
    if known:
        return known
    application = Application.objects.filter(app_id=parse_uuid(client_id)).first()
    return application.display_name if application else client_id
