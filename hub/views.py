"""The portal shell: sign-in, All services and the user's API tokens. The home page and search list
resources, so they live with the resources (projects/portal/home.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from hub.models import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, MIN_TOKEN_DAYS, ApiToken


@dataclass(frozen=True)
class Service:
    name: str
    category: str
    url_name: str | None  # None: not emulated yet
    keywords: str = ""


SERVICES = [
    Service("Azure Migrate", "Migrate", "projects:migrate-overview", "migration servers assess replicate"),
    Service("Resource groups", "General", "projects:resource-groups", "rg"),
    Service("Subscriptions", "General", "projects:subscriptions", "billing"),
    Service("Azure Migrate jobs", "Migrate", "jobs:list", "deployments activity"),
    Service("Virtual machines", "Compute", "replication:virtual-machines", "vm migrated"),
    Service("Virtual networks", "Networking", "projects:virtual-networks", "vnet subnet"),
    Service("Azure Active Directory", "Identity", "projects:aad", "aad entra users roles app registrations"),
    Service("Recovery Services vaults", "Migrate", None, "site recovery asr"),
]


class EmailAuthenticationForm(AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email, phone, or Skype"


class SignInView(auth_views.LoginView):
    template_name = "hub/signin.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The embedded demo lists its accounts; their password is printed by `make run`, not shown here.
        context["demo_accounts"] = settings.EMBEDDED
        return context


def service_text(service: Service) -> str:
    """What a filter matches: the page filters as you type (static/hub/portal.js) on the same text."""
    return f"{service.name} {service.category} {service.keywords}".lower()


def matching_services(query: str) -> list[Service]:
    words = query.lower().split()
    return [s for s in SERVICES if all(w in service_text(s) for w in words)]


@login_required
@require_GET
def all_services(request):
    query = request.GET.get("q", "").strip()
    matching = matching_services(query)
    # Every service is listed (those the query leaves out hidden), so typing can widen the filter.
    services = [(service, service_text(service), service in matching) for service in SERVICES]
    return render(request, "hub/all_services.html", {"services": services, "query": query, "matched": bool(matching)})


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=80,
        error_messages={"required": "Give the token a name of 1 to 80 characters, e.g. 'ci-pipeline'."},
    )
    days = forms.IntegerField(
        label="Expires in (days)",
        initial=DEFAULT_TOKEN_DAYS,
        min_value=MIN_TOKEN_DAYS,
        max_value=MAX_TOKEN_DAYS,
        error_messages={
            "required": f"Say how many days the token lives: {MIN_TOKEN_DAYS} to {MAX_TOKEN_DAYS}.",
            "invalid": f"The lifetime is a whole number of days, {MIN_TOKEN_DAYS} to {MAX_TOKEN_DAYS}.",
            "min_value": f"A token lives at least {MIN_TOKEN_DAYS} day.",
            "max_value": f"A token lives at most {MAX_TOKEN_DAYS} days (two years); make a new one when it expires.",
        },
    )


@login_required
def api_tokens(request):
    new_token, new_secret = None, None
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        new_token, new_secret = ApiToken.issue(request.user, form.cleaned_data["name"], days=form.cleaned_data["days"])
        form = ApiTokenForm()
    return render(
        request,
        "hub/api_tokens.html",
        {"tokens": request.user.api_tokens.all(), "new_token": new_token, "new_secret": new_secret, "form": form},
    )


@login_required
@require_POST
def revoke_api_token(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.revoke()
    messages.success(request, f"Token '{token.name}' was revoked. Clients using it now get 401.")
    return redirect(reverse("hub:api-tokens"))
