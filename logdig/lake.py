"""The lake interface: an S3 bucket, or a directory in local mode. Keys are '/'-separated."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from logdig import aws
from logdig.errors import LakeUnavailable


class Lake(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store data under key, whole or not at all; raise LakeUnavailable on failure."""

    def keys(self, prefix: str = "") -> list[str]:
        """Every stored key that starts with prefix, sorted."""

    def get(self, key: str) -> bytes:
        """The bytes stored under key."""


def content_type(key: str) -> str:
    return "application/gzip" if key.endswith(".gz") else "application/json"


class S3Lake:
    def __init__(self, bucket: str, s3_client):
        self.bucket = bucket
        self.s3 = s3_client

    def put(self, key: str, data: bytes) -> None:
        with aws.translate(LakeUnavailable, f"S3 put s3://{self.bucket}/{key}"):
            # The bytes are the file itself (a .jsonl.gz, or a bad/ .json record), so no
            # Content-Encoding: with one, HTTP clients would unpack a .gz on the fly, or fail on a
            # plain .json said to be gzip.
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data,
                               ContentType=content_type(key))

    def keys(self, prefix: str = "") -> list[str]:
        found = []
        with aws.translate(LakeUnavailable, f"S3 list s3://{self.bucket}/{prefix}"):
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=prefix):
                found.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(found)

    def get(self, key: str) -> bytes:
        with aws.translate(LakeUnavailable, f"S3 get s3://{self.bucket}/{key}"):
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()


class DirLake:
    """A directory laid out like the bucket; writes are atomic (temp file, fsync, rename)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"lake key {key!r} leaves the lake directory")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise LakeUnavailable(f"write {path}: {exc}") from exc

    def keys(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        found = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(k for k in found if k.startswith(prefix) and "/.tmp-" not in k)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()


def make_lake(settings) -> Lake:
    if settings.local_lake:
        return DirLake(settings.lake_dir)
    return S3Lake(settings.bucket, aws.client("s3", settings.aws_region))
