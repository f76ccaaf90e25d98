"""Replication policies (ASR's replicationPolicies): the default one Replicate gives a server, and
creating or changing one by name, as PUT replicationPolicies/{name} does."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import transaction

from hub.arm.errors import ArmError
from replication.models import ReplicationPolicy

POLICY_NAME = "migrate-policy"
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")


def replication_policy(project) -> ReplicationPolicy:
    """The project's default policy, made on first use."""
    policy, _ = ReplicationPolicy.objects.get_or_create(
        project=project, name=POLICY_NAME, defaults={"cycle_seconds": settings.REPLICATION_CYCLE_SECONDS}
    )
    return policy


def policy_named(project, name: str) -> ReplicationPolicy | None:
    """The project's policy of this name, in any case."""
    return project.policies.filter(name__iexact=name).first()


def policy_name_check(name: str) -> None:
    if not NAME_RULE.match(name):
        raise ArmError(
            400,
            "InvalidResourceName",
            f"Policy name '{name}' must be 1 to 80 letters, digits, hyphens or underscores, starting with a letter "
            "or digit.",
        )


def policy_save(project, name: str, changes: dict) -> ReplicationPolicy:
    """Create the policy `name` (the hub's cycle unless `changes` say otherwise) or change the one of
    that name; `changes` are ReplicationPolicy fields."""
    policy_name_check(name)
    with transaction.atomic():
        # One policy per name even when two clients create it at once.
        type(project).objects.select_for_update().filter(pk=project.pk).first()
        policy = policy_named(project, name) or ReplicationPolicy(
            project=project, name=name, cycle_seconds=settings.REPLICATION_CYCLE_SECONDS
        )
        for field, value in changes.items():
            setattr(policy, field, value)
        policy.save()
    return policy
