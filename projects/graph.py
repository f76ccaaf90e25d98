"""A sliver of Microsoft Graph: enough for automation to find a user's object id (the principalId of
role assignments), as `az ad user show` does and as `az role assignment create --assignee <upn>` does
through a filtered list. Only users of the caller's own tenant are visible."""

from __future__ import annotations

import re

from django.db.models import Q
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.arm.errors import ArmError
from hub.ids import parse_uuid
from projects.arm.responses import GRAPH_USER
from projects.models import User


def user_body(user: User) -> dict:
    return {
        "id": str(user.object_id),
        "userPrincipalName": user.email,
        "mail": user.email,
        "displayName": user.display_name or user.email,
    }


# $filter of a users list, as az writes it: `userPrincipalName eq 'upn'` (or mail), clauses joined by "and";
# a quote inside the value is doubled.
USER_FILTER = re.compile(r"^(userPrincipalName|mail)\s+eq\s+'((?:[^']|'')*)'$", re.IGNORECASE)


def _tenant_id(request):
    if request.user.tenant_id is None:
        raise ArmError(403, "Authorization_RequestDenied", "Insufficient privileges: you belong to no directory.")
    return request.user.tenant_id


class MeView(APIView):
    @extend_schema(operation_id="Graph_Me", responses={200: GRAPH_USER})
    def get(self, request):
        return Response(user_body(request.user))


class UserView(APIView):
    @extend_schema(operation_id="Graph_GetUser", responses={200: GRAPH_USER})
    def get(self, request, user_id):
        object_id = parse_uuid(user_id)
        by_id = Q(object_id=object_id) if object_id else Q(pk__in=[])
        # Users proper: service principals are servicePrincipals in Graph (entra.graph), not users.
        people = User.objects.people()
        user = people.filter(by_id | Q(email__iexact=user_id), tenant_id=request.user.tenant_id).first()
        if user is None or request.user.tenant_id is None:
            raise ArmError(404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist.")
        return Response(user_body(user))


# The typed body of GET /v1.0/users for the OpenAPI document.
USER_LIST = inline_serializer(
    "GraphUserList",
    {
        "value": inline_serializer(
            "GraphUserListItem",
            {
                "id": serializers.UUIDField(),
                "userPrincipalName": serializers.CharField(),
                "mail": serializers.CharField(),
                "displayName": serializers.CharField(),
            },
            many=True,
        )
    },
)


class UserListView(APIView):
    @extend_schema(operation_id="Graph_ListUsers", responses={200: USER_LIST})
    def get(self, request):
        users = User.objects.people().filter(tenant_id=_tenant_id(request)).order_by("email")
        expression = request.query_params.get("$filter", "").strip()
        for clause in re.split(r"\s+and\s+", expression, flags=re.IGNORECASE) if expression else []:
            match = USER_FILTER.match(clause.strip())
            if match is None:
                # Never ignored: a caller taking the first match must not get an unrelated user.
                raise ArmError(
                    400,
                    "Request_UnsupportedQuery",
                    f"Unsupported query: '{clause.strip()}'. The hub filters users on userPrincipalName eq "
                    "'name@domain' or mail eq 'name@domain'.",
                )
            users = users.filter(email__iexact=match.group(2).replace("''", "'"))
        return Response({"value": [user_body(user) for user in users]})


urlpatterns = [
    path("v1.0/me", MeView.as_view()),
    path("v1.0/users", UserListView.as_view()),
    path("v1.0/users/<str:user_id>", UserView.as_view()),
]
