"""The lake interface: an S3 bucket (under an optional key root), or a directory in local mode.

Keys are '/'-separated and relative to the lake root; their layout is logdig.lake_layout's. The
batcher writes through put(); compaction and the report engines list day folders, fetch objects
to local files and publish built files through the same objects. Every failure is a LakeError.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import unquote, urlparse

from config import Settings
from logdig import aws
from logdig.errors import LakeError

CONTENT_TYPES = {".gz": "application/gzip", ".parquet": "application/vnd.apache.parquet"}


class Lake(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None:
        """Store data under key, whole or not at all; raise LakeError on failure."""

    def keys(self, prefix: str = "") -> list[str]:
        """Every stored key that starts with prefix, sorted."""

    def get(self, key: str) -> bytes:
        """The bytes stored under key."""

    def names(self, folder: str, suffix: str) -> list[str]:
        """Names (no folder) of the objects directly in folder ending in suffix, sorted."""

    def folders(self, prefix: str) -> list[str]:
        """Names of the folders directly under prefix (one listing call), sorted."""

    def fetch(self, key: str, workdir: Path) -> Path:
        """A local file holding the object at key (the file itself, or a copy under workdir)."""

    def build_path(self, key: str, workdir: Path) -> Path:
        """Where to build a file that publish() will store under key."""

    def publish(self, built: Path, key: str) -> None:
        """Store the file `built` under key atomically: readers see the old object or the new."""


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(Path(key).suffix, "application/json")


class S3Lake:
    def __init__(self, bucket: str, s3_client, root: str = ""):
        self.bucket = bucket
        self.s3 = s3_client
        self.root = root  # key prefix of the lake root: '' or ending in '/'
        self.url = f"s3://{bucket}/{root}"

    def _errors(self, call: str, key: str):
        return aws.translate(LakeError, f"S3 {call} s3://{self.bucket}/{self.root}{key}")

    def put(self, key: str, data: bytes) -> None:
        with self._errors("put", key):
            # The bytes are the file itself (a .jsonl.gz, or a bad/ .json record), so no
            # Content-Encoding: with one, HTTP clients would unpack a .gz on the fly, or fail on a
            # plain .json said to be gzip.
            self.s3.put_object(Bucket=self.bucket, Key=self.root + key, Body=data,
                               ContentType=content_type(key))

    def keys(self, prefix: str = "") -> list[str]:
        found = []
        with self._errors("list", prefix):
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=self.root + prefix):
                found.extend(item["Key"][len(self.root):] for item in page.get("Contents", []))
        return sorted(found)

    def get(self, key: str) -> bytes:
        with self._errors("get", key):
            return self.s3.get_object(Bucket=self.bucket, Key=self.root + key)["Body"].read()

    def names(self, folder: str, suffix: str) -> list[str]:
        names = (key[len(folder):] for key in self.keys(folder))
        return sorted(name for name in names if "/" not in name and name.endswith(suffix))

    def folders(self, prefix: str) -> list[str]:
        found = []
        with self._errors("list", prefix):
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=self.root + prefix, Delimiter="/"):
                found += [p["Prefix"][len(self.root + prefix):].rstrip("/")
                          for p in page.get("CommonPrefixes", [])]
        return sorted(found)

    def fetch(self, key: str, workdir: Path) -> Path:
        target = workdir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._errors("get", key):
            self.s3.download_file(self.bucket, self.root + key, str(target))
        return target

    def build_path(self, key: str, workdir: Path) -> Path:
        return workdir / Path(key).name

    def publish(self, built: Path, key: str) -> None:
        # One PUT (or a multipart upload, which also appears only when complete).
        with self._errors("put", key):
            self.s3.upload_file(str(built), self.bucket, self.root + key,
                                ExtraArgs={"ContentType": content_type(key)})


class DirLake:
    """A directory laid out like the bucket; writes are atomic (temp file, fsync, rename)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.url = self.root.resolve().as_uri()

    def _path(self, key: str) -> Path:
        # Checked by the key's own parts, not by resolving: a symlink inside the lake (a day
        # folder on another disk, the dashboard's overlay of the lake plus queued events) is the
        # operator's choice, while an absolute key or a `..` part would leave the lake.
        parts = PurePosixPath(key).parts
        if key.startswith("/") or ".." in parts or "\\" in key:
            raise LakeError(f"lake key {key!r} leaves the lake directory")
        return self.root / key

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
            raise LakeError(f"write {path}: {exc}") from exc

    def keys(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        found = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(k for k in found if k.startswith(prefix) and "/.tmp-" not in k)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def names(self, folder: str, suffix: str) -> list[str]:
        # A leading dot marks a file being written (ours, Spark's, Hive's): never listed.
        found = self._path(folder).glob(f"*{suffix}")
        return sorted(p.name for p in found if not p.name.startswith("."))

    def folders(self, prefix: str) -> list[str]:
        folder = self._path(prefix)
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def fetch(self, key: str, workdir: Path) -> Path:
        return self._path(key)

    def build_path(self, key: str, workdir: Path) -> Path:
        # Built in the target folder itself, so publish()'s rename never crosses file systems;
        # the leading dot keeps every reader from listing it.
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.with_name(f".tmp-{os.getpid()}-{path.name}")

    def publish(self, built: Path, key: str) -> None:
        os.replace(built, self._path(key))  # atomic on POSIX


def make_lake(settings: Settings) -> Lake:
    """The configured lake: the bucket when LOGDIG_BUCKET is set, else local mode's directory."""
    if settings.local_lake:
        return DirLake(settings.lake_dir)
    return S3Lake(settings.bucket, aws.client("s3", settings.aws_region))


def lake_at(url: str, settings: Settings) -> Lake:
    """A lake from `file:///dir`, a plain directory path or `s3://bucket/prefix`."""
    parsed = urlparse(url)
    if parsed.scheme in ("s3", "s3a"):
        if not parsed.netloc:
            raise LakeError(f"lake URL {url!r} names no bucket (s3://bucket/prefix)")
        root = parsed.path.strip("/")
        return S3Lake(parsed.netloc, aws.client("s3", settings.aws_region),
                      root + "/" if root else "")
    if parsed.scheme in ("file", ""):
        root = Path(unquote(parsed.path) if parsed.scheme else url)
        if not root.is_dir():
            raise LakeError(f"lake directory {str(root)!r} (from {url!r}) does not exist")
        return DirLake(root)
    raise LakeError(f"lake URL {url!r} must be file:///path or s3://bucket/prefix")


def configured_url(settings: Settings) -> str:
    return f"s3://{settings.bucket}/" if settings.bucket else settings.lake_dir.resolve().as_uri()
