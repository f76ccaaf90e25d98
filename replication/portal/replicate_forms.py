"""The Replicate wizard's form (Azure Migrate: Server Migration > Replicate).

One form holds every tab. Its fixed fields are built from their description, replicate_fields.FIELDS;
each checked server's Compute and Disks settings are a replicate_rows.ServerRow. The rules are
replication.replicate's: the form turns posted values into a `ReplicationPlan`, asks the service for
its problems and places each one next to its field, on its tab. Every choice offered comes from what
the user may see (projects.access) inside the selected project."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q
from django.forms.boundfield import BoundField
from django.utils.safestring import mark_safe

from hub import clock
from hub.ids import parse_uuid
from projects import access
from projects.models import AvailabilitySet, MachinesVirtualized, MigrateProject, Solution
from projects.regions import REGIONS_BY_NAME
from replication.models import Appliance, DiscoveredServer, RunAsAccount
from replication.portal.replicate_fields import (
    FIELD_NAMES_OF_SERVICE,
    FIELDS,
    FIELDS_BY_NAME,
    MANUAL,
    NEW_CREDENTIALS,
    PASSWORD,
    PASSWORD_KEPT_HELP,
    PASSWORD_KEPT_HELP_ID,
    SOURCE,
    STEPS,
    VIRTUALIZED_CHOICES,
    VMS,
    WizardField,
)
from replication.portal.replicate_rows import ServerRow, row_step
from replication.replicate import Problem, ReplicationPlan, replication_plan_problems

PAGE_SIZE = 10
CREDENTIAL_FIELDS = ("credentials_friendly_name", "credentials_username", "credentials_password")


class WizardBoundField(BoundField):
    """A field as templates/replication/replicate/_field.html shows it: with its description's help."""

    @property
    def spec(self) -> WizardField:
        return FIELDS_BY_NAME[self.name]

    @property
    def help(self) -> str:
        # Constants of FIELDS, never user input: marked safe so the page keeps its apostrophes as typed.
        return mark_safe(PASSWORD_KEPT_HELP if self._password_kept else self.spec.help)

    @property
    def help_id(self) -> str:
        return PASSWORD_KEPT_HELP_ID if self._password_kept else self.spec.help_id

    @property
    def _password_kept(self) -> bool:
        return self.spec.widget == PASSWORD and self.form.has_password


