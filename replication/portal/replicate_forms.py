"""The Replicate wizard's form (Azure Migrate: Server Migration > Replicate).

One form holds every tab. The fixed fields are a Django form; each checked server's Compute and Disks
settings are a `ServerRow`, posted under the prefix `s-<server id>-`. The rules are
replication.replicate's: the form turns posted values into a `ReplicationPlan`, asks the service for
its problems and places each one next to its field, on its tab. Every choice offered comes from what
the user may see (projects.access) inside the selected project."""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q

from hub import clock
from hub.ids import parse_uuid
from projects import access
from projects.models import AvailabilitySet, MachinesVirtualized, MigrateProject, Solution
from projects.regions import REGIONS_BY_NAME
from replication import sizing
from replication.models import Appliance, DiscoveredServer, DiskType, RunAsAccount
from replication.replicate import (
    DiskChoice,
    Problem,
    ReplicationPlan,
    ServerPlan,
    auto_vm_size,
    default_os_disk_id,
    replication_plan_problems,
)

STEPS = [
    ("source", "Source settings"),
    ("vms", "Virtual machines"),
    ("target", "Target settings"),
    ("compute", "Compute"),
    ("disks", "Disks"),
    ("review", "Review and start replication"),
]
SOURCE, VMS, TARGET, COMPUTE, DISKS, REVIEW = range(len(STEPS))

# The tab of each form field and of each field a service problem names.
FIELD_STEPS = {
    "machines_virtualized": SOURCE,
    "appliance": SOURCE,
    "vcenter": SOURCE,
    "process_server": SOURCE,
    "guest_credentials": SOURCE,
    "credentials_friendly_name": SOURCE,
    "credentials_username": SOURCE,
    "credentials_password": SOURCE,
    "target_region": SOURCE,  # nothing can be replicated before Create resources: said at once
    "import_settings": VMS,
    "q": VMS,
    "servers": VMS,
    "os": VMS,
    "subscription": TARGET,
    "target_resource_group": TARGET,
    "target_network": TARGET,
    "target_subnet": TARGET,
    "test_network": TARGET,
    "test_subnet": TARGET,
    "hybrid_benefit": TARGET,
    "vm_name": COMPUTE,
    "vm_size": COMPUTE,
    "os_disk": COMPUTE,
    "availability_set": COMPUTE,
    "disks": DISKS,
}
# The service calls the process server's appliance "appliance"; the wizard asks for it as Process Server.
SERVICE_FIELD_NAMES = {"appliance": "process_server"}
# What a server row shows in its cells; anything else a rule says about a server goes under Compute.
ROW_FIELDS = {"servers", "os", "vm_name", "vm_size", "os_disk", "availability_set", "disks"}
CREDENTIAL_FIELDS = ("credentials_friendly_name", "credentials_username", "credentials_password")

VIRTUALIZED_CHOICES = [
    (MachinesVirtualized.VMWARE.value, "Yes, with VMware vSphere"),
    (MachinesVirtualized.HYPERV.value, "Yes, with Hyper-V"),
    (MachinesVirtualized.PHYSICAL.value, "No (physical or other)"),
]
MANUAL, FROM_ASSESSMENT = "manual", "assessment"
NEW_CREDENTIALS = "__new__"
PAGE_SIZE = 10
INCLUDE, EXCLUDE = "replicate", "exclude"


@dataclass
class DiskRow:
    disk: dict
    include: bool
    disk_type: str
    is_os_disk: bool

    @property
    def disk_id(self) -> str:
        return self.disk["diskId"]

    @property
    def size_gb(self) -> float:
        return round(self.disk.get("sizeBytes", 0) / 1024**3, 1)

    @property
    def disk_type_label(self) -> str:
        return DiskType(self.disk_type).label


