"""The Azure Migrate: Server Migration card on a project's Servers blade: its counts and whether
Replicate can start, with the reason shown on the disabled button when it can't."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode

from hub import clock
from projects import access, tool_cards
from projects.models import MigrateProject, Solution
from replication.models import Appliance
from replication.selectors import server_migration_counts


def replicate_url(project: MigrateProject) -> str:
    return reverse("replication:replicate") + "?" + urlencode({"project": project.arm_id})


def replicate_unavailable(user, project: MigrateProject) -> str:
    """Why Replicate can't start for this project, in the portal's words; "" when it can."""
    if not project.target_region:
        return (
            "Replicate is not available yet: in Discover, select Create resources to set the project's target "
            "region first."
        )
    if not project.appliances.filter(state=Appliance.State.FINALIZED).exists():
        return (
            "Replicate needs a connected replication appliance: in Discover, install the appliance and select "
            "Finalize registration."
        )
    group = project.resource_group
    return access.denial(user, access.REPLICATE_SERVERS, group.subscription, group.name)


def card_context(user, project: MigrateProject) -> dict:
    return {
        "counts": server_migration_counts(project, clock.now()),
        # Replicate opens its wizard, or says on the disabled button what is missing first.
        "replicate_unavailable": replicate_unavailable(user, project),
        "replicate_url": replicate_url(project),
    }


def register() -> None:
    tool_cards.register(
        Solution.Tool.SERVER_MIGRATION,
        tool_cards.ToolCard(
            context=card_context, empty={"counts": None, "replicate_unavailable": "", "replicate_url": ""}
        ),
    )
