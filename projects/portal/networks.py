"""Virtual networks blade: list, Create virtual network, a network's subnets, delete."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from hub.http import done_or_refused, not_found_as_404, refusal_on_form
from projects import access, services
from projects.regions import REGIONS


class CreateNetworkForm(forms.Form):
    resource_group = forms.ChoiceField(label="Resource group")
    name = forms.CharField(label="Name", max_length=64)
    location = forms.ChoiceField(
        label="Region", choices=[(r.name, r.display_name) for r in REGIONS], initial="westeurope"
    )
    address_space = forms.CharField(label="IPv4 address space", initial="10.0.0.0/16")
    subnet_name = forms.CharField(label="Subnet name", initial="default", max_length=80)
    subnet_range = forms.CharField(label="Subnet address range", initial="10.0.0.0/24")
    environment = forms.ChoiceField(
        label="Environment tag",
        choices=[("production", "Production"), ("test", "Non-production (test)")],
        help_text="Test migration recommends non-production networks.",
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = {str(g.pk): g for g in access.visible_resource_groups(user)}
        self.fields["resource_group"].choices = [
            (pk, f"{g.name} ({g.subscription.display_name})") for pk, g in self.groups.items()
        ]


class SubnetForm(forms.Form):
    subnet_name = forms.CharField(label="Name", max_length=80)
    subnet_range = forms.CharField(label="Subnet address range")


def _network_or_404(request, subscription_id, resource_group_name, network_name):
    with not_found_as_404():
        group = access.get_group(request.user, subscription_id, resource_group_name)
        return access.get_network(request.user, group, network_name)


def _network_url(network) -> str:
    group = network.resource_group
    return reverse("projects:virtual-network", args=[group.subscription_id, group.name, network.name])


@login_required
def network_list(request):
    form = CreateNetworkForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with refusal_on_form(form, FIELDS_BY_TARGET):
            network, _ = services.virtual_network_create_or_update(
                user=request.user,
                resource_group=form.groups[data["resource_group"]],
                name=data["name"],
                location=data["location"],
                address_prefixes=[data["address_space"]],
                subnets=[(data["subnet_name"], data["subnet_range"])],
                tags={"environment": data["environment"]},
            )
            messages.success(request, f"Created virtual network {network.name}.")
            return redirect(_network_url(network))
    networks = access.visible_networks(request.user).prefetch_related("subnets")
    return render(
        request,
        "projects/networks/list.html",
        {"networks": networks, "form": form, "creating": request.method == "POST" or "create" in request.GET},
    )


# The Create virtual network form's field for each member of the ARM request a refusal may name.
FIELDS_BY_TARGET = {
    "name": "name",
    "location": "location",
    "properties.addressSpace.addressPrefixes": "address_space",
    "properties.addressPrefix": "subnet_range",
}


@login_required
def network_detail(request, subscription_id, resource_group_name, network_name):
    network = _network_or_404(request, subscription_id, resource_group_name, network_name)
    form = SubnetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form, {"properties.addressPrefix": "subnet_range"}):
            services.subnet_create_or_update(
                user=request.user,
                network=network,
                name=form.cleaned_data["subnet_name"],
                address_prefix=form.cleaned_data["subnet_range"],
            )
            messages.success(request, f"Saved subnet {form.cleaned_data['subnet_name']}.")
            return redirect(_network_url(network))
    group = network.resource_group
    denied_reason = access.denial(request.user, access.WRITE_VIRTUAL_NETWORK, group.subscription, group.name)
    return render(
        request,
        "projects/networks/detail.html",
        {
            "network": network,
            "subnets": network.subnets.all(),
            "form": form,
            "may_write": not denied_reason,
            "denied_reason": denied_reason,
        },
    )


@login_required
@require_POST
def network_delete(request, subscription_id, resource_group_name, network_name):
    network = _network_or_404(request, subscription_id, resource_group_name, network_name)
    deleted = done_or_refused(
        request,
        lambda: services.virtual_network_delete(user=request.user, network=network),
        f"Deleted virtual network {network.name}.",
    )
    return redirect("projects:virtual-networks") if deleted else redirect(_network_url(network))


@login_required
@require_POST
def subnet_delete(request, subscription_id, resource_group_name, network_name, subnet_name):
    network = _network_or_404(request, subscription_id, resource_group_name, network_name)
    subnet = network.subnets.filter(name__iexact=subnet_name).first()
    if subnet is None:
        raise Http404("No such subnet")
    done_or_refused(
        request, lambda: services.subnet_delete(user=request.user, subnet=subnet), f"Deleted subnet {subnet.name}."
    )
    return redirect(_network_url(network))
