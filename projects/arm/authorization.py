"""ARM handlers for Microsoft.Authorization: role assignments and (built-in) role definitions, at
subscription and resource-group scope, as azure-mgmt-authorization's client calls them."""

from __future__ import annotations

import re

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from hub.arm.errors import ArmError, found
from hub.arm.routes import RG, SUB
from hub.arm.schema import create_or_update
from hub.arm.views import arm_list, put_answer, validated
from hub.ids import parse_uuid
from projects import access, services
from projects.arm import responses
from projects.arm.scopes import ScopeView
from projects.models import RoleAssignment, Subscription, User
from projects.roles import BUILTIN_ROLES

AUTHORIZATION = "providers/microsoft.authorization"


def role_definition_id(subscription: Subscription, role) -> str:
    return f"{subscription.arm_id}/providers/Microsoft.Authorization/roleDefinitions/{role.id}"


def role_definition_body(subscription: Subscription, role) -> dict:
    return {
        "id": role_definition_id(subscription, role),
        "name": role.id,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role.name,
            "description": role.description,
            "type": "BuiltInRole",
            "permissions": [
                {
                    "actions": list(role.actions),
                    "notActions": list(role.not_actions),
                    "dataActions": [],
                    "notDataActions": [],
                }
            ],
            "assignableScopes": ["/"],
        },
    }


def role_assignment_body(assignment: RoleAssignment) -> dict:
    scope = assignment.resource_group.arm_id if assignment.resource_group_id else assignment.subscription.arm_id
    creator = str(assignment.created_by.object_id) if assignment.created_by_id else None
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{assignment.name}",
        "name": str(assignment.name),
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": role_definition_id(assignment.subscription, assignment.role),
            "principalId": str(assignment.principal.object_id),
            "principalType": assignment.principal.principal_type,
            "scope": scope,
            "condition": None,
            "conditionVersion": None,
            "description": None,
            "createdOn": assignment.created_at.isoformat(),
            "updatedOn": assignment.created_at.isoformat(),
            "createdBy": creator,
            "updatedBy": creator,
        },
    }


class RoleAssignmentInput(serializers.Serializer):
    class RoleAssignmentInputProperties(serializers.Serializer):
        roleDefinitionId = serializers.CharField()
        principalId = serializers.UUIDField()
        principalType = serializers.CharField(required=False, allow_null=True)
        description = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    properties = RoleAssignmentInputProperties()


_PRINCIPAL_FILTER = re.compile(r"principalId\s+eq\s+'([0-9a-fA-F-]{36})'")


class RoleAssignmentListView(ScopeView):
    """At a subscription: every assignment in it. At a resource group: those that apply there, its own
    and those inherited from the subscription. `$filter=atScope()` keeps those at or above the scope;
    `principalId eq '...'` one principal's."""

    @extend_schema(operation_id="RoleAssignments_List", responses={200: responses.ROLE_ASSIGNMENT_LIST})
    def get(self, request, **parents):
        subscription, group = self.subscription, self.group
        assignments = RoleAssignment.objects.filter(subscription=subscription).select_related(
            "principal", "resource_group", "subscription", "created_by"
        )
        query = request.query_params.get("$filter", "")
        if group is not None:
            assignments = assignments.filter(resource_group__isnull=True) | assignments.filter(resource_group=group)
        elif "atscope()" in query.lower():
            assignments = assignments.filter(resource_group__isnull=True)
        elif (str(subscription.pk), None) not in access.visible_scopes(request.user):
            # Without a subscription-wide role, only the groups the caller can see.
            visible = access.visible_resource_groups(request.user).filter(subscription=subscription)
            assignments = assignments.filter(resource_group__isnull=True) | assignments.filter(
                resource_group__in=visible
            )
        principal = _PRINCIPAL_FILTER.search(query)
        if principal:
            principal_id = parse_uuid(principal.group(1))
            if principal_id is None:
                raise ArmError(
                    400, "InvalidFilter", f"'{principal.group(1)}' is not a principal id (a GUID).", "$filter"
                )
            assignments = assignments.filter(principal__object_id=principal_id)
        return arm_list([role_assignment_body(a) for a in assignments.order_by("created_at")])


