"""Microsoft Graph's applications and servicePrincipals, as far as the Azure CLI goes: `az ad sp list`,
`az ad sp show`, `az ad sp create-for-rbac`, `az ad app delete` (read from azure-cli's
role/custom.py and _msgrpah/_graph_client.py). Everything is scoped to the caller's directory; writes
follow the same rules as the portal's App registrations blade (entra.services).

An application's service principal is made with it and goes with it (entra.models), so POST
servicePrincipals for a registered application answers that principal, and DELETE of a service
principal deletes its application too."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from entra import graph_schema as schema
from entra import services
from entra.models import Application, ClientSecret
from hub import clock
from hub.arm.errors import ArmError
from hub.ids import parse_uuid
from projects.graph import user_body
from projects.models import User

# Graph's default lifetime of a password credential when addPassword names no end.
DEFAULT_PASSWORD_DAYS = 2 * 365
INSUFFICIENT_PRIVILEGES = "Insufficient privileges to complete the operation."


def graph_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def password_credential_body(secret: ClientSecret, secret_text: str | None = None) -> dict:
    return {
        "customKeyIdentifier": None,
        "displayName": secret.display_name or None,
        "endDateTime": graph_time(secret.expires_at),
        "hint": secret.hint,
        "keyId": str(secret.key_id),
        "secretText": secret_text,
        "startDateTime": graph_time(secret.created_at),
    }


def application_body(application: Application) -> dict:
    return {
        "id": str(application.id),
        "appId": str(application.app_id),
        "displayName": application.display_name,
        "createdDateTime": graph_time(application.created_at),
        "deletedDateTime": None,
        "description": None,
        "publisherDomain": application.tenant.domain,
        "signInAudience": "AzureADMyOrg",
        "identifierUris": [],
        "tags": [],
        "appRoles": [],
        "keyCredentials": [],
        "passwordCredentials": [password_credential_body(s) for s in application.client_secrets.all()],
        "requiredResourceAccess": [],
        "web": {"homePageUrl": None, "redirectUris": [], "logoutUrl": None},
    }


def service_principal_body(application: Application) -> dict:
    principal = application.service_principal
    return {
        "id": str(principal.object_id),
        "accountEnabled": principal.is_active,
        "appId": str(application.app_id),
        "appDisplayName": application.display_name,
        "displayName": principal.display_name,
        "appOwnerOrganizationId": str(application.tenant_id),
        "servicePrincipalNames": [str(application.app_id)],
        "servicePrincipalType": "Application",
        "signInAudience": "AzureADMyOrg",
        "alternativeNames": [],
        "appRoles": [],
        "keyCredentials": [],
        "passwordCredentials": [],
        "tags": [],
        "deletedDateTime": None,
    }


def _context(request, fragment: str) -> str:
    return request.build_absolute_uri("/v1.0/$metadata") + "#" + fragment


def _entity(request, fragment: str, body: dict, status: int = 200) -> Response:
    """One object's answer, as Graph gives it: its @odata.context first."""
    return Response({"@odata.context": _context(request, fragment), **body}, status=status)


def _collection(request, fragment: str, values: list[dict]) -> Response:
    return Response({"@odata.context": _context(request, fragment), "value": values})


def _application_list(request, fragment: str, body, filters: tuple[str, ...]) -> Response:
    """The directory's applications, as applications or as their service principals (`body`), narrowed
    by $filter on the `filters` Graph allows there."""
    return _collection(request, fragment, [body(a) for a in _filtered(request, _applications(request), filters)])


def _tenant_id(request):
    if request.user.tenant_id is None:
        raise ArmError(403, "Authorization_RequestDenied", f"{INSUFFICIENT_PRIVILEGES} You belong to no directory.")
    return request.user.tenant_id


def _not_found(identifier) -> ArmError:
    return ArmError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{identifier}' does not exist or one of its queried reference-property objects are not present.",
    )


def _applications(request):
    return (
        Application.objects.filter(tenant_id=_tenant_id(request))
        .select_related("tenant", "service_principal")
        .prefetch_related("client_secrets")
    )


def _application(request, object_id) -> Application:
    application = _applications(request).filter(pk=parse_uuid(object_id)).first() if parse_uuid(object_id) else None
    if application is None:
        raise _not_found(object_id)
    return application


def _service_principal_application(request, object_id) -> Application:
    object_uuid = parse_uuid(object_id)
    application = (
        _applications(request).filter(service_principal__object_id=object_uuid).first() if object_uuid else None
    )
    if application is None:
        raise _not_found(object_id)
    return application


# $filter, as az writes it: clauses joined by "and", each one of these. A quote inside a value is doubled.
_VALUE = r"'((?:[^']|'')*)'"
_CLAUSES = {
    "displayName": re.compile(rf"^displayName\s+eq\s+{_VALUE}$", re.IGNORECASE),
    "displayNamePrefix": re.compile(rf"^startswith\(\s*displayName\s*,\s*{_VALUE}\s*\)$", re.IGNORECASE),
    "appId": re.compile(rf"^appId\s+eq\s+{_VALUE}$", re.IGNORECASE),
    "servicePrincipalName": re.compile(rf"^servicePrincipalNames/any\(\s*(\w+)\s*:\s*\1\s+eq\s+{_VALUE}\s*\)$", re.I),
    "identifierUri": re.compile(rf"^identifierUris/any\(\s*(\w+)\s*:\s*\1\s+eq\s+{_VALUE}\s*\)$", re.IGNORECASE),
}


