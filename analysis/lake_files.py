"""Which lake objects hold a date range, in either layout, and local copies of them for DuckDB.

Layout under the lake root (a directory, or a bucket and key prefix):
  <events_prefix>dt=YYYY-MM-DD/<sha256>.jsonl.gz    the batcher's gzip NDJSON (never rewritten)
  <parquet_prefix>dt=YYYY-MM-DD/events.parquet       compaction's output, one object per day

A day's Parquet object names, in its footer (key PARQUET_SOURCES_KEY), the NDJSON objects it was
built from. Readers take the Parquet object plus any NDJSON object of that day it does not name
(events that landed after compaction), so compaction never hides late events.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

NDJSON_SUFFIX = ".jsonl.gz"
PARQUET_NAME = "events.parquet"
PARQUET_SOURCES_KEY = "logdig.sources"


class LakeError(ValueError):
    """A lake URL, prefix or date range that cannot be used; the message names it."""


def dates(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def parquet_prefix_for(events_prefix: str) -> str:
    """`parquet/` beside the events prefix: events/ -> parquet/, site/events/ -> site/parquet/."""
    parent = posixpath.dirname(events_prefix.rstrip("/"))
    return f"{parent}/parquet/" if parent else "parquet/"


def uncovered(ndjson_names: list[str], covered: list[str]) -> list[str]:
    """The day's NDJSON objects a Parquet object built from `covered` does not hold yet."""
    done = set(covered)
    return [name for name in ndjson_names if name not in done]


@dataclass
class Day:
    """The objects to read for one dt: a Parquet key (or None) and the NDJSON keys it lacks."""

    dt: str
    parquet: str | None = None
    ndjson: list[str] = field(default_factory=list)


@dataclass
class LakeLocation:
    url: str
    events_prefix: str
    parquet_prefix: str
    local_root: Path | None = None  # set for file:// lakes
    bucket: str = ""
    key_root: str = ""  # S3 key prefix of the lake root, '' or ending in '/'
    s3: object = None  # boto3 client, built on first use

    @property
    def is_local(self) -> bool:
        return self.local_root is not None

    @staticmethod
    def day_prefix(prefix: str, dt: str) -> str:
        """A day folder's key relative to the lake root (S3 calls add key_root)."""
        return f"{prefix}dt={dt}/"

    def client(self):
        if self.s3 is None:
            from logdig import aws

            self.s3 = aws.client("s3", "us-east-1")
        return self.s3

    def names(self, prefix: str, dt: str, suffix: str) -> list[str]:
        """Object names (no folder) under one day folder that end in suffix, sorted."""
        if self.is_local:
            folder = self.local_root / self.day_prefix(prefix, dt)
            return sorted(p.name for p in folder.glob(f"*{suffix}") if not p.name.startswith("."))
        found = []
        pages = self.client().get_paginator("list_objects_v2")
        folder = self.key_root + self.day_prefix(prefix, dt)
        with self.s3_errors(f"list s3://{self.bucket}/{folder}"):
            for page in pages.paginate(Bucket=self.bucket, Prefix=folder):
                found += [c["Key"].rsplit("/", 1)[1] for c in page.get("Contents", [])]
        return sorted(n for n in found if n.endswith(suffix))

    def s3_errors(self, what: str):
        """AWS failures as one LakeError line naming the call and the object."""
        from logdig import aws

        return aws.translate(LakeError, f"S3 {what}")

    def fetch(self, key: str, workdir: Path) -> Path:
        """A local path holding the object at key (relative to the lake root; the file itself
        for a local lake, a downloaded copy under workdir for S3)."""
        if self.is_local:
            return self.local_root / key
        target = workdir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.s3_errors(f"get s3://{self.bucket}/{self.key_root}{key}"):
            self.client().download_file(self.bucket, self.key_root + key, str(target))
        return target


def _settings_defaults() -> tuple[str, str]:
    from config import load_settings

    settings = load_settings()
    url = f"s3://{settings.bucket}/" if settings.bucket else settings.lake_dir.resolve().as_uri()
    return url, settings.lake_prefix


def open_lake(url: str | None = None, events_prefix: str | None = None) -> LakeLocation:
    """A lake from `file:///dir`, a plain directory path or `s3://bucket/prefix`; the defaults
    come from config.load_settings() (local mode's data_dir/lake, or the configured bucket)."""
    if url is None or events_prefix is None:
        default_url, default_prefix = _settings_defaults()
        url = url or default_url
        events_prefix = events_prefix or default_prefix
    if not events_prefix.endswith("/") or events_prefix.startswith("/"):
        raise LakeError(f"events prefix {events_prefix!r} must be relative and end with '/'")
    parsed = urlparse(url)
    common = {"url": url, "events_prefix": events_prefix,
              "parquet_prefix": parquet_prefix_for(events_prefix)}
    if parsed.scheme in ("s3", "s3a"):
        if not parsed.netloc:
            raise LakeError(f"lake URL {url!r} names no bucket (s3://bucket/prefix)")
        root = parsed.path.lstrip("/")
        return LakeLocation(bucket=parsed.netloc, key_root=root.rstrip("/") + "/" if root else "",
                            **common)
    if parsed.scheme in ("file", ""):
        root = Path(unquote(parsed.path) if parsed.scheme else url)
        if not root.is_dir():
            raise LakeError(f"lake directory {str(root)!r} (from {url!r}) does not exist")
        return LakeLocation(local_root=root, **common)
    raise LakeError(f"lake URL {url!r} must be file:///path or s3://bucket/prefix")


def parquet_sources(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path).metadata or {}
    return json.loads(meta.get(PARQUET_SOURCES_KEY.encode(), b"[]"))


def plan(lake: LakeLocation, first: str, last: str, workdir: Path) -> list[Day]:
    """The objects holding dt first..last (only those partitions are listed or read); Parquet
    objects are fetched here already, since their footer decides which NDJSON is still needed."""
    days = []
    for dt in dates(first, last):
        ndjson = lake.names(lake.events_prefix, dt, NDJSON_SUFFIX)
        day = Day(dt, ndjson=[lake.day_prefix(lake.events_prefix, dt) + n for n in ndjson])
        if PARQUET_NAME in lake.names(lake.parquet_prefix, dt, ".parquet"):
            key = lake.day_prefix(lake.parquet_prefix, dt) + PARQUET_NAME
            day.parquet = str(lake.fetch(key, workdir))
            left = uncovered(ndjson, parquet_sources(Path(day.parquet)))
            day.ndjson = [lake.day_prefix(lake.events_prefix, dt) + n for n in left]
        if day.parquet or day.ndjson:
            days.append(day)
    return days


def local_files(lake: LakeLocation, days: list[Day], workdir: Path) -> tuple[list[str], list[str]]:
    """(parquet paths, NDJSON paths) on local disk for the planned days."""
    parquet = [d.parquet for d in days if d.parquet]
    keys = [key for day in days for key in day.ndjson]
    # S3 downloads overlap (network-bound); a local lake just maps keys to paths. The client is
    # built before the threads share it (building boto3 clients is not thread-safe).
    if not lake.is_local:
        lake.client()
    with ThreadPoolExecutor(max_workers=1 if lake.is_local else 8) as pool:
        ndjson = [str(path) for path in pool.map(lambda key: lake.fetch(key, workdir), keys)]
    return parquet, ndjson


def clear(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
