"""Azure's naming rules, each returning the rule a bad name breaks (None when the name is valid)."""

from __future__ import annotations

import re

RESOURCE_GROUP_RULE = (
    "Resource group names are 1 to 90 characters: letters, digits, underscores, hyphens, periods and "
    "parentheses, and cannot end with a period."
)
PROJECT_RULE = "Project names are 3 to 24 characters: letters, digits and hyphens only."

_RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$")
_PROJECT = re.compile(r"^[a-zA-Z0-9-]{3,24}$")


def resource_group_name_problem(name: str) -> str | None:
    if not _RESOURCE_GROUP.fullmatch(name) or name.endswith("."):
        return RESOURCE_GROUP_RULE
    return None


def project_name_problem(name: str) -> str | None:
    if not _PROJECT.fullmatch(name):
        return PROJECT_RULE
    return None