@dataclass
class ServerRow:
    """A checked server's Compute and Disks settings, as posted (or their defaults when first checked)."""

    server: DiscoveredServer
    vm_name: str
    vm_size: str  # "" = Automatically select matching configuration
    os_disk_id: str
    availability_set: AvailabilitySet | None
    disks: list[DiskRow]
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"s-{self.server.pk}-"

    @classmethod
    def from_data(cls, server: DiscoveredServer, data, availability_sets: dict[str, AvailabilitySet]) -> ServerRow:
        prefix = f"s-{server.pk}-"
        if data is None or f"{prefix}vm_name" not in data:
            # Just checked: the tutorial's defaults (source name, automatic size, reported OS disk).
            os_disk_id = default_os_disk_id(server)
            return cls(
                server=server,
                vm_name=server.name,
                vm_size="",
                os_disk_id=os_disk_id,
                availability_set=None,
                disks=[
                    DiskRow(disk, True, DiskType.STANDARD_SSD.value, disk["diskId"] == os_disk_id)
                    for disk in server.disks
                ],
            )
        os_disk_id = data.get(f"{prefix}os_disk", "")
        disks = []
        for disk in server.disks:
            disk_prefix = f"{prefix}disk-{disk['diskId']}-"
            disk_type = data.get(f"{disk_prefix}type", "")
            disks.append(
                DiskRow(
                    disk,
                    include=data.get(f"{disk_prefix}include", INCLUDE) != EXCLUDE,
                    disk_type=disk_type if disk_type in DiskType.values else DiskType.STANDARD_SSD.value,
                    is_os_disk=disk["diskId"] == os_disk_id,
                )
            )
        return cls(
            server=server,
            vm_name=data.get(f"{prefix}vm_name", "").strip(),
            vm_size=data.get(f"{prefix}vm_size", "").strip(),
            os_disk_id=os_disk_id,
            # A set of another resource group (the target group changed since) is not offered any more.
            availability_set=availability_sets.get(data.get(f"{prefix}availability_set", "")),
            disks=disks,
        )

    def server_plan(self) -> ServerPlan:
        return ServerPlan(
            server=self.server,
            vm_name=self.vm_name,
            vm_size=self.vm_size,
            os_disk_id=self.os_disk_id,
            availability_set=self.availability_set,
            disks=[DiskChoice(disk.disk_id, disk.include, disk.disk_type) for disk in self.disks],
        )

    @property
    def auto_size(self) -> sizing.VmSize | None:
        return auto_vm_size(self.server, self.server_plan())

    @property
    def size_name(self) -> str:
        """The size the VM gets: the manual one, or the automatic match."""
        if self.vm_size:
            size = sizing.SIZES_BY_NAME.get(self.vm_size.lower())
            return size.name if size else self.vm_size
        auto = self.auto_size
        return auto.name if auto else ""

    @property
    def excluded_disks(self) -> list[DiskRow]:
        return [disk for disk in self.disks if not disk.include]

    @property
    def other_errors(self) -> list[str]:
        return [message for name, messages in self.errors.items() if name not in ROW_FIELDS for message in messages]

    @property
    def vms_errors(self) -> list[str]:
        return self.errors.get("servers", []) + self.errors.get("os", [])


def _row_step(name: str) -> int:
    return FIELD_STEPS[name] if name in ROW_FIELDS else COMPUTE


def _uuid_text(value) -> str:
    parsed = parse_uuid(value)
    return str(parsed) if parsed else ""


