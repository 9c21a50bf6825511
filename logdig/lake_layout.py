"""The lake's key layout: <prefix>dt=YYYY-MM-DD/<sha256 of the object's bytes>.jsonl.gz.

Objects are gzip NDJSON with a zero gzip timestamp, so the same lines always give the same bytes
and therefore the same key: a drain that is retried after a crash overwrites, never forks.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import defaultdict
from collections.abc import Iterable

from logdig.events import received_date


def object_bytes(lines: Iterable[str]) -> bytes:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0)


def object_key(prefix: str, date: str, data: bytes) -> str:
    return f"{prefix}dt={date}/{hashlib.sha256(data).hexdigest()}.jsonl.gz"


def dated(pairs: Iterable[tuple[str, dict]]) -> list[tuple[str, str, dict]]:
    """(UTC date of received_at, line, event) for each pair; ValueError if one lacks it."""
    return [(received_date(event), line, event) for line, event in pairs]


def group_dated(triples: Iterable[tuple[str, str, dict]]) -> dict[str, list[str]]:
    """Lines grouped by their date, in order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for date, line, _ in triples:
        groups[date].append(line)
    return dict(groups)


def group_by_date(pairs: Iterable[tuple[str, dict]]) -> dict[str, list[str]]:
    """Lines grouped by the UTC date of each event's received_at; ValueError if one lacks it."""
    return group_dated(dated(pairs))


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
