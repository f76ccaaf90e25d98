"""The cache storage account through azure-mgmt-storage, unmodified (docs/api.md): listed in its
resource group and subscription with its blob endpoint, its container, and listKeys; then opened with
azure-storage-blob and the listed connection string, as Azure Storage Explorer or a script would. On the
Blob backend (Azurite here) it opens the account's own container and Azurite refuses it on any other,
another tenant's cache included; ListServiceSas signs for the container too. On the embedded local
backend listKeys says there is no key, in ARM's error shape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage.models import ServiceSasParameters
from azure.storage.blob import BlobServiceClient, ContainerClient

from tests import hubs
from tests.azure_clients import sdk_client
from tests.azurite import assert_other_container_refused
from tests.hubs import CONTOSO, FABRIKAM

pytestmark = pytest.mark.live

GROUP = "rg-migrate"


@pytest.fixture(scope="module")
def blob_hub(tmp_path_factory, azurite):
    """The embedded hub storing replication data in Azurite (OBJECT_STORE=azure)."""
    hub = hubs.embedded_hub(
        tmp_path_factory.mktemp("blob-hub"),
        extra_env={"OBJECT_STORE": "azure", "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string},
    )
    yield hub
    hub.stop()


def storage(hub, email: str = "admin@contoso.com", subscription: str = CONTOSO) -> StorageManagementClient:
    return sdk_client(StorageManagementClient, hub, email, subscription)


def new_account(hub, email: str = "admin@contoso.com", subscription: str = CONTOSO, group: str = GROUP) -> str:
    name = f"migratelsa{uuid.uuid4().hex[:12]}"
    poller = storage(hub, email, subscription).storage_accounts.begin_create(
        group, name, {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}
    )
    assert poller.result().name == name
    return name


def test_the_cache_account_lists_its_container_and_keys_that_open_it(blob_hub, azurite):
    name = new_account(blob_hub)
    accounts = storage(blob_hub).storage_accounts
    account = accounts.get_properties(GROUP, name)
    assert account.kind == "StorageV2" and account.sku.name == "Standard_LRS"
    assert account.primary_endpoints.blob == azurite.blob_endpoint + "/"
    assert name in [listed.name for listed in accounts.list_by_resource_group(GROUP)]
    assert name in [listed.name for listed in accounts.list()]
    containers = storage(blob_hub).blob_containers
    assert [container.name for container in containers.list(GROUP, name)] == [name]
    assert containers.get(GROUP, name, name).public_access == "None"
    keys = accounts.list_keys(GROUP, name).keys_property  # `keys` is the mapping method in this SDK
    assert [key.key_name for key in keys] == ["key1", "key2"] and keys[0].permissions == "FULL"  # as Azure answers it

    # Opened as a person would, with the connection string the API listed: the container is there.
    assert keys[0].value.startswith(f"BlobEndpoint={azurite.blob_endpoint};SharedAccessSignature=")
    container = BlobServiceClient.from_connection_string(keys[0].value).get_container_client(name)
    container.upload_blob("opened-with-the-listed-key.txt", b"hello")
    assert [blob.name for blob in container.list_blobs()] == ["opened-with-the-listed-key.txt"]

    # A service SAS, as Azure's ListServiceSas signs one: read and list in the account's container.
    sas = accounts.list_service_sas(
        GROUP,
        name,
        ServiceSasParameters(
            canonicalized_resource=f"/blob/{name}/{name}",
            resource="c",
            permissions="rl",
            shared_access_expiry_time=datetime.now(UTC) + timedelta(hours=1),
        ),
    ).service_sas_token
    read_only = ContainerClient(account.primary_endpoints.blob, name, credential=sas)
    assert [blob.name for blob in read_only.list_blobs()] == ["opened-with-the-listed-key.txt"]


def test_one_tenants_listed_keys_open_its_container_and_not_anothers(blob_hub):
    """Every emulated account is a container in one Azurite account: what listKeys gives Contoso opens
    Contoso's container, and Azurite refuses it on Fabrikam's (and on the account's container list)."""
    contoso = new_account(blob_hub)
    fabrikam = new_account(blob_hub, "admin@fabrikam.com", FABRIKAM, "rg-fabrikam")
    keys = {
        tenant: storage(blob_hub, email, subscription).storage_accounts.list_keys(group, name).keys_property[0].value
        for tenant, email, subscription, group, name in (
            ("contoso", "admin@contoso.com", CONTOSO, GROUP, contoso),
            ("fabrikam", "admin@fabrikam.com", FABRIKAM, "rg-fabrikam", fabrikam),
        )
    }
    BlobServiceClient.from_connection_string(keys["fabrikam"]).get_container_client(fabrikam).upload_blob(
        "fabrikams.txt", b"fabrikam's"
    )
    service = BlobServiceClient.from_connection_string(keys["contoso"])
    assert list(service.get_container_client(contoso).list_blobs()) == []
    assert_other_container_refused(service, fabrikam, "fabrikams.txt")


def test_keys_need_the_list_keys_action_and_other_tenants_see_nothing(blob_hub):
    name = new_account(blob_hub)
    with pytest.raises(HttpResponseError) as refused:
        storage(blob_hub, "viewer@contoso.com").storage_accounts.list_keys(GROUP, name)
    assert (refused.value.status_code, refused.value.error.code) == (403, "AuthorizationFailed")
    # A Reader still sees the account and its container.
    assert [c.name for c in storage(blob_hub, "viewer@contoso.com").blob_containers.list(GROUP, name)] == [name]
    outsider = storage(blob_hub, "admin@fabrikam.com", FABRIKAM)
    with pytest.raises(HttpResponseError) as hidden:
        outsider.storage_accounts.list_keys(GROUP, name)
    assert hidden.value.status_code == 404
    with pytest.raises(HttpResponseError) as missing:
        storage(blob_hub).blob_containers.get(GROUP, name, "nosuchcontainer")
    assert (missing.value.status_code, missing.value.error.code) == (404, "ContainerNotFound")


def test_the_embedded_local_backend_has_no_keys_to_give(embedded_hub):
    name = new_account(embedded_hub)
    account = storage(embedded_hub).storage_accounts.get_properties(GROUP, name)
    assert account.primary_endpoints is None  # its blobs are files on the hub's disk
    assert [c.name for c in storage(embedded_hub).blob_containers.list(GROUP, name)] == [name]
    with pytest.raises(HttpResponseError) as refused:
        storage(embedded_hub).storage_accounts.list_keys(GROUP, name)
    assert (refused.value.status_code, refused.value.error.code) == (409, "StorageKeysNotAvailable")
    assert "OBJECT_STORE=azure" in refused.value.error.message
