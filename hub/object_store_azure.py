"""The Azure Blob Storage backend of hub/object_store.py (OBJECT_STORE=azure), through azure-storage-blob.

A name's first segment is the blob container and the rest is the blob's name, so a project's cache
storage account is one container (named as the account), which a user can open with Azure Storage
Explorer or the SDK. The tests and docker-compose run it against Azurite, Microsoft's emulator; the
connection string (AZURE_STORAGE_CONNECTION_STRING) points it at Azurite or at a real account alike.

Whole-object writes are atomic on the service itself: a Put Blob, or for a large object its staged
blocks and one Put Block List, replaces the blob at once, so readers see the old bytes or the new.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from hub.object_names import ObjectMissing, split_name

# A range that starts at or past a blob's end: Storage answers 416; the local backend reads b"".
RANGE_NOT_SATISFIABLE = 416


class AzureBlobStore:
    """Objects as block blobs in one storage account; containers are made on first write."""

    def __init__(self, connection_string: str):
        if not connection_string:
            raise ValueError(
                "OBJECT_STORE=azure needs AZURE_STORAGE_CONNECTION_STRING: a storage account's connection "
                "string (Azurite's for local runs: see README, 'Object storage')."
            )
        self.service = BlobServiceClient.from_connection_string(connection_string)

    @property
    def account_name(self) -> str:
        return self.service.account_name

    @property
    def blob_endpoint(self) -> str:
        """The account's blob endpoint, as the SDK takes it as `account_url`."""
        return self.service.url.rstrip("/")

    def account_key(self) -> str:
        """The shared key the connection string carries (what listKeys answers)."""
        return self.service.credential.account_key

    def _blob(self, name: str):
        container, blob = split_name(name)
        return self.service.get_blob_client(container, blob)

    def put(self, name: str, data: bytes | memoryview) -> None:
        client = self._blob(name)
        payload = bytes(data) if isinstance(data, memoryview) else data
        try:
            client.upload_blob(payload, overwrite=True)
        except ResourceNotFoundError:
            # The container's first object: make the container (racing writers both succeed), retry.
            with contextlib.suppress(ResourceExistsError):
                self.service.create_container(client.container_name)
            client.upload_blob(payload, overwrite=True)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        if length == 0:
            return b""
        try:
            # The SDK takes no length without an offset, and reads from the start given offset None.
            start = offset if length is not None else (offset or None)
            return self._blob(name).download_blob(offset=start, length=length).readall()
        except ResourceNotFoundError as missing:
            raise ObjectMissing(name) from missing
        except HttpResponseError as error:
            if error.status_code == RANGE_NOT_SATISFIABLE:
                self.size(name)  # a missing blob still raises ObjectMissing
                return b""
            raise

    def exists(self, name: str) -> bool:
        return self._blob(name).exists()

    def delete(self, name: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):  # deleting what is gone is not an error
            self._blob(name).delete_blob()

    def names(self, prefix: str) -> Iterator[str]:
        """Every object whose name starts with `prefix`, in name order within a container."""
        container, _, blob_prefix = prefix.partition("/")
        if "/" in prefix:
            containers = [container]
        else:
            containers = sorted(found.name for found in self.service.list_containers(name_starts_with=prefix))
        for name in containers:
            try:
                for blob in self.service.get_container_client(name).list_blobs(name_starts_with=blob_prefix or None):
                    yield f"{name}/{blob.name}"
            except ResourceNotFoundError:
                continue

    def size(self, name: str) -> int:
        try:
            return self._blob(name).get_blob_properties().size
        except ResourceNotFoundError as missing:
            raise ObjectMissing(name) from missing

    def ensure_container(self, container: str) -> None:
        split_name(f"{container}/-")
        with contextlib.suppress(ResourceExistsError):
            self.service.create_container(container)

    def containers(self, prefix: str = "") -> list[str]:
        return sorted(found.name for found in self.service.list_containers(name_starts_with=prefix or None))

    def delete_container(self, container: str) -> None:
        split_name(f"{container}/-")
        with contextlib.suppress(ResourceNotFoundError):
            self.service.delete_container(container)
