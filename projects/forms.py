"""The "Add tools" wizard (Azure Migrate > Servers > Add tools), one form validated step by step."""

from __future__ import annotations

from django import forms

from projects import access
from projects.models import MigrateProject, ResourceGroup, Solution
from projects.names import project_name_problem, resource_group_name_problem
from projects.regions import MIGRATE_GEOGRAPHIES, REGIONS_BY_NAME, geography_of_project_location
from projects.services import AddToolsRequest

NEW_RESOURCE_GROUP = "__new__"
SKIP = "skip"

STEPS = [
    ("project", "Migrate project"),
    ("assessment", "Select assessment tool"),
    ("migration", "Select migration tool"),
    ("review", "Review + add tools"),
]
STEP_FIELDS = {
    0: ["subscription", "resource_group", "new_resource_group", "project_name", "geography", "location"],
    1: ["assessment_tool"],
    2: ["migration_tool"],
    3: [],
}


class AddToolsForm(forms.Form):
    subscription = forms.ChoiceField(label="Subscription")
    resource_group = forms.ChoiceField(label="Resource group", required=False)
    new_resource_group = forms.CharField(label="New resource group name", required=False, max_length=90)
    project_name = forms.CharField(label="Migrate project", required=False, max_length=24)
    # As in the Azure portal: a geography, then the region within it where the metadata is stored (its
    # display name; the value, as in the API, is the region's id).
    geography = forms.ChoiceField(
        label="Geography",
        required=False,
        choices=[("", "Select a geography")] + [(g, g) for g in MIGRATE_GEOGRAPHIES],
    )
    location = forms.ChoiceField(label="Metadata region", required=False)
    assessment_tool = forms.ChoiceField(
        label="Assessment tool",
        choices=[(SKIP, "Skip adding an assessment tool for now")],
        initial=SKIP,
        widget=forms.RadioSelect,
    )
    migration_tool = forms.ChoiceField(
        label="Migration tool",
        choices=[
            (Solution.Tool.SERVER_MIGRATION.value, Solution.Tool.SERVER_MIGRATION.label),
            (SKIP, "Skip adding a migration tool for now"),
        ],
        initial=Solution.Tool.SERVER_MIGRATION.value,
        widget=forms.RadioSelect,
    )

    def __init__(self, user, *args, validate_upto: int = -1, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.finish_warning = ""  # set once the project tab validates: see _finish_warning
        self.validate_upto = validate_upto
        self.subscriptions = {str(s.pk): s for s in access.visible_subscriptions(user)}
        self.fields["subscription"].choices = [(pk, s.display_name) for pk, s in self.subscriptions.items()]
        chosen = self._raw("subscription") or next(iter(self.subscriptions), "")
        self.initial.setdefault("subscription", chosen)
        groups = access.visible_resource_groups(user).filter(
            subscription_id=chosen if chosen in self.subscriptions else None
        )
        self.fields["resource_group"].choices = (
            [("", "Select a resource group")]
            + [(g.name, g.name) for g in groups]
            + [(NEW_RESOURCE_GROUP, "Create new")]
        )
        geography = self._raw("geography")
        if self.is_bound and not geography and geography_of_project_location(self._raw("location")):
            # A metadata region names its geography (a form posted by a script that knows only the region).
            geography = geography_of_project_location(self._raw("location"))
            self.data = self.data.copy()
            self.data["geography"] = geography
        regions = MIGRATE_GEOGRAPHIES.get(geography, [])
        self.fields["location"].choices = [(r, REGIONS_BY_NAME[r].display_name) for r in regions] or [
            ("", "Select a geography first")
        ]
        if regions and self._raw("location") not in regions:
            # A new geography: its first region, as the portal preselects one.
            self.data = self.data.copy()
            self.data["location"] = regions[0]

    def _raw(self, name: str) -> str:
        return (self.data.get(name) or "").strip() if self.is_bound else ""

    def clean(self):
        data = super().clean()
        if self.validate_upto >= 0:
            self._clean_project(data)
        if self.validate_upto >= 2 and data.get("assessment_tool") == SKIP and data.get("migration_tool") == SKIP:
            self.add_error("migration_tool", "Add at least one tool: select Azure Migrate: Server Migration.")
        return data

    def _clean_project(self, data) -> None:
        subscription = self.subscriptions.get(data.get("subscription", ""))
        if subscription is None:
            self.add_error("subscription", "Select a subscription.")
            return
        group_name = data.get("resource_group", "")
        if group_name == NEW_RESOURCE_GROUP:
            group_name = data.get("new_resource_group", "").strip()
            problem = resource_group_name_problem(group_name) if group_name else "Enter a name for the new group."
            if problem:
                self.add_error("new_resource_group", problem)
                return
            if ResourceGroup.objects.filter(subscription=subscription, name__iexact=group_name).exists():
                self.add_error("new_resource_group", f"A resource group named '{group_name}' already exists.")
                return
            if not access.can(self.user, access.CREATE_RESOURCE_GROUP, subscription, group_name):
                self.add_error("resource_group", access.denial(self.user, access.CREATE_RESOURCE_GROUP, subscription))
                return
        elif not group_name:
            self.add_error("resource_group", "Select a resource group, or Create new.")
            return
        if not access.can(self.user, access.WRITE_MIGRATE_PROJECT, subscription, group_name):
            self.add_error(
                "resource_group", access.denial(self.user, access.WRITE_MIGRATE_PROJECT, subscription, group_name)
            )
            return
        project_name = data.get("project_name", "")
        problem = project_name_problem(project_name) if project_name else "Enter a project name."
        if problem:
            self.add_error("project_name", problem)
        elif MigrateProject.objects.filter(
            resource_group__subscription=subscription,
            resource_group__name__iexact=group_name,
            name__iexact=project_name,
        ).exists():
            self.add_error("project_name", f"A project named '{project_name}' already exists in {group_name}.")
        if not data.get("geography"):
            self.add_error("geography", "Select the geography where the project's metadata is stored.")
        self.finish_warning = _finish_warning(self.user, subscription, group_name)

    def step_has_errors(self, step: int) -> bool:
        return any(name in self.errors for name in STEP_FIELDS[step]) or (step == 0 and "__all__" in self.errors)

    def to_request(self) -> AddToolsRequest:
        data = self.cleaned_data
        creating = data["resource_group"] == NEW_RESOURCE_GROUP
        tools = tuple(t for t in (data["assessment_tool"], data["migration_tool"]) if t != SKIP)
        return AddToolsRequest(
            subscription=self.subscriptions[data["subscription"]],
            resource_group_name=data["new_resource_group"].strip() if creating else data["resource_group"],
            create_resource_group=creating,
            project_name=data["project_name"],
            location=data["location"],
            tools=tools,
        )

    def review(self) -> list[tuple[str, str]]:
        request = self.to_request()
        group = request.resource_group_name + (" (new)" if request.create_resource_group else "")
        tool_labels = dict(self.fields["migration_tool"].choices)
        return [
            ("Subscription", request.subscription.display_name),
            ("Resource group", group),
            ("Migrate project", request.project_name),
            ("Geography", geography_of_project_location(request.location)),
            ("Metadata region", REGIONS_BY_NAME[request.location].display_name),
            ("Assessment tool", "Skipped"),
            ("Migration tool", ", ".join(tool_labels[t] for t in request.tools) or "Skipped"),
        ]


def _finish_warning(user, subscription, group_name: str) -> str:
    """Add tools needs only Contributor, but the project's next step, Discover > Create resources, makes
    a Key Vault and grants access to it. Say so before the project exists, and who can finish it."""
    if access.can(user, access.CREATE_KEY_VAULT, subscription, group_name):
        return ""
    permission = access.CREATE_KEY_VAULT
    warning = (
        f"You can create this project, but not finish setting it up: Discover > Create resources needs "
        f"{permission.need} on resource group {group_name} to {permission.purpose} and grant access to it. "
    )
    helpers = [person.email for person in access.principals_who_can(permission, subscription, group_name)]
    if helpers:
        return warning + f"Who can finish it: {', '.join(helpers)}. Or ask one of them to assign you the role."
    return warning + f"Nobody has that role on it yet: ask the owner of subscription {subscription.display_name}."
