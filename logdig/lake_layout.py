"""The lake's layout, the one place that spells its keys and decides which objects make up a day.

  <events_prefix>dt=YYYY-MM-DD/<sha256 of the object's bytes>.jsonl.gz   the batcher's gzip NDJSON
  <parquet_prefix>dt=YYYY-MM-DD/events.parquet                         compaction's day (optional)
  <bad_prefix>dt=YYYY-MM-DD/<sha256>.json                              messages that cannot be read

Objects are gzip NDJSON with a zero gzip timestamp, so the same lines always give the same bytes
and therefore the same key: a drain that is retried after a crash overwrites, never forks.

A day's Parquet object names, in its footer (key PARQUET_SOURCES_KEY), the NDJSON objects it was
built from. Readers take the Parquet object plus any NDJSON object of that day it does not name
(events that landed after compaction), so compaction never hides late events.
"""

from __future__ import annotations

import gzip
import hashlib
import posixpath
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from logdig.events import received_date

NDJSON_SUFFIX = ".jsonl.gz"
BAD_SUFFIX = ".json"
PARQUET_NAME = "events.parquet"
PARQUET_SOURCES_KEY = "logdig.sources"


def day_prefix(prefix: str, dt: str) -> str:
    """The folder of one day under prefix: `events/` + `2026-11-23` -> `events/dt=2026-11-23/`."""
    return f"{prefix}dt={dt}/"


def day_of_folder(name: str) -> str | None:
    """The dt a day folder's name stands for (`dt=2026-11-23` -> `2026-11-23`), else None."""
    return name[3:] if name.startswith("dt=") else None


def day_of_key(key: str) -> str:
    """The dt of an object key (the name of the folder holding it)."""
    return day_of_folder(key.rsplit("/", 2)[-2]) or ""


def listed_days(lake, prefix: str) -> list[str]:
    """Every dt with a folder under prefix, sorted (one listing of `lake`, a logdig.lake.Lake)."""
    return [dt for dt in map(day_of_folder, lake.folders(prefix)) if dt]


def content_key(prefix: str, dt: str, data: bytes, suffix: str) -> str:
    return f"{day_prefix(prefix, dt)}{hashlib.sha256(data).hexdigest()}{suffix}"


def object_key(prefix: str, dt: str, data: bytes) -> str:
    return content_key(prefix, dt, data, NDJSON_SUFFIX)


def parquet_prefix_for(events_prefix: str) -> str:
    """`parquet/` beside the events prefix: events/ -> parquet/, site/events/ -> site/parquet/."""
    parent = posixpath.dirname(events_prefix.rstrip("/"))
    return f"{parent}/parquet/" if parent else "parquet/"


def parquet_key(parquet_prefix: str, dt: str) -> str:
    return day_prefix(parquet_prefix, dt) + PARQUET_NAME


def utc_day(seconds: float) -> str:
    """The dt of a POSIX time (bad/ records are filed by the time they were set aside)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def dates(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def object_bytes(lines: Iterable[str]) -> bytes:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0)


def dated(pairs: Iterable[tuple[str, dict]]) -> list[tuple[str, str, dict]]:
    """(UTC date of received_at, line, event) for each (line, event); ValueError if one lacks it."""
    return [(received_date(event), line, event) for line, event in pairs]


def group_by_date(triples: Iterable[tuple[str, str, dict]]) -> dict[str, list[str]]:
    """Lines of dated() triples grouped by their date, in order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for dt, line, _ in triples:
        groups[dt].append(line)
    return dict(groups)


def split_by_size(lines: list[str], max_bytes: int) -> list[list[str]]:
    """Consecutive runs of lines of at most max_bytes uncompressed each (a line alone may exceed)."""
    runs: list[list[str]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > max_bytes:
            runs.append(current)
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        runs.append(current)
    return runs


class Listing(Protocol):
    """What day planning needs from a lake: a lake (logdig.lake) or Spark's Hadoop adapter."""

    def names(self, folder: str, suffix: str) -> list[str]:
        """Names (no folder) of the objects directly in folder ending in suffix, sorted."""

    def parquet_sources(self, key: str) -> list[str]:
        """The NDJSON object names listed in the footer of the Parquet object at key."""


@dataclass
class Day:
    """The objects to read for one dt: a Parquet key (or None) and the NDJSON keys it lacks."""

    dt: str
    parquet: str | None = None
    ndjson: list[str] = field(default_factory=list)


def uncovered(ndjson_names: list[str], covered: list[str]) -> list[str]:
    """The day's NDJSON objects a Parquet object built from `covered` does not hold yet."""
    done = set(covered)
    return [name for name in ndjson_names if name not in done]


def plan_day(listing: Listing, events_prefix: str, dt: str) -> Day:
    parquet_prefix = parquet_prefix_for(events_prefix)
    names = listing.names(day_prefix(events_prefix, dt), NDJSON_SUFFIX)
    day = Day(dt)
    if PARQUET_NAME in listing.names(day_prefix(parquet_prefix, dt), ".parquet"):
        day.parquet = parquet_key(parquet_prefix, dt)
        names = uncovered(names, listing.parquet_sources(day.parquet))
    day.ndjson = [day_prefix(events_prefix, dt) + name for name in names]
    return day


def plan_days(listing: Listing, events_prefix: str, first: str, last: str) -> list[Day]:
    """The objects holding dt first..last, with keys relative to the lake root; only those day
    folders are listed, and days with nothing in them are left out."""
    days = [plan_day(listing, events_prefix, dt) for dt in dates(first, last)]
    return [day for day in days if day.parquet or day.ndjson]
