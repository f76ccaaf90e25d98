"""The cache storage account's keys on the Blob backend (Azurite), in process: listKeys' connection
string opens the account's own container and no other, another tenant's included; ListServiceSas signs
for the account's container or a blob in it and refuses anything else; the backing account's own key
only with STORAGE_LIST_KEYS_SHARED_KEY; and a storage account's name is taken once across the hub, as
in Azure, since the name is its container's. (tests/test_storage_accounts.py drives the same through
azure-mgmt-storage against a running hub.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient, ContainerClient
from django.core.management import call_command
from rest_framework.test import APIClient

from hub.models import ApiToken
from hub.object_store import store
from projects.models import User
from tests.azurite import assert_other_container_refused

pytestmark = pytest.mark.django_db

CONTOSO = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-migrate"
FABRIKAM = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-fabrikam"
API = "?api-version=2023-05-01"


def client_for(email: str) -> APIClient:
    _, secret = ApiToken.issue(User.objects.get(email=email), "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def account_url(group: str, name: str, verb: str = "") -> str:
    return f"{group}/providers/Microsoft.Storage/storageAccounts/{name}{verb}{API}"


def new_account(client, group: str, name: str, region: str = "westeurope"):
    return client.put(
        account_url(group, name), {"location": region, "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}, "json"
    )


@pytest.fixture
def blob_hub(settings, azurite):
    settings.OBJECT_STORE = "azure"
    settings.AZURE_STORAGE_CONNECTION_STRING = azurite.connection_string
    store.cache_clear()
    call_command("seed_demo", verbosity=0)
    yield settings
    store.cache_clear()


@pytest.fixture
def two_tenants(blob_hub):
    """Contoso's and Fabrikam's cache accounts, each with a blob in its container."""
    contoso, fabrikam = client_for("admin@contoso.com"), client_for("admin@fabrikam.com")
    suffix = datetime.now(UTC).strftime("%H%M%S%f")
    names = {"contoso": f"contosolsa{suffix}", "fabrikam": f"fabriklsa{suffix}"}
    assert new_account(contoso, CONTOSO, names["contoso"]).status_code == 200
    assert new_account(fabrikam, FABRIKAM, names["fabrikam"], "eastus").status_code == 200
    for name in names.values():
        store().put(f"{name}/item/disk/000000000001.batch", b"batch of " + name.encode())
    return contoso, fabrikam, names


def listed_value(client, group: str, name: str) -> str:
    answer = client.post(account_url(group, name, "/listKeys"))
    assert answer.status_code == 200, answer.content
    keys = answer.json()["keys"]
    assert [key["keyName"] for key in keys] == ["key1", "key2"]
    return keys[0]["value"]


def test_list_keys_opens_the_accounts_own_container_and_no_other(two_tenants, azurite):
    contoso, _, names = two_tenants
    value = listed_value(contoso, CONTOSO, names["contoso"])
    assert value.startswith(f"BlobEndpoint={azurite.blob_endpoint};SharedAccessSignature=")
    assert "AccountKey" not in value and azurite.connection_string.split("AccountKey=")[1].split(";")[0] not in value

    service = BlobServiceClient.from_connection_string(value)
    own = service.get_container_client(names["contoso"])
    assert [blob.name for blob in own.list_blobs()] == ["item/disk/000000000001.batch"]
    assert own.download_blob("item/disk/000000000001.batch").readall() == b"batch of " + names["contoso"].encode()
    own.upload_blob("opened-with-the-listed-key.txt", b"hello")  # what a key allows in the container

    # Another tenant's cache:
    assert_other_container_refused(service, names["fabrikam"], "item/disk/000000000001.batch")
    assert not store().exists(f"{names['fabrikam']}/planted.txt")


def test_the_shared_key_only_when_the_hub_says_so(two_tenants, azurite, settings):
    contoso, _, names = two_tenants
    settings.STORAGE_LIST_KEYS_SHARED_KEY = True
    value = listed_value(contoso, CONTOSO, names["contoso"])
    assert value == azurite.connection_string.split("AccountKey=")[1].split(";")[0]
    service = BlobServiceClient(account_url=azurite.blob_endpoint, credential=value)
    assert names["fabrikam"] in [c.name for c in service.list_containers()], "the shared key opens every container"


def sas_body(resource: str, kind: str = "c", permission: str = "rl", **more) -> dict:
    expiry = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    return {"canonicalizedResource": resource, "signedResource": kind, "signedPermission": permission,
            "signedExpiry": expiry, **more}  # fmt: skip


def test_list_service_sas_signs_for_the_accounts_container_or_blob_only(two_tenants, azurite):
    contoso, _, names = two_tenants
    own, other = names["contoso"], names["fabrikam"]
    sas_url = account_url(CONTOSO, own, "/ListServiceSas")

    answer = contoso.post(sas_url, sas_body(f"/blob/{own}/{own}"), format="json")
    assert answer.status_code == 200, answer.content
    container = ContainerClient(azurite.blob_endpoint, own, credential=answer.json()["serviceSasToken"])
    assert [blob.name for blob in container.list_blobs()] == ["item/disk/000000000001.batch"]
    with pytest.raises(HttpResponseError) as refused:
        container.upload_blob("not-allowed.txt", b"x")  # rl: read and list only
    assert refused.value.status_code == 403

    blob = f"/blob/{own}/{own}/item/disk/000000000001.batch"
    answer = contoso.post(sas_url, sas_body(blob, "b", "r"), format="json")
    assert answer.status_code == 200, answer.content
    one = ContainerClient(azurite.blob_endpoint, own, credential=answer.json()["serviceSasToken"])
    assert one.download_blob("item/disk/000000000001.batch").readall().startswith(b"batch of ")

    late, past = (datetime.now(UTC) + timedelta(days=400)).isoformat(), "2020-01-01T00:00:00Z"
    for body, code in (
        (sas_body(f"/blob/{other}/{other}"), "InvalidValuesForRequestParameters"),  # another tenant's account
        (sas_body(f"/blob/{own}/{other}"), "InvalidValuesForRequestParameters"),  # another container
        (sas_body(f"/blob/{own}/{own}", "b"), "InvalidValuesForRequestParameters"),  # b without a blob
        (sas_body(f"/blob/{own}/{own}", permission="rwx"), "InvalidRequestContent"),
        ({**sas_body(f"/blob/{own}/{own}"), "signedExpiry": late}, "InvalidValuesForRequestParameters"),
        ({**sas_body(f"/blob/{own}/{own}"), "signedExpiry": past}, "InvalidValuesForRequestParameters"),
        ({"signedResource": "c"}, "InvalidRequestContent"),
        ("not an object", "InvalidRequestContent"),
    ):
        answer = contoso.post(sas_url, body, format="json")
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, code), body


def test_keys_and_sas_need_the_list_keys_right_and_stay_in_the_tenant(two_tenants):
    contoso, fabrikam, names = two_tenants
    reader = client_for("viewer@contoso.com")
    for verb, body in (("/listKeys", None), ("/ListServiceSas", sas_body(f"/blob/{names['contoso']}/x"))):
        answer = reader.post(account_url(CONTOSO, names["contoso"], verb), body, format="json")
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "AuthorizationFailed")
        answer = fabrikam.post(account_url(CONTOSO, names["contoso"], verb), body, format="json")
        assert answer.status_code == 404  # another tenant's group does not exist for them
        answer = contoso.post(account_url(CONTOSO, names["fabrikam"], verb), body, format="json")
        assert answer.status_code == 404  # nor is another tenant's account in one's own group


def test_a_storage_account_name_is_taken_once_across_tenants(two_tenants):
    contoso, fabrikam, names = two_tenants
    answer = new_account(fabrikam, FABRIKAM, names["contoso"], "eastus")
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "StorageAccountAlreadyTaken")
    answer = new_account(contoso, CONTOSO, names["contoso"])  # its own PUT again: tags replaced
    assert answer.status_code == 200


def test_no_keys_on_the_local_backend(settings, tmp_path):
    settings.OBJECT_STORE, settings.REPLICATION_DIR = "local", tmp_path / "replication"
    store.cache_clear()
    call_command("seed_demo", verbosity=0)
    contoso = client_for("admin@contoso.com")
    assert new_account(contoso, CONTOSO, "locallsa1").status_code == 200
    for verb, body in (("/listKeys", None), ("/ListServiceSas", sas_body("/blob/locallsa1/locallsa1"))):
        answer = contoso.post(account_url(CONTOSO, "locallsa1", verb), body, format="json")
        assert (answer.status_code, answer.json()["error"]["code"]) == (409, "StorageKeysNotAvailable")
    store.cache_clear()
