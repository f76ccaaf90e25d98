"""Azure Active Directory > App registrations: register an application, see its ids, add and delete
client secrets (a value is shown once), delete the application with its service principal. Who may
register follows the App registrations user setting and the directory roles (projects.access)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from entra import services
from entra.models import DEFAULT_SECRET_DAYS, SECRET_LIFETIME_DAYS, Application
from hub.arm.errors import ArmError
from hub.http import done_or_refused
from hub.ids import parse_uuid
from projects import access


def _tenant_or_404(request):
    if request.user.tenant is None:
        raise Http404("You are not a member of a directory.")
    return request.user.tenant


def _context(request, **extra) -> dict:
    """What the directory blade's menu and title need, with the App registrations entry current."""
    return {"tenant": _tenant_or_404(request), "blade": "app-registrations", **extra}


def _application_or_404(request, application_id) -> Application:
    tenant = _tenant_or_404(request)
    object_id = parse_uuid(application_id)
    application = (
        Application.objects.filter(pk=object_id, tenant=tenant)
        .select_related("service_principal", "created_by")
        .first()
        if object_id
        else None
    )
    if application is None:
        raise Http404("No such application in your directory")
    return application


def _change_denial(request, application: Application) -> str:
    try:
        services.authorize_application_change(request.user, application)
    except ArmError as error:
        return error.portal_message
    return ""


class NewRegistrationForm(forms.Form):
    display_name = forms.CharField(label="Name", max_length=120)


@login_required
def app_registrations(request):
    tenant = _tenant_or_404(request)
    register_denied = access.app_registration_denial(request.user)
    form = NewRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            application = services.create_application(request.user, form.cleaned_data["display_name"])
        except ArmError as error:
            form.add_error(None, error.portal_message)
        else:
            messages.success(request, f"Successfully registered {application.display_name}.")
            return redirect("entra:application", application_id=application.pk)
    applications = Application.objects.filter(tenant=tenant).select_related("created_by")
    return render(
        request,
        "entra/app_registrations.html",
        _context(request, applications=applications, form=form, register_denied=register_denied),
    )


@login_required
def application_overview(request, application_id):
    application = _application_or_404(request, application_id)
    return render(
        request,
        "entra/application_overview.html",
        _context(
            request,
            application=application,
            section="overview",
            change_denied=_change_denial(request, application),
            confirm_delete=request.GET.get("delete") == "1",
        ),
    )


class NewClientSecretForm(forms.Form):
    description = forms.CharField(label="Description", max_length=120, required=False)
    days = forms.TypedChoiceField(
        label="Expires",
        choices=list(SECRET_LIFETIME_DAYS.items()),
        coerce=int,
        initial=DEFAULT_SECRET_DAYS,
    )


@login_required
def application_secrets(request, application_id):
    application = _application_or_404(request, application_id)
    change_denied = _change_denial(request, application)
    form = NewClientSecretForm(request.POST or None)
    new_secret, new_value = None, None
    if request.method == "POST" and form.is_valid():
        try:
            new_secret, new_value = services.add_client_secret(
                request.user, application, display_name=form.cleaned_data["description"], days=form.cleaned_data["days"]
            )
        except ArmError as error:
            form.add_error(None, error.portal_message)
        else:
            # Rendered, not redirected: the value exists only in this response and is never shown again.
            form = NewClientSecretForm()
    return render(
        request,
        "entra/application_secrets.html",
        _context(
            request,
            application=application,
            section="secrets",
            secrets=application.client_secrets.all(),
            form=form,
            show_form=bool(request.GET.get("new")) or form.is_bound,
            new_secret=new_secret,
            new_value=new_value,
            change_denied=change_denied,
        ),
    )


@login_required
@require_POST
def remove_secret(request, application_id, key_id):
    application = _application_or_404(request, application_id)
    done_or_refused(
        request,
        lambda: services.remove_client_secret(request.user, application, parse_uuid(key_id)),
        "Deleted the client secret. Clients using it can no longer sign in.",
    )
    return redirect("entra:application-secrets", application_id=application.pk)


@login_required
@require_POST
def delete_application(request, application_id):
    application = _application_or_404(request, application_id)
    try:
        services.delete_application(request.user, application)
    except ArmError as error:
        messages.error(request, error.portal_message)
        return redirect("entra:application", application_id=application.pk)
    messages.success(
        request,
        f"Deleted application {application.display_name}, its service principal and its role assignments.",
    )
    return redirect("entra:app-registrations")
