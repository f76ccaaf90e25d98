"""Server Migration > Discover: "Discover machines" (virtualized?, target region, Create resources),
then "Install a replication appliance" (installer and registration key downloads)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from hub import clock
from hub.arm.errors import ArmError
from hub.http import refusal_on_form, render_part
from hub.ids import parse_uuid
from jobs.models import Job
from projects import access, services
from projects.models import MachinesVirtualized, MigrationResource
from projects.portal.migrate import project_from_arm_id, project_in_view
from projects.regions import REGIONS, REGIONS_BY_NAME
from replication import health as health_rules
from replication import services as replication_services
from replication.installer import build_appliance_installer
from replication.keys import key_file_name, registration_key_issue
from replication.models import REGISTRATION_KEY_VALIDITY, Appliance


def discover_url(project) -> str:
    return reverse("replication:discover") + "?" + urlencode({"project": project.arm_id})


class DiscoverForm(forms.Form):
    machines_virtualized = forms.ChoiceField(
        label="Are your machines virtualized?",
        choices=MachinesVirtualized.choices,
        initial="physical",
        widget=forms.RadioSelect,
    )
    target_region = forms.ChoiceField(
        label="Target region",
        choices=[(r.name, r.display_name) for r in REGIONS],
        initial="westeurope",
        # The confirmation names the region chosen (static/hub/portal.js keeps it in step).
        widget=forms.Select(attrs={"data-mirror-into": "#confirm-region"}),
    )
    confirm = forms.BooleanField(
        label="Confirm that the target region for migration is",
        error_messages={"required": "Confirm the target region: it can't change after you create resources."},
    )

    def chosen_region_name(self) -> str:
        """The tutorial's "Confirm that the target region for migration is region-name", with the name."""
        value = self["target_region"].value()
        region = REGIONS_BY_NAME.get(str(value or ""))
        return region.display_name if region else str(value or "")


@login_required
def discover(request):
    project = project_in_view(request)
    if project is None:
        return redirect("projects:migrate-servers")  # no project chosen: the Servers blade asks for one
    if not request.GET.get("project"):
        return redirect(discover_url(project))  # the URL names the project in view, as a link would
    group = project.resource_group
    form = DiscoverForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            services.create_resources_start(
                user=request.user,
                project=project,
                target_region=form.cleaned_data["target_region"],
                machines_virtualized=form.cleaned_data["machines_virtualized"],
                link=discover_url(project),
            )
            return redirect(discover_url(project))
    resources = {r.kind: r for r in project.migration_resources.all()}
    # The project's jobs in progress (Create resources, Finalize registration): the page follows them live.
    running = list(
        Job.objects.unfinished().filter(
            Q(target_object_id__iexact=project.arm_id) | Q(target_object_id__istartswith=project.arm_id + "/")
        )
    )
    return render_part(
        request,
        "replication/discover.html",
        "live",
        {
            "blade": "servers",
            "project": project,
            "form": form,
            "resources": [(kind.label, resources.get(kind)) for kind in MigrationResource.Kind],
            "resources_ready": len(resources) == len(MigrationResource.Kind),
            "creating": next((job for job in running if job.scenario_name == "CreateMigrationResources"), None),
            "running": running,
            "target_region": REGIONS_BY_NAME.get(project.target_region),
            "create_denied": access.denial(request.user, access.CREATE_KEY_VAULT, group.subscription, group.name),
            "register_denied": access.app_registration_denial(request.user),
            "key_validity_days": REGISTRATION_KEY_VALIDITY.days,
            "appliances": _appliances_with_health(project),
            "registered": project.appliances.filter(state=Appliance.State.REGISTERED),
            "finalize_denied": access.denial(request.user, access.REGISTER_APPLIANCE, group.subscription, group.name),
        },
    )


def _appliances_with_health(project) -> list[tuple]:
    """(appliance, health, heartbeat health, capacity errors) per appliance: its health is the worst of its
    heartbeat and Azure's capacity rules (replication.health)."""
    now, appliances = clock.now(), list(project.appliances.all())
    loads = health_rules.appliance_loads(appliances)
    return [
        (
            appliance,
            health_rules.appliance_health(appliance, now, loads[appliance.pk]),
            appliance.health(now),
            health_rules.appliance_health_errors(appliance, loads[appliance.pk]),
        )
        for appliance in appliances
    ]


@login_required
@require_POST
def download_registration_key(request):
    project = project_from_arm_id(request.user, request.GET.get("project", ""))
    vault = services.project_vault(project)
    if vault is None:
        return _discover_with_error(
            request, project, "Create resources first: the key registers the appliance with the project's vault."
        )
    try:
        key, text = registration_key_issue(
            user=request.user, project=project, hub_url=request.build_absolute_uri("/"), vault=vault
        )
    except ArmError as error:
        return _discover_with_error(request, project, error.portal_message)
    response = HttpResponse(text, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{key_file_name(project, key)}"'
    return response


def _discover_with_error(request, project, message: str):
    from django.contrib import messages

    messages.error(request, message)
    return redirect(discover_url(project))


@login_required
def appliance_installer(request):
    project = project_from_arm_id(request.user, request.GET.get("project", ""))
    response = HttpResponse(build_appliance_installer(), content_type="application/gzip")
    response["Content-Disposition"] = f'attachment; filename="MigrateHubAppliance-{project.name}.tar.gz"'
    return response


@login_required
@require_POST
def finalize_registration(request):
    project = project_from_arm_id(request.user, request.GET.get("project", ""))
    appliance = project.appliances.filter(pk=parse_uuid(request.POST.get("appliance"))).first()
    if appliance is None:
        return _discover_with_error(request, project, "Select the configuration server (appliance) to finalize.")
    try:
        replication_services.appliance_finalize_start(
            user=request.user, appliance=appliance, link=discover_url(project)
        )
    except ArmError as error:
        return _discover_with_error(request, project, error.portal_message)
    return redirect(discover_url(project))


urlpatterns = [
    path("migrate/discover/", discover, name="discover"),
    path("migrate/discover/registration-key/", download_registration_key, name="registration-key"),
    path("migrate/discover/appliance-installer/", appliance_installer, name="appliance-installer"),
    path("migrate/discover/finalize/", finalize_registration, name="finalize-registration"),
]
