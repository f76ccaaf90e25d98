"""The Replicate wizard's tabs and its fixed fields, described once.

`FIELDS` says, for each field of the Source settings, Virtual machines and Target settings tabs, in
the page's order: its name and label, its widget and where its choices come from, its tab, the
portal's own check (made before Replicate's rules) and how the page shows it. From it,
replicate_forms.ReplicateForm builds its Django fields, checks them and keeps each error on its
tab, and templates/replication/replicate/_field.html renders any of them. How the values become a
`ReplicationPlan` is ReplicateForm.plan: a few of them only count together (new credentials) or
when another says so (vCenter for VMware), which reads best as code.

The Compute and Disks settings are a row per checked server (replicate_rows), not fields here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django import forms

from projects import access
from projects.models import MachinesVirtualized

if TYPE_CHECKING:
    from replication.portal.replicate_forms import ReplicateForm

STEPS = [
    ("source", "Source settings"),
    ("vms", "Virtual machines"),
    ("target", "Target settings"),
    ("compute", "Compute"),
    ("disks", "Disks"),
    ("review", "Review and start replication"),
]
SOURCE, VMS, TARGET, COMPUTE, DISKS, REVIEW = range(len(STEPS))

# How a field is drawn: radio buttons go in a fieldset, the others under a label (_field.html).
SELECT, RADIOS, TEXT, PASSWORD = "select", "radios", "text", "password"

VIRTUALIZED_CHOICES = (
    (MachinesVirtualized.VMWARE.value, "Yes, with VMware vSphere"),
    (MachinesVirtualized.HYPERV.value, "Yes, with Hyper-V"),
    (MachinesVirtualized.PHYSICAL.value, "No (physical or other)"),
)
MANUAL, FROM_ASSESSMENT = "manual", "assessment"
NEW_CREDENTIALS = "__new__"
PASSWORD_KEPT_HELP = (
    "A password was entered and is kept for this wizard; it is never shown again. Type a new one to replace it."
)
PASSWORD_KEPT_HELP_ID = "password-kept"

Options = Callable[["ReplicateForm", "WizardField"], list[tuple[str, str]]]
Check = Callable[["ReplicateForm", "WizardField"], str]


@dataclass(frozen=True)
class WizardField:
    """One fixed field of the wizard: what ReplicateForm and _field.html need to know of it."""

    name: str
    label: str
    step: int  # the tab it is on, where its errors show
    widget: str = SELECT
    required: bool = False  # Django's "This field is required."; the portal's own checks say more
    max_length: int | None = None
    choices: tuple[tuple[str, str], ...] = ()  # fixed choices
    empty_choice: str = ""  # the first option, standing for no choice
    options: Options | None = None  # the choices offered in the selected project
    depends_on: str = ""  # the field whose choice the options depend on
    invalid_choice: str = ""  # said when a posted choice is not among those offered
    check: Check | None = None  # the portal's own rule: a message, or "" when the field is fine
    missing: str = ""  # what `check` says when the field is needed but empty
    service_name: str = ""  # what Replicate's problems call the field, when it is not `name`
    help: str = ""
    help_id: str = ""
    redraws: str = ""  # the id of the part of the page that depends on this choice, redrawn on change
    box_id: str = ""  # the id of the field's own box, when another field's change redraws it

    def django_field(self, form: ReplicateForm) -> forms.Field:
        if self.widget in (TEXT, PASSWORD):
            return forms.CharField(
                label=self.label,
                required=self.required,
                max_length=self.max_length,
                strip=self.widget != PASSWORD,  # a password is taken as typed
                # A password is write-only: never rendered back (the view keeps what was typed, encrypted,
                # for the next steps).
                widget=forms.PasswordInput(render_value=False) if self.widget == PASSWORD else forms.TextInput,
            )
        empty = [("", self.empty_choice)] if self.empty_choice else []
        return forms.ChoiceField(
            label=self.label,
            required=self.required,
            choices=[*empty, *self.choices, *(self.options(form, self) if self.options else [])],
            widget=forms.RadioSelect if self.widget == RADIOS else forms.Select,
            error_messages={"invalid_choice": self.invalid_choice} if self.invalid_choice else None,
        )


# Where choices come from: what the user may see (projects.access) inside the selected project.


def _appliance_options(form: ReplicateForm, spec: WizardField) -> list[tuple[str, str]]:
    return [(pk, appliance.name) for pk, appliance in form.appliances.items()]


def _process_server_options(form: ReplicateForm, spec: WizardField) -> list[tuple[str, str]]:
    # The appliance selected above runs a process server; scale-out process servers add theirs.
    return [
        (pk, f"{ps.name} (scale-out process server)" if ps.scale_out_of_id else f"{ps.name} (process server)")
        for pk, ps in form.process_servers.items()
    ]


def _credentials_options(form: ReplicateForm, spec: WizardField) -> list[tuple[str, str]]:
    # Guest credentials are kept per appliance: those of the appliance selected above.
    accounts = [(pk, f"{account.friendly_name} ({account.username})") for pk, account in form.accounts.items()]
    return [*accounts, (NEW_CREDENTIALS, "Add new credentials")]


def _subscription_options(form: ReplicateForm, spec: WizardField) -> list[tuple[str, str]]:
    # Azure creates the VMs in the project's subscription.
    subscription = form.project.subscription
    return [(str(subscription.pk), subscription.display_name)]


def _group_options(form: ReplicateForm, spec: WizardField) -> list[tuple[str, str]]:
    return [(pk, group.name) for pk, group in form.groups.items()]


def _network_options(form: ReplicateForm, spec: WizardField) -> list[tuple[str, str]]:
    return [(pk, f"{network.name} ({network.resource_group.name})") for pk, network in form.networks.items()]


def _subnet_options(form: ReplicateForm, spec: WizardField) -> list[tuple[str, str]]:
    network = form.networks.get(form.value(spec.depends_on))
    if network is None:
        return []
    return [(subnet.name, f"{subnet.name} ({subnet.address_prefix})") for subnet in network.subnets.all()]


# The portal's own checks, before Replicate's rules.


def _appliance_connected(form: ReplicateForm, spec: WizardField) -> str:
    return "" if form.appliances else spec.missing


def _assessment_available(form: ReplicateForm, spec: WizardField) -> str:
    return form.assessment_unavailable if form.value(spec.name) == FROM_ASSESSMENT else ""


def _credentials_chosen(form: ReplicateForm, spec: WizardField) -> str:
    return "" if form.value(spec.name) else spec.missing


def _new_credentials_part_given(form: ReplicateForm, spec: WizardField) -> str:
    if not form.adding_credentials:
        return ""
    given = form.has_password if spec.widget == PASSWORD else bool(form.value(spec.name))
    return "" if given else spec.missing


# Seeing a group or network is not enough: the portal checks the roles before Replicate does.


def _may_create_vms_in_group(form: ReplicateForm, spec: WizardField) -> str:
    group = form.chosen_group
    if group is None:
        return ""
    return access.denial(form.user, access.MANAGE_TARGET_VMS, group.subscription, group.name)


def _may_join_network(form: ReplicateForm, spec: WizardField) -> str:
    network = form.networks.get(form.value(spec.name))
    if network is None:
        return ""
    group = network.resource_group
    return access.denial(form.user, access.JOIN_TARGET_NETWORK, group.subscription, group.name)


FIELDS = (
    # Source settings
    WizardField(
        "machines_virtualized",
        "Are your machines virtualized?",
        SOURCE,
        widget=RADIOS,
        required=True,
        choices=VIRTUALIZED_CHOICES,
    ),
    WizardField(
        "appliance",
        "On-premises appliance",
        SOURCE,
        options=_appliance_options,
        invalid_choice="Select one of the project's connected appliances.",
        check=_appliance_connected,
        missing="No appliance is connected: in Discover, select Finalize registration first.",
        help="The appliance you set up, whose configuration server discovered the machines.",
        redraws="source-dependents",
    ),
    WizardField(
        "vcenter",
        "vCenter server",
        SOURCE,
        widget=TEXT,
        max_length=255,
        help="VMware only: the vCenter server managing the VMs, or the vSphere server hosting them.",
    ),
    WizardField(
        "process_server",
        "Process Server",
        SOURCE,
        options=_process_server_options,
        invalid_choice="Select the process server of the on-premises appliance selected above.",
        service_name="appliance",
        help="The replication appliance's process server, which receives the servers' replication data.",
    ),
    WizardField(
        "guest_credentials",
        "Guest credentials",
        SOURCE,
        empty_choice="Select guest credentials",
        options=_credentials_options,
        invalid_choice="Select guest credentials of the selected appliance, or add new ones.",
        check=_credentials_chosen,
        missing="Select guest credentials, or add new ones.",
        help="A VM admin account for push installation of the Mobility service. When you install the Mobility "
        "service by hand, as the tutorial does, any dummy account will do.",
    ),
    WizardField(
        "credentials_friendly_name",
        "Friendly name",
        SOURCE,
        widget=TEXT,
        max_length=80,
        check=_new_credentials_part_given,
        missing="Enter a friendly name for the credentials.",
    ),
    WizardField(
        "credentials_username",
        "User name",
        SOURCE,
        widget=TEXT,
        max_length=120,
        check=_new_credentials_part_given,
        missing="Enter the user name of an administrator account of the servers.",
    ),
    WizardField(
        "credentials_password",
        "Password",
        SOURCE,
        widget=PASSWORD,
        max_length=256,
        check=_new_credentials_part_given,
        missing="Enter the account's password.",
        help="Stored encrypted; it is never shown again.",
    ),
    # Virtual machines
    WizardField(
        "import_settings",
        "Import migration settings from an assessment?",
        VMS,
        widget=RADIOS,
        required=True,
        choices=(
            (FROM_ASSESSMENT, "Yes, apply migration settings from an Azure Migrate assessment"),
            (MANUAL, "No, I'll specify the migration settings manually"),
        ),
        check=_assessment_available,
    ),
    WizardField("q", "Search", VMS, widget=TEXT, max_length=100),
    # Target settings
    WizardField(
        "subscription",
        "Subscription",
        TARGET,
        required=True,
        options=_subscription_options,
        help="The VMs are created in the project's subscription.",
    ),
    WizardField(
        "target_resource_group",
        "Resource group",
        TARGET,
        empty_choice="Select a resource group",
        options=_group_options,
        invalid_choice="Select one of the subscription's resource groups.",
        check=_may_create_vms_in_group,
        help="Where the Azure VMs reside after migration.",
    ),
    WizardField(
        "target_network",
        "Virtual Network",
        TARGET,
        empty_choice="Select a virtual network",
        options=_network_options,
        invalid_choice="Select a virtual network in the target region.",
        check=_may_join_network,
        help="Only virtual networks in the target region are listed. The Azure VMs join it after migration.",
        redraws="target-subnet-field",
    ),
    WizardField(
        "target_subnet",
        "Subnet",
        TARGET,
        empty_choice="Select a subnet",
        options=_subnet_options,
        depends_on="target_network",
        invalid_choice="Select a subnet of the selected virtual network.",
        box_id="target-subnet-field",
    ),
    WizardField(
        "test_network",
        "Test migration network",
        TARGET,
        empty_choice="None: choose one when you test migrate",
        options=_network_options,
        invalid_choice="Select a virtual network in the target region, or none.",
        check=_may_join_network,
        help="Optional: the network test migrations join. Use one isolated from production.",
        redraws="test-subnet-field",
    ),
    WizardField(
        "test_subnet",
        "Test migration subnet",
        TARGET,
        empty_choice="None",
        options=_subnet_options,
        depends_on="test_network",
        invalid_choice="Select a subnet of the selected test migration network.",
        box_id="test-subnet-field",
    ),
    WizardField(
        "hybrid_benefit",
        "Azure Hybrid Benefit",
        TARGET,
        widget=RADIOS,
        required=True,
        choices=(("no", "No"), ("yes", "Yes")),
        help="Azure Hybrid Benefit applies to Windows Server machines only. Select Yes if your Windows Server "
        "machines are covered with active Software Assurance or Windows Server subscriptions; Linux servers are "
        "not affected.",
        help_id="hybrid-benefit-help",
    ),
)
FIELDS_BY_NAME = {spec.name: spec for spec in FIELDS}
# Replicate's problems name the wizard's fields, but for these.
FIELD_NAMES_OF_SERVICE = {spec.service_name: spec.name for spec in FIELDS if spec.service_name}
