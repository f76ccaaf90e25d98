"""The cache storage account as a storage account: its blob containers
(`.../storageAccounts/{a}/blobServices/default/containers`), its keys (`listKeys`) and service SAS
tokens (`ListServiceSas`), so a user opens the cache with Azure Storage Explorer or azure-storage-blob as
in Azure.

Replication data lives in hub/object_store.py. On the Blob backend (OBJECT_STORE=azure: Azurite, or a
real account) each project's cache storage account is one blob container named as the account, all in
one backing storage account, whose key would open every project's container, other tenants' too. So
listKeys gives no key by default: each "key" is a connection string (`BlobEndpoint=...;
SharedAccessSignature=...`) holding a SAS signed with the backing key for the account's own container
only, valid for KEYS_SAS_HOURS (listKeys again for a fresh one); Storage (Azurite too) refuses it on any
other container. ListServiceSas signs a SAS for the account's container or one of its blobs, as Azure's
does. STORAGE_LIST_KEYS_SHARED_KEY=true (for a hub whose users may all see each other's caches) makes
listKeys answer the backing account's key itself, as before. On the local backend the blobs are files on
the hub's disk (and on the S3 backend objects in buckets): there is no key to give, and listKeys and
ListServiceSas say so (409 StorageKeysNotAvailable)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.storage.blob import generate_blob_sas, generate_container_sas
from django.conf import settings
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from hub.arm.bodies import ArmBody, Choice, Text
from hub.arm.errors import ArmError
from hub.arm.routes import RG
from hub.arm.views import arm_list, validated
from hub.object_store import store
from projects import access
from projects.arm import responses
from projects.arm.scopes import ScopeView
from projects.models import MigrationResource

STORAGE_ACCOUNT = MigrationResource.Kind.STORAGE_ACCOUNT
CONTAINER_TYPE = "Microsoft.Storage/storageAccounts/blobServices/containers"
# When the backend's keys were made is not known to the hub; Azurite's are fixed.
KEYS_CREATED = datetime(2024, 1, 1, tzinfo=UTC)
# How long the SAS in listKeys' connection strings lasts: the portal's "Generate SAS" default. Storage
# checks it against its own clock, so it is signed on the wall clock, not the hub's (which tests move).
KEYS_SAS_HOURS = 8
# What a listKeys SAS may do in the account's container: what the account key could (read, add,
# create, write, delete, list).
KEYS_SAS_PERMISSIONS = "racwdl"
# The longest a ListServiceSas token may last: a bound on what one call hands out.
SERVICE_SAS_MAX_DAYS = 365


def blob_endpoint() -> str | None:
    """The blob endpoint people reach the cache at (AZURE_STORAGE_PUBLIC_BLOB_ENDPOINT when the hub
    reaches it by another name, docker-compose's `azurite` say); None on the local backend."""
    objects = store()
    endpoint = getattr(objects, "blob_endpoint", None)
    if endpoint is None:
        return None
    return (settings.AZURE_STORAGE_PUBLIC_BLOB_ENDPOINT or endpoint).rstrip("/") + "/"


def account_containers(account: MigrationResource) -> list[str]:
    """The account's own container (the hub writes batches there from the first upload on) and any
    other container the hub keeps for it (`{account}-...`)."""
    others = [name for name in store().containers(f"{account.name}-") if name.startswith(f"{account.name}-")]
    return [account.name, *others]


def container_body(account: MigrationResource, name: str) -> dict:
    return {
        "id": f"{account.arm_id}/blobServices/default/containers/{name}",
        "name": name,
        "type": CONTAINER_TYPE,
        "etag": f'"{account.pk}"',
        "properties": {
            "publicAccess": "None",
            "leaseStatus": "Unlocked",
            "leaseState": "Available",
            "hasImmutabilityPolicy": False,
            "hasLegalHold": False,
            "deleted": False,
        },
    }


class ContainerListView(ScopeView):
    @extend_schema(operation_id="BlobContainers_List", responses={200: responses.BLOB_CONTAINER_LIST})
    def get(self, request, account_name, **parents):
        account = access.get_migration_resource(request.user, self.group, STORAGE_ACCOUNT, account_name)
        return arm_list([container_body(account, name) for name in account_containers(account)])


class ContainerView(ScopeView):
    @extend_schema(operation_id="BlobContainers_Get", responses={200: responses.BLOB_CONTAINER})
    def get(self, request, account_name, name, **parents):
        account = access.get_migration_resource(request.user, self.group, STORAGE_ACCOUNT, account_name)
        if name not in account_containers(account):
            raise ArmError(404, "ContainerNotFound", "The specified container does not exist.")
        return Response(container_body(account, name))


def _blob_store(account: MigrationResource):
    """The Blob backend, with the account's container made (it exists before anyone opens it, even before
    the first batch is uploaded); 409 StorageKeysNotAvailable on a backend with no keys."""
    objects = store()
    if not hasattr(objects, "account_key"):
        where = (
            "an S3-compatible object store (OBJECT_STORE=s3), which has no Azure access keys"
            if settings.OBJECT_STORE == "s3"
            else "the hub's own disk (the embedded storage backend), which has no access keys"
        )
        raise ArmError(
            409,
            "StorageKeysNotAvailable",
            f"Storage account {account.name} is kept on {where}. Run the hub with OBJECT_STORE=azure (Azurite "
            "or an Azure storage account; see README) to open the cache with Azure Storage Explorer or the SDK.",
        )
    objects.ensure_container(account.name)
    return objects


def container_connection_string(objects, container: str) -> str:
    """A connection string that opens `container` only: the public blob endpoint and a container SAS."""
    token = generate_container_sas(
        objects.account_name,
        container,
        account_key=objects.account_key(),
        permission=KEYS_SAS_PERMISSIONS,
        expiry=datetime.now(UTC) + timedelta(hours=KEYS_SAS_HOURS),
    )
    return f"BlobEndpoint={blob_endpoint().rstrip('/')};SharedAccessSignature={token}"


class ListKeysView(ScopeView):
    permissions = {"post": access.LIST_STORAGE_KEYS}

    @extend_schema(
        operation_id="StorageAccounts_ListKeys", request=None, responses={200: responses.STORAGE_ACCOUNT_KEYS}
    )
    def post(self, request, account_name, **parents):
        account = access.get_migration_resource(request.user, self.group, STORAGE_ACCOUNT, account_name)
        objects = _blob_store(account)
        if settings.STORAGE_LIST_KEYS_SHARED_KEY:
            value = objects.account_key()
        else:
            value = container_connection_string(objects, account.name)
        created = KEYS_CREATED.isoformat().replace("+00:00", "Z")
        return Response(
            {
                "keys": [
                    {"keyName": key_name, "value": value, "permissions": "FULL", "creationTime": created}
                    for key_name in ("key1", "key2")
                ]
            }
        )


class ServiceSasParameters(ArmBody):
    """Azure's ServiceSasParameters, as far as a blob container or blob takes them."""

    canonicalizedResource = Text(max_length=1100, help_text="/blob/{account}/{container}[/{blob}]")
    signedResource = Choice(choices=["c", "b"], help_text="c: the container; b: one blob.")
    signedPermission = serializers.RegexField(r"^[racwdl]{1,6}$", max_length=6, help_text="Letters of racwdl.")
    signedExpiry = serializers.DateTimeField(help_text="Up to 365 days ahead.")
    signedStart = serializers.DateTimeField(required=False)
    signedProtocol = Choice(choices=["https", "https,http"], required=False)
    signedIp = Text(max_length=100, required=False)


class ListServiceSasView(ScopeView):
    """A SAS for the account's container or one of its blobs, signed with the backing key: it opens that
    container (or blob) only, so it is what a user gets in place of the shared key."""

    permissions = {"post": access.LIST_STORAGE_KEYS}

    @extend_schema(
        operation_id="StorageAccounts_ListServiceSAS",
        request=ServiceSasParameters,
        responses={200: responses.STORAGE_SERVICE_SAS},
    )
    def post(self, request, account_name, **parents):
        account = access.get_migration_resource(request.user, self.group, STORAGE_ACCOUNT, account_name)
        body = validated(ServiceSasParameters, request.data)
        objects = _blob_store(account)
        container, blob = _sas_resource(account, body["canonicalizedResource"], body["signedResource"])
        expiry = body["signedExpiry"]
        if not datetime.now(UTC) < expiry <= datetime.now(UTC) + timedelta(days=SERVICE_SAS_MAX_DAYS):
            raise ArmError(
                400,
                "InvalidValuesForRequestParameters",
                f"signedExpiry must be in the future and at most {SERVICE_SAS_MAX_DAYS} days ahead.",
                "signedExpiry",
            )
        signed = {
            "account_key": objects.account_key(),
            "permission": body["signedPermission"],
            "expiry": expiry,
            "start": body.get("signedStart"),
            "ip": body.get("signedIp") or None,
            "protocol": body.get("signedProtocol"),
        }
        if blob:
            token = generate_blob_sas(objects.account_name, container, blob, **signed)
        else:
            token = generate_container_sas(objects.account_name, container, **signed)
        return Response({"serviceSasToken": token})


def _sas_resource(account: MigrationResource, resource: str, kind: str) -> tuple[str, str]:
    """(container, blob) that `resource` (`/blob/{account}/{container}[/{blob}]`) names: the account's
    own container, or a blob in it when `kind` is "b"; 400 for anything else."""
    parts = resource.strip("/").split("/", 3)
    names_account = len(parts) >= 3 and parts[0] == "blob" and parts[1] == account.name
    container = parts[2] if names_account else ""
    blob = parts[3] if names_account and len(parts) == 4 else ""
    if container not in account_containers(account) or (kind == "b") != bool(blob):
        raise ArmError(
            400,
            "InvalidValuesForRequestParameters",
            f"canonicalizedResource must name /blob/{account.name}/{account.name} (signedResource c) or a blob "
            f"in it (/blob/{account.name}/{account.name}/{{blob}}, signedResource b): '{resource}' names neither.",
            "canonicalizedResource",
        )
    return container, blob


ACCOUNT = f"{RG}/providers/microsoft.storage/storageaccounts/<str:account_name>"
urlpatterns = [
    path(f"{ACCOUNT}/blobservices/default/containers", ContainerListView.as_view()),
    path(f"{ACCOUNT}/blobservices/default/containers/<str:name>", ContainerView.as_view()),
    path(f"{ACCOUNT}/listkeys", ListKeysView.as_view()),
    path(f"{ACCOUNT}/listservicesas", ListServiceSasView.as_view()),
]