def _filtered(request, applications, allowed: tuple[str, ...]):
    expression = request.query_params.get("$filter", "").strip()
    if not expression:
        return applications
    for clause in re.split(r"\s+and\s+", expression, flags=re.IGNORECASE):
        clause = clause.strip()
        kind, match = next(((k, m) for k in allowed if (m := _CLAUSES[k].match(clause))), (None, None))
        if match is None:
            raise ArmError(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported query: '{clause}'. The hub filters on "
                + ", ".join(allowed)
                + " (e.g. displayName eq 'name', startswith(displayName,'prefix'), appId eq 'guid').",
            )
        value = match.groups()[-1].replace("''", "'")
        if kind == "displayName":
            applications = applications.filter(display_name=value)
        elif kind == "displayNamePrefix":
            applications = applications.filter(display_name__istartswith=value)
        elif kind in ("appId", "servicePrincipalName"):
            app_id = parse_uuid(value)
            applications = applications.filter(app_id=app_id) if app_id else applications.none()
        else:  # identifierUris: the hub's applications have none
            applications = applications.none()
    return applications


def _graph_gate(error: ArmError) -> ArmError:
    """Graph's refusal for a directory gate, whose words az looks for ('insufficient privileges')."""
    if error.status != 403:
        return error
    return ArmError(403, "Authorization_RequestDenied", f"{INSUFFICIENT_PRIVILEGES} {error.portal_message}")


def _display_name(data) -> str:
    if not isinstance(data, dict) or not isinstance(data.get("displayName"), str):
        raise ArmError(400, "Request_BadRequest", "Send a JSON object with 'displayName', a string.", "displayName")
    return data["displayName"]


class ApplicationListView(APIView):
    @extend_schema(operation_id="Graph_ListApplications", responses={200: schema.APPLICATION_LIST})
    def get(self, request):
        filters = ("displayName", "displayNamePrefix", "appId", "identifierUri")
        return _application_list(request, "applications", application_body, filters)

    @extend_schema(
        operation_id="Graph_CreateApplication",
        request=schema.APPLICATION_INPUT,
        responses={201: schema.APPLICATION_ENTITY},
    )
    def post(self, request):
        try:
            application = services.create_application(request.user, _display_name(request.data))
        except ArmError as error:
            raise _graph_gate(error) from error
        return _entity(
            request, "applications/$entity", application_body(_application(request, application.pk)), status=201
        )


class ApplicationView(APIView):
    @extend_schema(operation_id="Graph_GetApplication", responses={200: schema.APPLICATION_ENTITY})
    def get(self, request, object_id):
        return _entity(request, "applications/$entity", application_body(_application(request, object_id)))

    @extend_schema(operation_id="Graph_UpdateApplication", request=schema.APPLICATION_UPDATE, responses={204: None})
    def patch(self, request, object_id):
        application = _application(request, object_id)
        if not isinstance(request.data, dict):
            raise ArmError(400, "Request_BadRequest", "Send a JSON object with the properties to change.")
        # Only the display name is kept by the hub; az sends it when it re-runs create-for-rbac.
        if "displayName" in request.data:
            try:
                services.rename_application(request.user, application, _display_name(request.data))
            except ArmError as error:
                raise _graph_gate(error) from error
        else:
            services.authorize_application_change(request.user, application)
        return Response(status=204)

    @extend_schema(operation_id="Graph_DeleteApplication", responses={204: None})
    def delete(self, request, object_id):
        services.delete_application(request.user, _application(request, object_id))
        return Response(status=204)


def _end_date(data) -> datetime | None:
    credential = data.get("passwordCredential") if isinstance(data, dict) else None
    if credential is None:
        credential = {}
    if not isinstance(credential, dict):
        raise ArmError(400, "Request_BadRequest", "'passwordCredential' must be an object.", "passwordCredential")
    end = credential.get("endDateTime")
    if end is None:
        return clock.now() + timedelta(days=DEFAULT_PASSWORD_DAYS)
    try:
        moment = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ArmError(
            400,
            "Request_BadRequest",
            f"endDateTime '{end}' is not a UTC date and time such as 2027-01-31T00:00:00Z.",
            "passwordCredential.endDateTime",
        )
    return moment


class AddPasswordView(APIView):
    @extend_schema(
        operation_id="Graph_ApplicationAddPassword",
        request=schema.ADD_PASSWORD_INPUT,
        responses={200: schema.ADDED_PASSWORD},
    )
    def post(self, request, object_id):
        application = _application(request, object_id)
        credential = request.data.get("passwordCredential") if isinstance(request.data, dict) else None
        name = credential.get("displayName") if isinstance(credential, dict) else None
        row, secret = services.add_client_secret(
            request.user,
            application,
            display_name=name if isinstance(name, str) else "",
            expires_at=_end_date(request.data),
        )
        return _entity(request, "microsoft.graph.passwordCredential", password_credential_body(row, secret_text=secret))


