"""Objects in S3: the 1C inbox, planner state and stored plans."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.storage.errors import StorageError


class BlobStore(Protocol):
    def get_json(self, key: str) -> object | None: ...

    def read_bytes(self, key: str) -> bytes: ...

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None: ...

    def put_json(self, key: str, value: object) -> None: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def download(self, key: str, target: Path) -> None: ...

    def upload(self, source: Path, key: str) -> None: ...


class S3BlobStore:
    """One bucket. JSON objects are stored gzip-compressed; a missing key reads as None."""

    def __init__(self, client, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def get_json(self, key: str) -> object | None:
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._error("GetObject", key, error) from error
        except BotoCoreError as error:
            raise self._error("GetObject", key, error) from error
        return json.loads(gzip.decompress(body))

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise self._error("GetObject", key, error) from error

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        self._call("PutObject", key, lambda: self._client.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type))

    def put_json(self, key: str, value: object) -> None:
        body = gzip.compress(json.dumps(value, separators=(",", ":")).encode(), compresslevel=5)
        self._call("PutObject", key, lambda: self._client.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", ContentEncoding="gzip"))

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as error:
            raise self._error("ListObjectsV2", prefix, error) from error
        return keys

    def download(self, key: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self._call("GetObject", key, lambda: self._client.download_file(self.bucket, key, str(target)))

    def upload(self, source: Path, key: str) -> None:
        self._call("PutObject", key, lambda: self._client.upload_file(str(source), self.bucket, key))

    def _call(self, operation: str, key: str, call) -> None:
        try:
            call()
        except (ClientError, BotoCoreError) as error:
            raise self._error(operation, key, error) from error

    def _error(self, operation: str, key: str, error: Exception) -> StorageError:
        return StorageError(f"s3://{self.bucket}/{key}", operation, str(error),
                            "Check the bucket exists and the role may use it.")


class InMemoryBlobStore:
    """Objects in a dict, for unit tests."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def get_json(self, key: str) -> object | None:
        return json.loads(self.objects[key]) if key in self.objects else None

    def read_bytes(self, key: str) -> bytes:
        return self.objects[key]

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.objects[key] = body

    def put_json(self, key: str, value: object) -> None:
        self.objects[key] = json.dumps(value).encode()

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))

    def download(self, key: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.objects[key])

    def upload(self, source: Path, key: str) -> None:
        self.objects[key] = source.read_bytes()
