"""Graph's directoryObjects/getByIds: users and service principals of the caller's directory by object
id, each marked with its @odata.type. `az role assignment list` names each assignment's principal
through it, and `az role assignment create --assignee-object-id` learns the principal's type."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from entra.graph import service_principal_body
from entra.models import Application
from hub.arm.errors import ArmError
from hub.ids import parse_uuid
from projects.graph import user_body
from projects.models import PrincipalType, User

# Graph's own limit for one request.
MAX_IDS = 1000
USER_TYPE, SERVICE_PRINCIPAL_TYPE = "#microsoft.graph.user", "#microsoft.graph.servicePrincipal"


def _requested(data) -> tuple[list, set[str]]:
    ids = data.get("ids") if isinstance(data, dict) else None
    types = data.get("types") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > MAX_IDS:
        raise ArmError(
            400, "Request_BadRequest", f'Send {{"ids": [...]}}: up to {MAX_IDS} object ids as strings.', "ids"
        )
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
        raise ArmError(400, "Request_BadRequest", "'types' must be a list of names such as 'user'.", "types")
    wanted = {t.lower() for t in types} if types else {"user", "serviceprincipal"}
    return [u for u in (parse_uuid(i) for i in ids) if u], wanted


class GetByIdsView(APIView):
    @extend_schema(operation_id="Graph_DirectoryObjectsGetByIds", request=dict, responses={200: dict})
    def post(self, request):
        object_ids, wanted = _requested(request.data)
        if request.user.tenant_id is None or not object_ids:
            return Response({"value": []})
        principals = User.objects.filter(tenant_id=request.user.tenant_id, object_id__in=object_ids)
        found = []
        if "user" in wanted:
            people = principals.filter(principal_type=PrincipalType.USER).order_by("email")
            found += [{"@odata.type": USER_TYPE, **user_body(user)} for user in people]
        if "serviceprincipal" in wanted:
            applications = Application.objects.filter(service_principal__in=principals).select_related(
                "service_principal"
            )
            found += [{"@odata.type": SERVICE_PRINCIPAL_TYPE, **service_principal_body(a)} for a in applications]
        return Response({"value": found})


urlpatterns = [path("v1.0/directoryObjects/getByIds", GetByIdsView.as_view())]