class RemovePasswordView(APIView):
    @extend_schema(
        operation_id="Graph_ApplicationRemovePassword",
        request=schema.REMOVE_PASSWORD_INPUT,
        responses={204: None},
    )
    def post(self, request, object_id):
        application = _application(request, object_id)
        key_id = parse_uuid(request.data.get("keyId")) if isinstance(request.data, dict) else None
        if key_id is None:
            raise ArmError(400, "Request_BadRequest", 'Send {"keyId": "<guid>"}: the key id of the secret.', "keyId")
        services.remove_client_secret(request.user, application, key_id)
        return Response(status=204)


class ServicePrincipalListView(APIView):
    @extend_schema(operation_id="Graph_ListServicePrincipals", responses={200: schema.SERVICE_PRINCIPAL_LIST})
    def get(self, request):
        filters = ("displayName", "displayNamePrefix", "appId", "servicePrincipalName")
        return _application_list(request, "servicePrincipals", service_principal_body, filters)

    @extend_schema(
        operation_id="Graph_CreateServicePrincipal",
        request=schema.SERVICE_PRINCIPAL_INPUT,
        responses={201: schema.SERVICE_PRINCIPAL_ENTITY},
    )
    def post(self, request):
        app_id = parse_uuid(request.data.get("appId")) if isinstance(request.data, dict) else None
        if app_id is None:
            raise ArmError(400, "Request_BadRequest", 'Send {"appId": "<application (client) id>"}.', "appId")
        application = _applications(request).filter(app_id=app_id).first()
        if application is None:
            raise ArmError(
                400,
                "Request_BadRequest",
                f"No application with appId '{app_id}' is registered in this directory. Register it first "
                "(POST /v1.0/applications).",
                "appId",
            )
        # Made with the application already: answer it, as Graph answers the principal it creates.
        services.authorize_application_change(request.user, application)
        return _entity(request, "servicePrincipals/$entity", service_principal_body(application), status=201)


class ServicePrincipalView(APIView):
    @extend_schema(operation_id="Graph_GetServicePrincipal", responses={200: schema.SERVICE_PRINCIPAL_ENTITY})
    def get(self, request, object_id):
        return _entity(
            request,
            "servicePrincipals/$entity",
            service_principal_body(_service_principal_application(request, object_id)),
        )

    @extend_schema(operation_id="Graph_DeleteServicePrincipal", responses={204: None})
    def delete(self, request, object_id):
        services.delete_application(request.user, _service_principal_application(request, object_id))
        return Response(status=204)


MAX_IDS = 1000  # Graph's limit for getByIds


class DirectoryObjectsByIdsView(APIView):
    """`az role assignment list` names each assignment's principal through this call."""

    @extend_schema(
        operation_id="Graph_DirectoryObjectsGetByIds",
        request=schema.GET_BY_IDS_INPUT,
        responses={200: schema.DIRECTORY_OBJECT_LIST},
    )
    def post(self, request):
        ids = request.data.get("ids") if isinstance(request.data, dict) else None
        if not isinstance(ids, list) or len(ids) > MAX_IDS:
            raise ArmError(
                400, "Request_BadRequest", f'Send {{"ids": [...]}} with at most {MAX_IDS} object ids.', "ids"
            )
        wanted = {parse_uuid(i) for i in ids if isinstance(i, str)} - {None}
        types = request.data.get("types") or ["user", "servicePrincipal"]
        if not isinstance(types, list):
            raise ArmError(400, "Request_BadRequest", '\'types\' is a list such as ["user", "servicePrincipal"].')
        types = {t.lower() for t in types if isinstance(t, str)}
        tenant_id = _tenant_id(request)
        found = []
        if "user" in types:
            people = User.objects.people().filter(tenant_id=tenant_id, object_id__in=wanted)
            found += [{"@odata.type": "#microsoft.graph.user", **user_body(user)} for user in people]
        if "serviceprincipal" in types:
            applications = _applications(request).filter(service_principal__object_id__in=wanted)
            found += [
                {"@odata.type": "#microsoft.graph.servicePrincipal", **service_principal_body(a)} for a in applications
            ]
        return _collection(request, "directoryObjects", found)


urlpatterns = [
    path("v1.0/directoryObjects/getByIds", DirectoryObjectsByIdsView.as_view()),
    path("v1.0/applications", ApplicationListView.as_view()),
    path("v1.0/applications/<str:object_id>", ApplicationView.as_view()),
    path("v1.0/applications/<str:object_id>/addPassword", AddPasswordView.as_view()),
    path("v1.0/applications/<str:object_id>/removePassword", RemovePasswordView.as_view()),
    path("v1.0/servicePrincipals", ServicePrincipalListView.as_view()),
    path("v1.0/servicePrincipals/<str:object_id>", ServicePrincipalView.as_view()),
]
