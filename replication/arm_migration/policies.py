"""ARM: the replication policies of a vault (replicationPolicies): list, get, and create or change
one with a PUT, which answers 200 with the policy (the SDK accepts it; nothing is left to poll)."""

from __future__ import annotations

import math
import re

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub.arm.errors import ArmError, found
from hub.arm.views import arm_list
from projects import access
from replication.arm import VAULT_TYPE, Vault, VaultView
from replication.arm_migration import openapi
from replication.arm_migration.inputs import read_policy_input
from replication.arm_migration.shapes import PROVIDER, policy_id
from replication.models import ReplicationPolicy


def policy_body(vault: Vault, policy: ReplicationPolicy) -> dict:
    return {
        "id": policy_id(vault, policy),
        "name": policy.name,
        "type": f"{VAULT_TYPE}/replicationPolicies",
        "properties": {
            "friendlyName": policy.name,
            "providerSpecificDetails": {
                "instanceType": PROVIDER,
                "recoveryPointHistoryInMinutes": policy.recovery_point_history_minutes,
                # The hub's cycle is in seconds; ASR speaks in whole minutes, so a sub-minute test
                # cycle shows as one minute.
                "crashConsistentFrequencyInMinutes": max(1, math.ceil(policy.cycle_seconds / 60)),
                "appConsistentFrequencyInMinutes": policy.app_consistent_frequency_minutes,
                "enableMultiVmSync": "false",
            },
        },
    }


POLICY_NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")


def _policy_or_404(vault: Vault, name: str) -> ReplicationPolicy:
    policy = vault.project.policies.filter(name__iexact=name).first()
    return found(policy, "PolicyNotFound", f"Replication policy '{name}' was not found in vault {vault.resource.name}.")


class PolicyListView(VaultView):
    @extend_schema(operation_id="ReplicationPolicies_List", responses={200: openapi.POLICY_LIST})
    def get(self, request, **parents):
        return arm_list([policy_body(self.vault, policy) for policy in self.vault.project.policies.order_by("name")])


class PolicyView(VaultView):
    permissions = {"put": access.WRITE_REPLICATION_POLICY}

    @extend_schema(operation_id="ReplicationPolicies_Get", responses={200: openapi.POLICY})
    def get(self, request, policy_name, **parents):
        return Response(policy_body(self.vault, _policy_or_404(self.vault, policy_name)))

    @extend_schema(
        operation_id="ReplicationPolicies_Create", request=openapi.PolicyInput, responses={200: openapi.POLICY}
    )
    def put(self, request, policy_name, **parents):
        if not POLICY_NAME_RULE.match(policy_name):
            raise ArmError(
                400,
                "InvalidResourceName",
                f"Policy name '{policy_name}' must be 1 to 80 letters, digits, hyphens or underscores, starting with "
                "a letter or digit.",
            )
        changes = read_policy_input(request)
        project = self.vault.project
        with transaction.atomic():
            # One policy per name even when two clients create it at once.
            type(project).objects.select_for_update().filter(pk=project.pk).first()
            policy = project.policies.filter(name__iexact=policy_name).first() or ReplicationPolicy(
                project=project, name=policy_name, cycle_seconds=settings.REPLICATION_CYCLE_SECONDS
            )
            for field, value in changes.items():
                setattr(policy, field, value)
            policy.save()
        return Response(policy_body(self.vault, policy))
