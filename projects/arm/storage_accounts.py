"""The cache storage account as a storage account: its blob containers
(`.../storageAccounts/{a}/blobServices/default/containers`) and its keys (`listKeys`), so a user opens
the cache with Azure Storage Explorer or azure-storage-blob as in Azure.

Replication data lives in hub/object_store.py. On the Blob backend (OBJECT_STORE=azure: Azurite, or a
real account) each project's cache storage account is one blob container named as the account, and
listKeys answers the key of the storage account that holds it, with `primaryEndpoints.blob` (on the
account's GET) naming where. The emulated accounts share that one backing account, so its key opens
every project's container there: a deployment that hands keys to people who must not see each other's
caches gives each of them a hub of its own. On the local backend the blobs are files on the hub's disk
(and on the S3 backend objects in buckets): there is no key to give, and listKeys says so (409
StorageKeysNotAvailable)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from hub.arm.errors import ArmError
from hub.arm.routes import RG
from hub.arm.views import arm_list
from hub.object_store import store
from projects import access
from projects.arm import responses
from projects.arm.scopes import ScopeView
from projects.models import MigrationResource

STORAGE_ACCOUNT = MigrationResource.Kind.STORAGE_ACCOUNT
CONTAINER_TYPE = "Microsoft.Storage/storageAccounts/blobServices/containers"
# When the backend's keys were made is not known to the hub; Azurite's are fixed.
KEYS_CREATED = datetime(2024, 1, 1, tzinfo=UTC)


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


class ListKeysView(ScopeView):
    permissions = {"post": access.LIST_STORAGE_KEYS}

    @extend_schema(
        operation_id="StorageAccounts_ListKeys", request=None, responses={200: responses.STORAGE_ACCOUNT_KEYS}
    )
    def post(self, request, account_name, **parents):
        account = access.get_migration_resource(request.user, self.group, STORAGE_ACCOUNT, account_name)
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
        # The container exists before anyone opens it, even before the first batch is uploaded.
        objects.ensure_container(account.name)
        key = objects.account_key()
        created = KEYS_CREATED.isoformat().replace("+00:00", "Z")
        return Response(
            {
                "keys": [
                    {"keyName": key_name, "value": key, "permissions": "FULL", "creationTime": created}
                    for key_name in ("key1", "key2")
                ]
            }
        )


ACCOUNT = f"{RG}/providers/microsoft.storage/storageaccounts/<str:account_name>"
urlpatterns = [
    path(f"{ACCOUNT}/blobservices/default/containers", ContainerListView.as_view()),
    path(f"{ACCOUNT}/blobservices/default/containers/<str:name>", ContainerView.as_view()),
    path(f"{ACCOUNT}/listkeys", ListKeysView.as_view()),
]