class ReplicateForm(forms.Form):
    # Source settings
    machines_virtualized = forms.ChoiceField(
        label="Are your machines virtualized?", choices=VIRTUALIZED_CHOICES, widget=forms.RadioSelect
    )
    appliance = forms.ChoiceField(
        label="On-premises appliance",
        required=False,
        error_messages={"invalid_choice": "Select one of the project's connected appliances."},
    )
    vcenter = forms.CharField(label="vCenter server", required=False, max_length=255)
    process_server = forms.ChoiceField(
        label="Process Server",
        required=False,
        error_messages={"invalid_choice": "Select the process server of the on-premises appliance selected above."},
    )
    guest_credentials = forms.ChoiceField(
        label="Guest credentials",
        required=False,
        error_messages={"invalid_choice": "Select guest credentials of the selected appliance, or add new ones."},
    )
    credentials_friendly_name = forms.CharField(label="Friendly name", required=False, max_length=80)
    credentials_username = forms.CharField(label="User name", required=False, max_length=120)
    # Write-only: never rendered back (the view keeps what was typed, encrypted, for the next steps).
    credentials_password = forms.CharField(
        label="Password", required=False, strip=False, max_length=256, widget=forms.PasswordInput(render_value=False)
    )
    # Virtual machines
    import_settings = forms.ChoiceField(
        label="Import migration settings from an assessment?",
        choices=[
            (FROM_ASSESSMENT, "Yes, apply migration settings from an Azure Migrate assessment"),
            (MANUAL, "No, I'll specify the migration settings manually"),
        ],
        widget=forms.RadioSelect,
    )
    q = forms.CharField(label="Search", required=False, max_length=100)
    # Target settings
    subscription = forms.ChoiceField(label="Subscription")
    target_resource_group = forms.ChoiceField(
        label="Resource group",
        required=False,
        error_messages={"invalid_choice": "Select one of the subscription's resource groups."},
    )
    target_network = forms.ChoiceField(
        label="Virtual Network",
        required=False,
        error_messages={"invalid_choice": "Select a virtual network in the target region."},
    )
    target_subnet = forms.ChoiceField(
        label="Subnet",
        required=False,
        error_messages={"invalid_choice": "Select a subnet of the selected virtual network."},
    )
    test_network = forms.ChoiceField(
        label="Test migration network",
        required=False,
        error_messages={"invalid_choice": "Select a virtual network in the target region, or none."},
    )
    test_subnet = forms.ChoiceField(
        label="Test migration subnet",
        required=False,
        error_messages={"invalid_choice": "Select a subnet of the selected test migration network."},
    )
    hybrid_benefit = forms.ChoiceField(
        label="Azure Hybrid Benefit", choices=[("no", "No"), ("yes", "Yes")], widget=forms.RadioSelect
    )

    def __init__(self, user, project: MigrateProject, data=None, *, stashed_password: str = ""):
        super().__init__(data)
        self.user, self.project = user, project
        self.stashed_password = stashed_password
        self.validated_upto = -1
        self.selection_errors: list[str] = []
        subscription = project.subscription
        self.initial.update(
            {
                "machines_virtualized": project.machines_virtualized or MachinesVirtualized.PHYSICAL.value,
                "import_settings": MANUAL,
                "subscription": str(subscription.pk),
                "hybrid_benefit": "no",
            }
        )

        # Source settings: the project's connected appliances; each runs one process server, and guest
        # credentials are kept per appliance.
        self.appliances = {str(a.pk): a for a in project.appliances.filter(state=Appliance.State.FINALIZED)}
        self.fields["appliance"].choices = [(pk, a.name) for pk, a in self.appliances.items()]
        self.chosen_appliance = self.appliances.get(self._raw("appliance")) or next(
            iter(self.appliances.values()), None
        )
        self.initial["appliance"] = str(self.chosen_appliance.pk) if self.chosen_appliance else ""
        self.initial["process_server"] = self.initial["appliance"]
        self.fields["process_server"].choices = (
            [(str(self.chosen_appliance.pk), f"{self.chosen_appliance.name} (process server)")]
            if self.chosen_appliance
            else []
        )
        self.accounts: dict[str, RunAsAccount] = (
            {str(a.pk): a for a in self.chosen_appliance.run_as_accounts.all()} if self.chosen_appliance else {}
        )
        self.fields["guest_credentials"].choices = (
            [("", "Select guest credentials")]
            + [(pk, f"{a.friendly_name} ({a.username})") for pk, a in self.accounts.items()]
            + [(NEW_CREDENTIALS, "Add new credentials")]
        )
        self.initial["guest_credentials"] = next(iter(self.accounts), NEW_CREDENTIALS)

        # Target settings: the project's subscription (Azure creates the VMs there), the groups and
        # networks in it that the user may see, networks only in the locked target region.
        self.fields["subscription"].choices = [(str(subscription.pk), subscription.display_name)]
        self.groups = {str(g.pk): g for g in access.visible_resource_groups(user).filter(subscription=subscription)}
        self.fields["target_resource_group"].choices = [("", "Select a resource group")] + [
            (pk, g.name) for pk, g in self.groups.items()
        ]
        self.networks = {
            str(n.pk): n
            for n in access.visible_networks(user)
            .filter(resource_group__subscription=subscription, location__iexact=project.target_region or "-")
            .prefetch_related("subnets")
        }
        network_choices = [(pk, f"{n.name} ({n.resource_group.name})") for pk, n in self.networks.items()]
        self.fields["target_network"].choices = [("", "Select a virtual network")] + network_choices
        self.fields["test_network"].choices = [("", "None: choose one when you test migrate")] + network_choices
        self.fields["target_subnet"].choices = self._subnet_choices("target_network", "Select a subnet")
        self.fields["test_subnet"].choices = self._subnet_choices("test_network", "None")

        self.chosen_group = self.groups.get(self._raw("target_resource_group"))
        # Availability sets of the target resource group, in the target region (Compute).
        self.availability_sets: dict[str, AvailabilitySet] = (
            {
                str(s.pk): s
                for s in self.chosen_group.availability_sets.filter(location__iexact=project.target_region or "-")
            }
            if self.chosen_group
            else {}
        )

        # Virtual machines: the project's discovered servers; the checked ones become rows.
        self.servers = project.discovered_servers.discovered(clock.now()).select_related("appliance", "migration_item")
        checked_ids = {_uuid_text(value) for value in (data.getlist("servers") if data is not None else [])} - {""}
        self.rows = [
            ServerRow.from_data(server, data, self.availability_sets)
            for server in self.servers.filter(pk__in=checked_ids)
        ]
        self.checked_ids = {str(row.server.pk) for row in self.rows}

    # Reading posted values

    def _raw(self, name: str) -> str:
        return (self.data.get(name) or "").strip() if self.is_bound else ""

    def value(self, name: str) -> str:
        """The posted value, or the initial one on first display."""
        return self._raw(name) if self.is_bound else str(self.initial.get(name, ""))

    def _subnet_choices(self, network_field: str, empty: str) -> list[tuple[str, str]]:
        network = self.networks.get(self.value(network_field))
        subnets = [(s.name, f"{s.name} ({s.address_prefix})") for s in network.subnets.all()] if network else []
        return [("", empty)] + subnets

    @property
    def adding_credentials(self) -> bool:
        return self.value("guest_credentials") == NEW_CREDENTIALS

    @property
    def posted_password(self) -> str:
        return self.data.get("credentials_password", "") if self.is_bound else ""

    @property
    def has_password(self) -> bool:
        return bool(self.posted_password or self.stashed_password)

    @property
    def assessment_unavailable(self) -> str:
        """Why "Import migration settings from an assessment" can't be chosen (Azure disables it too)."""
        if not self.project.has_tool(Solution.Tool.SERVER_ASSESSMENT):
            return (
                "This project has no Azure Migrate: Server Assessment tool, so there is no assessment to import "
                "settings from."
            )
        return "This project has no assessment yet: create one with Azure Migrate: Server Assessment first."

    @property
    def target_region_display(self) -> str:
        region = REGIONS_BY_NAME.get(self.project.target_region)
        return region.display_name if region else self.project.target_region

    # The plan

    def plan(self) -> ReplicationPlan:
        process_server = self.appliances.get(self.value("process_server"))
        if process_server is not None and process_server != self.chosen_appliance:
            process_server = None
        credentials = None
        if self.adding_credentials:
            credentials = (
                self.value("credentials_friendly_name"),
                self.value("credentials_username"),
                self.posted_password or self.stashed_password,
            )
        test_network = self.networks.get(self.value("test_network"))
        return ReplicationPlan(
            appliance=process_server,
            target_resource_group=self.chosen_group,
            target_network=self.networks.get(self.value("target_network")),
            target_subnet=self.value("target_subnet"),
            hybrid_benefit=self.value("hybrid_benefit") == "yes",
            servers=[row.server_plan() for row in self.rows],
            machines_virtualized=self.value("machines_virtualized"),
            vcenter=self.value("vcenter") if self.value("machines_virtualized") == MachinesVirtualized.VMWARE else "",
            run_as_account=self.accounts.get(self.value("guest_credentials")),
            new_credentials=credentials,
            test_network=test_network,
            test_subnet=self.value("test_subnet") if test_network else "",
        )

    # Validation: the tabs up to `upto`; later tabs keep quiet until the user reaches them.

    def full_clean(self):
        # Django validates every field as soon as a bound field is rendered; only the tabs validated
        # so far may show errors.
        super().full_clean()
        if self.is_bound:
            self._forget_errors_after(self.validated_upto)

    def validate(self, upto: int) -> bool:
        self.validated_upto = upto
        self.full_clean()
        self._check_own_rules()
        for problem in replication_plan_problems(self.user, self.project, self.plan()):
            self.add_problem(problem)
        self._forget_errors_after(upto)
        return not self.has_problems

    def _check_own_rules(self) -> None:
        if not self.appliances:
            self._add("appliance", "No appliance is connected: in Discover, select Finalize registration first.")
        if self.value("import_settings") == FROM_ASSESSMENT:
            self._add("import_settings", self.assessment_unavailable)
        credentials = self.value("guest_credentials")
        if not credentials:
            self._add("guest_credentials", "Select guest credentials, or add new ones.")
        elif credentials == NEW_CREDENTIALS:
            if not self.value("credentials_friendly_name"):
                self._add("credentials_friendly_name", "Enter a friendly name for the credentials.")
            if not self.value("credentials_username"):
                self._add("credentials_username", "Enter the user name of an administrator account of the servers.")
            if not self.has_password:
                self._add("credentials_password", "Enter the account's password.")
        # Seeing a group or network is not enough: the portal checks the roles before Replicate does.
        if self.chosen_group is not None:
            self._add(
                "target_resource_group",
                access.denial(
                    self.user, access.MANAGE_TARGET_VMS, self.chosen_group.subscription, self.chosen_group.name
                ),
            )
        for name in ("target_network", "test_network"):
            network = self.networks.get(self.value(name))
            if network is not None:
                group = network.resource_group
                self._add(name, access.denial(self.user, access.JOIN_TARGET_NETWORK, group.subscription, group.name))

    def _add(self, name: str | None, message: str) -> None:
        """One message per field: the first (most specific) one wins."""
        if message and (name is None or name not in self.errors):
            self.add_error(name, message)

    def add_problem(self, problem: Problem) -> None:
        """Place a service problem next to its field (a server's own settings go on its row)."""
        name = SERVICE_FIELD_NAMES.get(problem.field, problem.field)
        if problem.server:
            for row in self.rows:
                if row.server.name == problem.server:
                    row.errors.setdefault(name, []).append(problem.message)
            return
        if name == "servers":
            self.selection_errors.append(problem.message)
        elif name == "guest_credentials" and self.adding_credentials:
            # The incomplete or taken new credentials: said at the field to fix.
            if any(field_name in self.errors for field_name in CREDENTIAL_FIELDS):
                return
            self._add(
                "credentials_friendly_name" if problem.rule == "GuestCredentialsNameTaken" else name, problem.message
            )
        elif name in self.fields:
            self._add(name, problem.message)
        else:
            self._add(None, problem.message)

    def _forget_errors_after(self, upto: int) -> None:
        for name in list(self.errors):
            if name != "__all__" and FIELD_STEPS.get(name, SOURCE) > upto:
                del self._errors[name]
        if upto < VMS:
            self.selection_errors = []
        for row in self.rows:
            row.errors = {name: messages for name, messages in row.errors.items() if _row_step(name) <= upto}

    def step_has_errors(self, step: int) -> bool:
        if step == SOURCE and self.non_field_errors():
            return True
        if step == VMS and self.selection_errors:
            return True
        if any(FIELD_STEPS.get(name) == step for name in self.errors if name != "__all__"):
            return True
        return any(_row_step(name) == step for row in self.rows for name in row.errors)

    @property
    def has_problems(self) -> bool:
        return any(self.step_has_errors(step) for step in range(len(STEPS)))

    def first_step_with_errors(self) -> int:
        return next((step for step in range(len(STEPS)) if self.step_has_errors(step)), SOURCE)

    # The Virtual machines tab's list: searchable and paged; checked servers elsewhere stay posted.

    def server_page(self, page_number) -> tuple:
        """The page of servers to list; the checked servers that are not on it (kept as hidden inputs);
        and what the rules say about those, which their rows can't show."""
        query = self.value("q")
        servers = self.servers
        if query:
            servers = servers.filter(Q(name__icontains=query) | Q(os_name__icontains=query))
        page = Paginator(servers, PAGE_SIZE).get_page(page_number)
        on_page = {str(server.pk) for server in page.object_list}
        errors = {str(row.server.pk): row.vms_errors for row in self.rows}
        listed = [
            {
                "server": server,
                "checked": str(server.pk) in self.checked_ids,
                "unavailable": self.unavailable_reason(server),
                "errors": errors.get(str(server.pk), []),
            }
            for server in page.object_list
        ]
        elsewhere = [row for row in self.rows if str(row.server.pk) not in on_page]
        errors_elsewhere = [f"{row.server.name}: {message}" for row in elsewhere for message in row.vms_errors]
        return page, listed, sorted(str(row.server.pk) for row in elsewhere), errors_elsewhere

    def unavailable_reason(self, server: DiscoveredServer) -> str:
        item = getattr(server, "migration_item", None)
        if item is not None:
            return f"Already replicating as {item.target_vm_name}: a server is replicated once."
        if self.chosen_appliance is not None and server.appliance_id != self.chosen_appliance.pk:
            return (
                f"Its Mobility service is registered with appliance {server.appliance.name}: select that appliance "
                "and its process server in Source settings."
            )
        return ""

    # Review

    def review(self) -> list[tuple[str, str]]:
        plan = self.plan()
        virtualized = dict(VIRTUALIZED_CHOICES).get(plan.machines_virtualized, "")
        if plan.run_as_account is not None:
            credentials = plan.run_as_account.friendly_name
        elif plan.new_credentials:
            credentials = f"{plan.new_credentials[0]} (new, user {plan.new_credentials[1]})"
        else:
            credentials = "-"
        rows = [
            ("Are your machines virtualized?", virtualized),
            ("On-premises appliance", self.chosen_appliance.name if self.chosen_appliance else "-"),
        ]
        if plan.machines_virtualized == MachinesVirtualized.VMWARE:
            rows.append(("vCenter server", plan.vcenter))
        rows += [
            ("Process Server", plan.appliance.name if plan.appliance else "-"),
            ("Guest credentials", credentials),
            ("Subscription", self.project.subscription.display_name),
            ("Target region", self.target_region_display),
            ("Resource group", plan.target_resource_group.name if plan.target_resource_group else "-"),
            (
                "Virtual Network",
                f"{plan.target_network.name} / {plan.target_subnet}" if plan.target_network else "-",
            ),
            (
                "Test migration network",
                f"{plan.test_network.name} / {plan.test_subnet}" if plan.test_network else "None",
            ),
            (
                "Azure Hybrid Benefit",
                "Yes (Windows Server machines only)" if plan.hybrid_benefit else "No",
            ),
        ]
        return rows

    @property
    def windows_rows(self) -> list[ServerRow]:
        return [row for row in self.rows if row.server.os_type == "Windows"]
