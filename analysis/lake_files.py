"""Local files for DuckDB: which lake objects hold a date range (planned by logdig.lake_layout,
read through logdig.lake), fetched to local disk when the lake is S3."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from config import Settings, load_settings
from logdig.errors import LakeError
from logdig.lake import DirLake, Lake, configured_url, lake_at
from logdig.lake_layout import PARQUET_SOURCES_KEY, Day, dates, day_prefix, parquet_prefix_for, plan_days

__all__ = ["Day", "LakeError", "LakeLocation", "dates", "local_files", "open_lake", "plan"]


@dataclass
class LakeLocation:
    """A lake and the prefix of its events (the Parquet days live beside it)."""

    url: str
    events_prefix: str
    parquet_prefix: str
    lake: Lake

    @property
    def is_local(self) -> bool:
        return isinstance(self.lake, DirLake)

    @property
    def local_root(self) -> Path | None:
        return self.lake.root if self.is_local else None

    def names(self, prefix: str, dt: str, suffix: str) -> list[str]:
        """Object names (no folder) under one day folder that end in suffix, sorted."""
        return self.lake.names(day_prefix(prefix, dt), suffix)

    def fetch(self, key: str, workdir: Path) -> Path:
        return self.lake.fetch(key, workdir)


def open_lake(url: str | None = None, events_prefix: str | None = None,
              settings: Settings | None = None) -> LakeLocation:
    """A lake from `file:///dir`, a plain directory path or `s3://bucket/prefix`; the defaults
    come from the settings (local mode's data_dir/lake, or the configured bucket)."""
    settings = settings or load_settings()
    url = url or configured_url(settings)
    events_prefix = events_prefix or settings.lake_prefix
    if not events_prefix.endswith("/") or events_prefix.startswith("/"):
        raise LakeError(f"events prefix {events_prefix!r} must be relative and end with '/'")
    return LakeLocation(url, events_prefix, parquet_prefix_for(events_prefix),
                        lake_at(url, settings))


def parquet_sources(path: Path, con=None) -> list[str]:
    """The NDJSON object names a compacted day's footer lists ([] when it lists none). DuckDB reads
    the footer itself, so the compaction Lambda needs no pyarrow."""
    if con is None:
        from analysis import duck  # duck plans through this module: imported here, not at the top

        con = duck.connect()
    row = con.execute("SELECT value FROM parquet_kv_metadata(?) WHERE key = ?",
                      [str(path), PARQUET_SOURCES_KEY.encode()]).fetchone()
    return json.loads(row[0]) if row else []


class _FetchingListing:
    """Day planning's listing over a local or S3 lake: footers are read from fetched copies,
    kept so the planned Parquet objects are not fetched twice."""

    def __init__(self, lake: Lake, workdir: Path):
        self.lake = lake
        self.workdir = workdir
        self.fetched: dict[str, Path] = {}

    def names(self, folder: str, suffix: str) -> list[str]:
        return self.lake.names(folder, suffix)

    def parquet_sources(self, key: str) -> list[str]:
        self.fetched[key] = self.lake.fetch(key, self.workdir)
        return parquet_sources(self.fetched[key])


def plan(lake: LakeLocation, first: str, last: str, workdir: Path) -> list[Day]:
    """The objects holding dt first..last: Parquet days as local paths (already fetched, since
    their footer decides which NDJSON is still needed), NDJSON as keys."""
    listing = _FetchingListing(lake.lake, workdir)
    days = plan_days(listing, lake.events_prefix, first, last)
    for day in days:
        if day.parquet:
            day.parquet = str(listing.fetched[day.parquet])
    return days


def local_files(lake: LakeLocation, days: list[Day], workdir: Path) -> tuple[list[str], list[str]]:
    """(parquet paths, NDJSON paths) on local disk for the planned days."""
    parquet = [d.parquet for d in days if d.parquet]
    keys = [key for day in days for key in day.ndjson]
    # S3 downloads overlap (network-bound); a local lake just maps keys to paths. The S3 client
    # was built with the lake, before the threads share it (building one is not thread-safe).
    with ThreadPoolExecutor(max_workers=1 if lake.is_local else 8) as pool:
        ndjson = [str(path) for path in pool.map(lambda key: lake.fetch(key, workdir), keys)]
    return parquet, ndjson
