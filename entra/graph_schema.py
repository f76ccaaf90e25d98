"""The bodies of Graph's applications and servicePrincipals (graph.py) in the OpenAPI document: what
the handlers read and what application_body, service_principal_body and password_credential_body
write. Documentation only: the handlers read the JSON themselves."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from hub.arm.schema import free_form, free_form_list

C = serializers.CharField
optional = {"required": False, "allow_null": True}
ODATA_CONTEXT = "@odata.context"


def _strings():
    return serializers.ListField(child=C())


PASSWORD_CREDENTIAL_FIELDS = {
    "customKeyIdentifier": C(**optional),
    "displayName": C(**optional),
    "endDateTime": serializers.DateTimeField(),
    "hint": C(),
    "keyId": serializers.UUIDField(),
    "secretText": C(**optional, help_text="Only in addPassword's answer: shown once."),
    "startDateTime": serializers.DateTimeField(),
}
PASSWORD_CREDENTIAL = inline_serializer("PasswordCredential", PASSWORD_CREDENTIAL_FIELDS)
ADDED_PASSWORD = inline_serializer("AddedPasswordCredential", {ODATA_CONTEXT: C(), **PASSWORD_CREDENTIAL_FIELDS})

APPLICATION_FIELDS = {
    "id": serializers.UUIDField(),
    "appId": serializers.UUIDField(),
    "displayName": C(),
    "createdDateTime": serializers.DateTimeField(),
    "deletedDateTime": C(**optional),
    "description": C(**optional),
    "publisherDomain": C(),
    "signInAudience": C(),
    "identifierUris": _strings(),
    "tags": _strings(),
    "appRoles": free_form_list(),
    "keyCredentials": free_form_list(),
    "passwordCredentials": type(PASSWORD_CREDENTIAL)(many=True),
    "requiredResourceAccess": free_form_list(),
    "web": free_form(),
}
APPLICATION = inline_serializer("Application", APPLICATION_FIELDS)
APPLICATION_ENTITY = inline_serializer("ApplicationEntity", {ODATA_CONTEXT: C(), **APPLICATION_FIELDS})
APPLICATION_LIST = inline_serializer("ApplicationList", {ODATA_CONTEXT: C(), "value": type(APPLICATION)(many=True)})

SERVICE_PRINCIPAL_FIELDS = {
    "id": serializers.UUIDField(),
    "accountEnabled": serializers.BooleanField(),
    "appId": serializers.UUIDField(),
    "appDisplayName": C(),
    "displayName": C(),
    "appOwnerOrganizationId": serializers.UUIDField(),
    "servicePrincipalNames": _strings(),
    "servicePrincipalType": C(),
    "signInAudience": C(),
    "alternativeNames": _strings(),
    "appRoles": free_form_list(),
    "keyCredentials": free_form_list(),
    "passwordCredentials": free_form_list(),
    "tags": _strings(),
    "deletedDateTime": C(**optional),
}
SERVICE_PRINCIPAL = inline_serializer("ServicePrincipal", SERVICE_PRINCIPAL_FIELDS)
SERVICE_PRINCIPAL_ENTITY = inline_serializer("ServicePrincipalEntity", {ODATA_CONTEXT: C(), **SERVICE_PRINCIPAL_FIELDS})
SERVICE_PRINCIPAL_LIST = inline_serializer(
    "ServicePrincipalList", {ODATA_CONTEXT: C(), "value": type(SERVICE_PRINCIPAL)(many=True)}
)
DIRECTORY_OBJECT_LIST = inline_serializer(
    "DirectoryObjectList",
    {ODATA_CONTEXT: C(), "value": free_form_list(help_text="Users and service principals, each with @odata.type.")},
)

# Requests
APPLICATION_INPUT = inline_serializer("ApplicationInput", {"displayName": C()})
APPLICATION_UPDATE = inline_serializer("ApplicationUpdate", {"displayName": C(required=False)})
ADD_PASSWORD_INPUT = inline_serializer(
    "AddPasswordInput",
    {
        "passwordCredential": inline_serializer(
            "PasswordCredentialInput",
            {
                "displayName": C(required=False),
                "endDateTime": serializers.DateTimeField(required=False, help_text="Default: two years from now."),
            },
            required=False,
        )
    },
)
REMOVE_PASSWORD_INPUT = inline_serializer("RemovePasswordInput", {"keyId": serializers.UUIDField()})
SERVICE_PRINCIPAL_INPUT = inline_serializer("ServicePrincipalInput", {"appId": serializers.UUIDField()})
GET_BY_IDS_INPUT = inline_serializer(
    "GetByIdsInput",
    {
        "ids": serializers.ListField(child=C(), max_length=1000),
        "types": serializers.ListField(child=C(), required=False, help_text="user, servicePrincipal"),
    },
)