class ReplicateForm(forms.Form):
    bound_field_class = WizardBoundField

    def __init__(self, user, project: MigrateProject, data=None, *, stashed_password: str = ""):
        super().__init__(data)
        self.user, self.project = user, project
        self.stashed_password = stashed_password
        self.validated_upto = -1
        self.selection_errors: list[str] = []
        subscription = project.subscription

        # Source settings: the project's connected appliances; each runs one process server, and guest
        # credentials are kept per appliance.
        finalized = project.appliances.filter(state=Appliance.State.FINALIZED)
        self.appliances = {str(a.pk): a for a in finalized.filter(scale_out_of__isnull=True)}
        self.chosen_appliance = self.appliances.get(self._raw("appliance")) or next(
            iter(self.appliances.values()), None
        )
        # The chosen appliance's own process server, then its scale-out process servers (setup --scale-out).
        self.process_servers = {}
        if self.chosen_appliance is not None:
            scale_outs = finalized.filter(scale_out_of=self.chosen_appliance).order_by("name")
            self.process_servers = {str(ps.pk): ps for ps in [self.chosen_appliance, *scale_outs]}
        self.accounts: dict[str, RunAsAccount] = (
            {str(a.pk): a for a in self.chosen_appliance.run_as_accounts.all()} if self.chosen_appliance else {}
        )
        # Target settings: the groups and networks in the project's subscription that the user may see,
        # networks only in the locked target region.
        self.groups = {str(g.pk): g for g in access.visible_resource_groups(user).filter(subscription=subscription)}
        self.networks = {
            str(n.pk): n
            for n in access.visible_networks(user)
            .filter(resource_group__subscription=subscription, location__iexact=project.target_region or "-")
            .prefetch_related("subnets")
        }
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

        chosen_appliance_pk = str(self.chosen_appliance.pk) if self.chosen_appliance else ""
        self.initial.update(
            {
                "machines_virtualized": project.machines_virtualized or MachinesVirtualized.PHYSICAL.value,
                "appliance": chosen_appliance_pk,
                "process_server": chosen_appliance_pk,
                "guest_credentials": next(iter(self.accounts), NEW_CREDENTIALS),
                "import_settings": MANUAL,
                "subscription": str(subscription.pk),
                "hybrid_benefit": "no",
            }
        )
        for spec in FIELDS:
            self.fields[spec.name] = spec.django_field(self)

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
        process_server = self.process_servers.get(self.value("process_server"))
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
        for spec in FIELDS:
            if spec.check is not None:
                self._add(spec.name, spec.check(self, spec))
        for problem in replication_plan_problems(self.user, self.project, self.plan()):
            self.add_problem(problem)
        self._forget_errors_after(upto)
        return not self.has_problems

    def _add(self, name: str | None, message: str) -> None:
        """One message per field: the first (most specific) one wins."""
        if message and (name is None or name not in self.errors):
            self.add_error(name, message)

    def add_problem(self, problem: Problem) -> None:
        """Place a service problem next to its field (a server's own settings go on its row)."""
        name = FIELD_NAMES_OF_SERVICE.get(problem.field, problem.field)
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
            # Not a field (the target region, locked in Discover): said at the top, from the first tab on.
            self._add(None, problem.message)

    def _forget_errors_after(self, upto: int) -> None:
        for name in list(self.errors):
            if name != "__all__" and FIELDS_BY_NAME[name].step > upto:
                del self._errors[name]
        if upto < VMS:
            self.selection_errors = []
        for row in self.rows:
            row.errors = {name: messages for name, messages in row.errors.items() if row_step(name) <= upto}

    def step_has_errors(self, step: int) -> bool:
        if step == SOURCE and self.non_field_errors():
            return True
        if step == VMS and self.selection_errors:
            return True
        if any(FIELDS_BY_NAME[name].step == step for name in self.errors if name != "__all__"):
            return True
        return any(row_step(name) == step for row in self.rows for name in row.errors)

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
        """The settings of the first three tabs, each under its field's label."""
        plan = self.plan()
        if plan.run_as_account is not None:
            credentials = plan.run_as_account.friendly_name
        elif plan.new_credentials:
            credentials = f"{plan.new_credentials[0]} (new, user {plan.new_credentials[1]})"
        else:
            credentials = "-"
        rows = [
            (_label("machines_virtualized"), dict(VIRTUALIZED_CHOICES).get(plan.machines_virtualized, "")),
            (_label("appliance"), self.chosen_appliance.name if self.chosen_appliance else "-"),
        ]
        if plan.machines_virtualized == MachinesVirtualized.VMWARE:
            rows.append((_label("vcenter"), plan.vcenter))
        network, test_network = plan.target_network, plan.test_network
        rows += [
            (_label("process_server"), plan.appliance.name if plan.appliance else "-"),
            (_label("guest_credentials"), credentials),
            (_label("subscription"), self.project.subscription.display_name),
            ("Target region", self.target_region_display),
            (_label("target_resource_group"), plan.target_resource_group.name if plan.target_resource_group else "-"),
            (_label("target_network"), f"{network.name} / {plan.target_subnet}" if network else "-"),
            (_label("test_network"), f"{test_network.name} / {plan.test_subnet}" if test_network else "None"),
            (_label("hybrid_benefit"), "Yes (Windows Server machines only)" if plan.hybrid_benefit else "No"),
        ]
        return rows

    @property
    def windows_rows(self) -> list[ServerRow]:
        return [row for row in self.rows if row.server.os_type == "Windows"]


def _label(name: str) -> str:
    return FIELDS_BY_NAME[name].label


def _uuid_text(value) -> str:
    parsed = parse_uuid(value)
    return str(parsed) if parsed else ""
