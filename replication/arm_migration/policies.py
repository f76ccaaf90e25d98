"""ARM: the replication policies of a vault (replicationPolicies): list, get, and create or change
one with a PUT, which answers 200 with the policy (the SDK accepts it; nothing is left to poll)."""

from __future__ import annotations

import math

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub.arm.errors import found
from hub.arm.schema import members
from hub.arm.views import arm_list
from projects import access
from replication import policies
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
            **members(openapi.POLICY_PROPERTIES, policy=policy),
            "providerSpecificDetails": {
                **members(openapi.POLICY_DETAILS, policy=policy),
                "instanceType": PROVIDER,
                # The hub's cycle is in seconds; ASR speaks in whole minutes, so a sub-minute test
                # cycle shows as one minute.
                "crashConsistentFrequencyInMinutes": max(1, math.ceil(policy.cycle_seconds / 60)),
                "enableMultiVmSync": "false",
            },
        },
    }


def _policy_or_404(vault: Vault, name: str) -> ReplicationPolicy:
    message = f"Replication policy '{name}' was not found in vault {vault.resource.name}."
    return found(policies.policy_named(vault.project, name), "PolicyNotFound", message)


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
        policies.policy_name_check(policy_name)  # before the body, as ARM checks a name
        policy = policies.policy_save(self.vault.project, policy_name, read_policy_input(request))
        return Response(policy_body(self.vault, policy))
