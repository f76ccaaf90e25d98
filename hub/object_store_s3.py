"""The S3 backend of hub/object_store.py (OBJECT_STORE=s3), through boto3, for teams that self-host an
S3-compatible object store (SeaweedFS, Ceph RGW, Garage). A name's container is a bucket, made on
first write; the rest of the name is the object's key. The tests run it against moto's standalone
server.

A PUT of an object replaces it whole on every S3 implementation, so writes are atomic, as the
interface requires (objects here are at most a batch's 24 MiB, one request each)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from hub.object_names import ObjectMissing, split_name

MISSING = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Store:
    def __init__(self, endpoint_url: str, access_key_id: str, secret_access_key: str, region: str = "us-east-1"):
        if not endpoint_url:
            raise ValueError("OBJECT_STORE=s3 needs S3_ENDPOINT_URL (and S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY).")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region or "us-east-1",
            # Path-style URLs: self-hosted stores rarely have a DNS name per bucket.
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
        )

    def put(self, name: str, data: bytes | memoryview) -> None:
        bucket, key = split_name(name)
        payload = bytes(data) if isinstance(data, memoryview) else data
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=payload)
        except ClientError as error:
            if _code(error) != "NoSuchBucket":
                raise
            self.ensure_container(bucket)
            self.client.put_object(Bucket=bucket, Key=key, Body=payload)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        bucket, key = split_name(name)
        if length == 0:
            return b""
        extra = {}
        if offset or length is not None:
            extra["Range"] = f"bytes={offset}-" + ("" if length is None else str(offset + length - 1))
        try:
            return self.client.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
        except ClientError as error:
            if _code(error) in MISSING:
                raise ObjectMissing(name) from error
            if _code(error) == "InvalidRange":
                self.size(name)  # a missing object still raises ObjectMissing
                return b""
            raise

    def exists(self, name: str) -> bool:
        try:
            self.size(name)
        except ObjectMissing:
            return False
        return True

    def delete(self, name: str) -> None:
        bucket, key = split_name(name)
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _code(error) not in MISSING:
                raise

    def names(self, prefix: str) -> Iterator[str]:
        bucket, _, key_prefix = prefix.partition("/")
        buckets = [bucket] if "/" in prefix else self.containers(prefix)
        for name in buckets:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=key_prefix)
            try:
                for page in pages:
                    for found in page.get("Contents", []):
                        yield f"{name}/{found['Key']}"
            except ClientError as error:
                if _code(error) not in MISSING:
                    raise

    def size(self, name: str) -> int:
        bucket, key = split_name(name)
        try:
            return self.client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except ClientError as error:
            if _code(error) in MISSING:
                raise ObjectMissing(name) from error
            raise

    def ensure_container(self, container: str) -> None:
        split_name(f"{container}/-")
        try:
            self.client.create_bucket(Bucket=container)
        except ClientError as error:
            if _code(error) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise

    def containers(self, prefix: str = "") -> list[str]:
        return sorted(b["Name"] for b in self.client.list_buckets().get("Buckets", []) if b["Name"].startswith(prefix))

    def delete_container(self, container: str) -> None:
        """The bucket and every object in it (S3 deletes only empty buckets)."""
        split_name(f"{container}/-")
        for name in list(self.names(f"{container}/")):
            self.delete(name)
        try:
            self.client.delete_bucket(Bucket=container)
        except ClientError as error:
            if _code(error) not in MISSING:
                raise