class RoleAssignmentView(ScopeView):
    def _assignment(self, name) -> RoleAssignment | None:
        assignment_id = parse_uuid(name)
        if assignment_id is None:
            return None
        return (
            RoleAssignment.objects.filter(name=assignment_id, subscription=self.subscription, resource_group=self.group)
            .select_related("principal", "resource_group", "subscription", "created_by")
            .first()
        )

    def _not_found(self, name):
        return ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")

    @extend_schema(operation_id="RoleAssignments_Get", responses={200: responses.ROLE_ASSIGNMENT})
    def get(self, request, assignment_name, **parents):
        assignment = self._assignment(assignment_name)
        if assignment is None:
            raise self._not_found(assignment_name)
        return Response(role_assignment_body(assignment))

    @create_or_update("RoleAssignments_Create", RoleAssignmentInput, responses.ROLE_ASSIGNMENT)
    def put(self, request, assignment_name, **parents):
        subscription = self.subscription
        assignment_id = parse_uuid(assignment_name)
        if assignment_id is None:
            raise ArmError(
                400, "InvalidRoleAssignmentId", f"The role assignment ID '{assignment_name}' is not valid: use a GUID."
            )
        body = validated(RoleAssignmentInput, request.data)["properties"]
        role = services.role_definition_for(body["roleDefinitionId"])
        # Principals of the subscription's directory only: another tenant's users are unknown here.
        principal = User.objects.filter(
            object_id=body["principalId"], is_active=True, tenant_id=subscription.tenant_id
        ).first()
        if principal is None:
            raise ArmError(
                400,
                "PrincipalNotFound",
                f"Principal {body['principalId'].hex} does not exist in the directory {subscription.tenant_id}.",
                "properties.principalId",
            )
        stated_type = body.get("principalType")
        if stated_type and stated_type.lower() != principal.principal_type.lower():
            # As ARM refuses it: the stated type must be the principal's (az states it for service principals).
            raise ArmError(
                400,
                "UnmatchedPrincipalType",
                f"The PrincipalId '{principal.object_id.hex}' has type '{principal.principal_type}', which is "
                f"different from specified PrincipalType '{stated_type}'.",
                "properties.principalType",
            )
        assignment, created = services.role_assignment_create(
            user=request.user,
            subscription=subscription,
            resource_group=self.group,
            principal=principal,
            role_name=role.name,
            assignment_id=assignment_id,
        )
        return put_answer(role_assignment_body(assignment), created)

    @extend_schema(operation_id="RoleAssignments_Delete", responses={200: responses.ROLE_ASSIGNMENT, 204: None})
    def delete(self, request, assignment_name, **parents):
        assignment = self._assignment(assignment_name)
        if assignment is None:
            return Response(status=204)
        body = role_assignment_body(assignment)
        services.role_assignment_delete(user=request.user, assignment=assignment)
        return Response(body)


class RoleDefinitionListView(ScopeView):
    @extend_schema(operation_id="RoleDefinitions_List", responses={200: responses.ROLE_DEFINITION_LIST})
    def get(self, request, **parents):
        roles = list(BUILTIN_ROLES.values())
        wanted = re.search(r"roleName\s+eq\s+'([^']*)'", request.query_params.get("$filter", ""))
        if wanted:
            roles = [role for role in roles if role.name.lower() == wanted.group(1).lower()]
        return arm_list([role_definition_body(self.subscription, role) for role in roles])


class RoleDefinitionView(ScopeView):
    @extend_schema(operation_id="RoleDefinitions_Get", responses={200: responses.ROLE_DEFINITION})
    def get(self, request, definition_id, **parents):
        role = next((r for r in BUILTIN_ROLES.values() if r.id == definition_id.lower()), None)
        message = f"The specified role definition with ID '{definition_id}' does not exist."
        found(role, "RoleDefinitionDoesNotExist", message)
        return Response(role_definition_body(self.subscription, role))


urlpatterns = []
for scope in (SUB, RG):
    urlpatterns += [
        path(f"{scope}/{AUTHORIZATION}/roleassignments", RoleAssignmentListView.as_view()),
        path(f"{scope}/{AUTHORIZATION}/roleassignments/<str:assignment_name>", RoleAssignmentView.as_view()),
        path(f"{scope}/{AUTHORIZATION}/roledefinitions", RoleDefinitionListView.as_view()),
        path(f"{scope}/{AUTHORIZATION}/roledefinitions/<str:definition_id>", RoleDefinitionView.as_view()),
    ]
