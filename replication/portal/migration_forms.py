"""Forms of the Test migrate, Clean up test migration and Migrate blades."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from projects import access
from projects.models import VirtualNetwork
from replication import fault_effects
from replication.models import MigrationItem, RecoveryPoint

PRODUCTION = "production"
NOT_RECOMMENDED = "not recommended: use a non-production network"


@dataclass
class NetworkOption:
    """A virtual network the test VM could join, with the tutorial's advice about it."""

    network: VirtualNetwork
    environment: str  # the network's `environment` tag; "" when untagged
    # An injected networkRoutesToProduction fault: the network peers or routes to production.
    routes_to_production: bool = False

    @property
    def is_production(self) -> bool:
        return self.environment.lower() == PRODUCTION

    @property
    def not_recommended(self) -> bool:
        return self.is_production or self.routes_to_production

    @property
    def advice(self) -> str:
        if self.is_production:
            return NOT_RECOMMENDED
        if self.routes_to_production:
            return "not recommended: it routes to production, so a test VM in it is not isolated"
        if self.environment:
            return "recommended: non-production network"
        return ""


def test_network_options(user, item: MigrationItem) -> list[NetworkOption]:
    """Networks the user may see in the target subscription and the project's target region: Azure
    creates the test VM there, so a network elsewhere could not take it."""
    target_group = item.target_resource_group or item.project.resource_group
    networks = list(
        access.visible_networks(user)
        .filter(
            resource_group__subscription_id=target_group.subscription_id,
            location__iexact=item.project.target_region,
        )
        .select_related("resource_group")
        .prefetch_related("subnets")
    )
    routed = fault_effects.networks_routing_to_production(networks)
    return [
        NetworkOption(network, str(network.tags.get("environment", "")), network.pk in routed) for network in networks
    ]


def recommended_option(options: list[NetworkOption], previous: VirtualNetwork | None) -> NetworkOption | None:
    """The network to preselect: the one the last test used, if it is still a non-production network;
    else the first one tagged non-production; else the first one not tagged production. Never a
    production network, nor one that routes to production: choosing one must be a deliberate act."""
    candidates = [option for option in options if not option.not_recommended]
    for option in candidates:
        if previous is not None and option.network.pk == previous.pk:
            return option
    tagged = [option for option in candidates if option.environment]
    return (tagged or candidates or [None])[0]


LATEST_POINT = ""
POINT_TYPES = {"CrashConsistent": "crash-consistent", "ApplicationConsistent": "app-consistent"}
POINTS_LISTED = 500  # a week of 20-minute cycles; the API lists every kept point


class RecoveryPointChoice(forms.Form):
    """The recovery point to build the VM from: "Latest processed" (when the VM is built) or a kept one."""

    recovery_point = forms.ChoiceField(
        label="Recovery point",
        required=False,
        error_messages={
            "invalid_choice": "That recovery point is no longer kept (it was older than the replication policy "
            "keeps): choose another, or Latest processed."
        },
    )

    def point_choices(self, item: MigrationItem) -> None:
        self.points = {
            str(point.pk): point for point in item.recovery_points.order_by("-captured_at", "-cycle")[:POINTS_LISTED]
        }
        minutes = item.policy.recovery_point_history_minutes
        self.retention = f"{minutes // 60} hours" if minutes % 60 == 0 else f"{minutes} minutes"
        latest = item.last_recovery_point_at
        latest_label = f"Latest processed ({latest:%Y-%m-%d %H:%M:%S} UTC)" if latest else "Latest processed"
        self.fields["recovery_point"].choices = [(LATEST_POINT, latest_label)] + [
            (
                point_id,
                f"{point.captured_at:%Y-%m-%d %H:%M:%S} UTC · {POINT_TYPES.get(point.point_type, point.point_type)}",
            )
            for point_id, point in self.points.items()
        ]

    @property
    def selected_point(self) -> RecoveryPoint | None:
        return self.points.get(self.cleaned_data.get("recovery_point") or LATEST_POINT)


class TestMigrateForm(RecoveryPointChoice):
    """Test Migration: the virtual network (and subnet) the test VM joins."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    network = forms.ChoiceField(
        label="Virtual network",
        error_messages={"required": "Select the virtual network the test VM joins."},
    )
    subnet = forms.ChoiceField(label="Subnet", required=False)

    def __init__(self, user, item: MigrationItem, data=None, *, network_id: str = ""):
        self.options = test_network_options(user, item)
        self.recommended = recommended_option(self.options, item.test_network)
        self.by_id = {str(option.network.pk): option for option in self.options}
        chosen = (data or {}).get("network") or network_id
        if chosen not in self.by_id:
            chosen = str(self.recommended.network.pk) if self.recommended else ""
        super().__init__(data, initial={"network": chosen})
        self.point_choices(item)
        self.chosen = self.by_id.get(chosen)
        self.fields["network"].choices = [
            (network_id, option.network.name) for network_id, option in self.by_id.items()
        ]
        subnets = self.chosen.network.subnets.all() if self.chosen else []
        self.fields["subnet"].choices = [
            (subnet.name, f"{subnet.name} ({subnet.address_prefix})") for subnet in subnets
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("network") and not cleaned.get("subnet"):
            # The service picks the network's first subnet; say which one the VM will get.
            first = self.fields["subnet"].choices[:1]
            if not first:
                self.add_error("network", "This virtual network has no subnet: add one, or choose another network.")
            else:
                cleaned["subnet"] = first[0][0]
        return cleaned

    @property
    def routes_warning(self) -> str:
        return fault_effects.ROUTES_WARNING.format(network=self.chosen.network.name) if self.chosen else ""

    @property
    def selected_network(self) -> VirtualNetwork:
        return self.by_id[self.cleaned_data["network"]].network


class CleanupForm(forms.Form):
    comments = forms.CharField(
        label="Comments",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Optional: what the test found. Kept with the cleanup job.",
    )


SHUTDOWN_YES, SHUTDOWN_NO = "yes", "no"


class MigrateForm(RecoveryPointChoice):
    shutdown = forms.ChoiceField(
        label="Shut down virtual machines and perform a planned migration with no data loss?",
        choices=[(SHUTDOWN_YES, "Yes"), (SHUTDOWN_NO, "No")],
        initial=SHUTDOWN_YES,
        widget=forms.RadioSelect,
    )

    def __init__(self, item: MigrationItem, data=None):
        super().__init__(data)
        self.point_choices(item)

    @property
    def shutdown_requested(self) -> bool:
        return self.cleaned_data["shutdown"] == SHUTDOWN_YES
