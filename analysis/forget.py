"""Erasure: remove every event of one visitor from the lake (`python -m analysis forget`).

Lake objects are immutable and named by the SHA-256 of their bytes, so a visitor is removed by
rewriting: each NDJSON object holding their events is written again without them (a new object,
under its new content name), and only then is the old one deleted. A crash in between leaves
both: the visitor is still there and the next run finishes the job; no other event is ever lost.
Parquet days are rewritten the same way (their footer's list of sources follows the renames), bad
records (bad/) that mention the visitor are deleted whole. On S3 every version of a deleted or
rewritten object is deleted too (versioning would otherwise keep the visitor for N days), also in
the replica bucket when the lake replicates (setup_aws.py --replicate-to).
The query store is a cache of the lake: its rows for the visitor are deleted (or, when it cannot
do that, the file is deleted and rebuilds on the next report).
"""

from __future__ import annotations

import gzip
import json
import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from analysis import duck
from analysis.lake_files import LakeLocation
from logdig.errors import LakeError
from logdig.lake import DirLake, S3Lake
from logdig.lake_layout import (
    NDJSON_SUFFIX,
    PARQUET_NAME,
    PARQUET_SOURCES_KEY,
    day_of_key,
    object_bytes,
    object_key,
)
from logdig.logs import emit

log = logging.getLogger("logdig.forget")
ROW_GROUP_ROWS = 122_880


@dataclass(frozen=True)
class Visitor:
    """Who to forget: a field of the event contract (user_key, or user_id) and its value."""

    column: str
    value: str  # as stored in the lake
    given: str = ""  # as the owner typed it, when the lake stores a hash of it

    @property
    def option(self) -> str:
        return f"--{self.column.replace('_', '-')} {(self.given or self.value)!r}"

    def matches(self, event: dict) -> bool:
        return event.get(self.column) == self.value


@dataclass
class Found:
    """What forget would change (a dry run stops here)."""

    ndjson: dict[str, int] = field(default_factory=dict)  # key -> the visitor's events in it
    parquet: dict[str, int] = field(default_factory=dict)  # key -> the visitor's rows in it
    bad: list[str] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(self.ndjson.values())

    @property
    def objects(self) -> int:
        return len(self.ndjson) + len(self.parquet) + len(self.bad)


@dataclass
class Result:
    events: int = 0
    parquet_rows: int = 0
    objects_rewritten: int = 0
    objects_deleted: int = 0
    bad_records_deleted: int = 0
    old_versions_deleted: int = 0
    store: str = "none"


def _lines(data: bytes) -> list[str]:
    return gzip.decompress(data).decode("utf-8").splitlines()


def _split(lines: list[str], visitor: Visitor) -> tuple[list[str], int]:
    """(the lines to keep, how many were the visitor's). Only lines that mention the value are
    parsed: a visitor's line always holds its value as JSON text."""
    needle = json.dumps(visitor.value)
    kept, dropped = [], 0
    for line in lines:
        if needle in line and visitor.matches(json.loads(line)):
            dropped += 1
        else:
            kept.append(line)
    return kept, dropped


def _parquet_column(con, path: str, column: str) -> bool:
    found = con.execute("SELECT name FROM parquet_schema(?)", [path]).fetchall()
    return any(name == column for (name,) in found)


def _quoted(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _parquet_rows(con, path: str, visitor: Visitor) -> int:
    if not _parquet_column(con, path, visitor.column):
        return 0  # written before the field existed: it cannot hold the visitor
    query = f'SELECT COUNT(*) FROM read_parquet({_quoted(path)}) WHERE "{visitor.column}" = ?'
    return con.execute(query, [visitor.value]).fetchone()[0]


def find(lake: LakeLocation, visitor: Visitor, bad_prefix: str, tick: Callable[[], None]) -> Found:
    """Every object holding the visitor's events; reads only."""
    found = Found()
    store = lake.lake
    for key in store.keys(lake.events_prefix):
        if key.endswith(NDJSON_SUFFIX):
            dropped = _split(_lines(store.get(key)), visitor)[1]
            if dropped:
                found.ndjson[key] = dropped
        tick()
    con = duck.connect()
    with tempfile.TemporaryDirectory(prefix="logdig-forget-") as tmp:
        for key in store.keys(lake.parquet_prefix):
            if key.endswith("/" + PARQUET_NAME):
                rows = _parquet_rows(con, str(store.fetch(key, Path(tmp))), visitor)
                if rows:
                    found.parquet[key] = rows
            tick()
    # A bad record keeps a message body that could not be read: it goes whole if the value is in it.
    for key in store.keys(bad_prefix):
        if visitor.value.encode() in store.get(key):
            found.bad.append(key)
        tick()
    return found


class Eraser:
    """Deleting lake objects, which the lake interface leaves out on purpose (the pipeline never
    deletes): a file, or on S3 every version of the key, in the lake and in its replica."""

    def __init__(self, lake: LakeLocation):
        self.lake = lake.lake
        self.buckets: list[tuple[Any, str]] = []
        if isinstance(self.lake, S3Lake):
            self.buckets = [(self.lake.s3, self.lake.bucket), *self._replica()]

    def _replica(self) -> list[tuple[Any, str]]:
        import boto3
        from botocore.exceptions import ClientError

        s3 = self.lake.s3
        try:
            rules = s3.get_bucket_replication(Bucket=self.lake.bucket)["ReplicationConfiguration"]["Rules"]
        except ClientError:
            return []  # no replication (or no right to read it): only the lake itself
        found = []
        for bucket in sorted({rule["Destination"]["Bucket"].rsplit(":", 1)[-1] for rule in rules}):
            region = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
            found.append((boto3.client("s3", region_name=region), bucket))
        return found

    def delete(self, key: str) -> int:
        """Delete key everywhere; returns how many stored versions went (files count one)."""
        if isinstance(self.lake, DirLake):
            self.lake.root.joinpath(key).unlink(missing_ok=True)
            return 1
        return sum(self._purge(s3, bucket, self.lake.root + key, keep_latest=False)
                   for s3, bucket in self.buckets)

    def old_versions(self, key: str) -> int:
        """Delete every version of key but the current one (after it was rewritten in place). In
        a replica every version goes: replication copies the new one later (asynchronously), so
        its newest version now may still be the old content."""
        if isinstance(self.lake, DirLake):
            return 0
        return sum(self._purge(s3, bucket, self.lake.root + key, keep_latest=n == 0)
                   for n, (s3, bucket) in enumerate(self.buckets))

    @staticmethod
    def _purge(s3, bucket: str, key: str, keep_latest: bool) -> int:
        doomed = []
        with _s3_errors(f"delete versions of s3://{bucket}/{key}"):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
                for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    if item["Key"] == key and not (keep_latest and item.get("IsLatest")):
                        doomed.append({"Key": key, "VersionId": item["VersionId"]})
            for start in range(0, len(doomed), 1000):
                reply = s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start:start + 1000]})
                if reply.get("Errors"):
                    raise LakeError(f"S3 could not delete {key} in {bucket}: {reply['Errors'][0]}")
        return len(doomed)


def _s3_errors(what: str):
    from logdig import aws

    return aws.translate(LakeError, f"S3 {what}")


def _rewrite_ndjson(lake: LakeLocation, eraser: Eraser, key: str, visitor: Visitor,
                    result: Result) -> tuple[str, str | None]:
    """(old name, new name or None when nothing is left): the new object first, then the old goes."""
    kept, dropped = _split(_lines(lake.lake.get(key)), visitor)
    new_key = None
    if kept:
        data = object_bytes(kept)
        new_key = object_key(lake.events_prefix, day_of_key(key), data)
        lake.lake.put(new_key, data)
        result.objects_rewritten += 1
    else:
        result.objects_deleted += 1
    result.old_versions_deleted += eraser.delete(key)
    result.events += dropped
    return key.rsplit("/", 1)[1], new_key and new_key.rsplit("/", 1)[1]


def _rewrite_parquet(lake: LakeLocation, eraser: Eraser, key: str, visitor: Visitor,
                     renamed: dict[str, str | None], result: Result) -> None:
    """The day's Parquet without the visitor; its footer names the renamed NDJSON sources."""
    con = duck.connect()
    with tempfile.TemporaryDirectory(prefix="logdig-forget-") as tmp:
        source = str(lake.lake.fetch(key, Path(tmp)))
        row = con.execute("SELECT value FROM parquet_kv_metadata(?) WHERE key = ?",
                          [source, PARQUET_SOURCES_KEY.encode()]).fetchone()
        sources = json.loads(row[0]) if row else []
        sources = [renamed.get(name, name) for name in sources]
        sources = sorted(name for name in sources if name)
        metadata = json.dumps(sources).replace("'", "''")
        built = lake.lake.build_path(key, Path(tmp))
        column = visitor.column
        try:
            con.execute(
                f"COPY (SELECT * FROM read_parquet({_quoted(source)}) "
                f'WHERE "{column}" IS DISTINCT FROM ? ORDER BY received_at, event_id) '
                f"TO {_quoted(built)} (FORMAT parquet, COMPRESSION zstd, "
                f"ROW_GROUP_SIZE {ROW_GROUP_ROWS}, KV_METADATA {{'{PARQUET_SOURCES_KEY}': '{metadata}'}})",
                [visitor.value],
            )
            lake.lake.publish(built, key)
        finally:
            built.unlink(missing_ok=True)
    result.objects_rewritten += 1
    result.old_versions_deleted += eraser.old_versions(key)


def apply(lake: LakeLocation, visitor: Visitor, found: Found, tick: Callable[[], None]) -> Result:
    result = Result()
    eraser = Eraser(lake)
    renamed: dict[str, str | None] = {}
    for key in sorted(found.ndjson):
        old, new = _rewrite_ndjson(lake, eraser, key, visitor, result)
        renamed[old] = new
        tick()
    for key, rows in sorted(found.parquet.items()):
        _rewrite_parquet(lake, eraser, key, visitor, renamed, result)
        result.parquet_rows += rows
        tick()
    for key in found.bad:
        result.old_versions_deleted += eraser.delete(key)
        result.bad_records_deleted += 1
        tick()
    return result


def forget_in_store(store_path: Path, visitor: Visitor) -> str:
    """The query store (a cache): the visitor's rows deleted; for a field the store does not
    keep (user_id), the file is deleted and the next report rebuilds it from the lake."""
    from analysis import store

    if visitor.column == "user_key":
        try:
            return f"{store_path}: {store.forget_user_key(store_path, visitor.value)} row(s) deleted"
        except store.StoreError as exc:  # e.g. a sync holds it: the lake is done, say what is left
            return f"{store_path} not changed ({exc}); delete it (it rebuilds) or run forget again"
    if store_path.exists():
        store_path.unlink()
        return f"{store_path} deleted (a cache: the next report rebuilds it)"
    return "none"


def progress(total: int, enabled: bool | None, what: str):
    """A tqdm bar on a terminal (enabled None: only when stderr is one)."""
    from tqdm import tqdm

    return tqdm(total=total, unit="obj", desc=what, disable=None if enabled is None else not enabled,
                leave=False)


def forget(lake: LakeLocation, visitor: Visitor, bad_prefix: str, store_path: Path,
           confirm: Callable[[Found], bool], show_progress: bool | None = None) -> Result | Found:
    """Find, confirm, apply. Returns the Found (nothing changed) when not confirmed."""
    listed = sum(len(lake.lake.keys(p)) for p in (lake.events_prefix, lake.parquet_prefix, bad_prefix))
    with progress(listed, show_progress, "scan") as bar:
        found = find(lake, visitor, bad_prefix, lambda: bar.update())
    if not found.objects:
        raise LakeError(f"{visitor.option} is not in the lake at {lake.url}: nothing was changed")
    if not confirm(found):
        return found
    with progress(found.objects, show_progress, "forget") as bar:
        result = apply(lake, visitor, found, lambda: bar.update())
    result.store = forget_in_store(store_path, visitor)
    emit(log, "forget", column=visitor.column, lake=lake.url, **asdict(result))
    return result


def summary_lines(found: Found) -> Iterable[str]:
    yield f"{found.events} event(s) in {len(found.ndjson)} NDJSON object(s)"
    yield f"{sum(found.parquet.values())} row(s) in {len(found.parquet)} Parquet day(s)"
    yield f"{len(found.bad)} bad record(s) mentioning the visitor"


# The `forget` subcommand of python -m analysis (registered by analysis/__main__.py).
def add_command(commands, lake_args: Callable) -> None:
    command = commands.add_parser("forget", help="erase one visitor's events from the lake (and the store)")
    who = command.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-key", help="the tracker's 20-character visitor key")
    who.add_argument("--user-id", help="the id given by logdig('identify', id) (hashed as the collector "
                     "does when LOGDIG_USER_ID_SECRET is set)")
    command.add_argument("--dry-run", action="store_true", help="count what would go, change nothing")
    command.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    command.add_argument("--store", type=Path, help="query store file (default LOGDIG_DATA_DIR/store.duckdb)")
    lake_args(command)


def run_command(args, open_lake: Callable[..., LakeLocation]) -> None:
    import sys

    from analysis import store
    from config import load_settings
    from logdig import logs

    logs.setup()  # the count removed is logged (JSON on stderr) as well as printed
    settings = load_settings()
    visitor = Visitor("user_key", args.user_key) if args.user_key else Visitor("user_id", args.user_id)
    if args.user_id and settings.user_id_secret:  # the collector stored the id's HMAC: match that
        from logdig.audience import hash_user_id

        visitor = Visitor("user_id", hash_user_id(args.user_id, settings.user_id_secret), args.user_id)
    if not visitor.value:
        raise LakeError(f"{visitor.option} is empty: name the visitor to forget")
    lake = open_lake(args.lake, args.events_prefix)
    store_path = args.store or store.default_path()

    def confirm(found: Found) -> bool:
        print(f"{visitor.option} in {lake.url}:")
        for line in summary_lines(found):
            print(f"  {line}")
        if args.dry_run:
            print("dry run: nothing was changed")
            return False
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise LakeError("forget needs --yes when not run from a terminal: nothing was changed")
        return input("Remove them for good? [y/N] ").strip().lower() in ("y", "yes")

    result = forget(lake, visitor, settings.bad_prefix, store_path, confirm)
    if isinstance(result, Found):
        if not args.dry_run:
            print("not confirmed: nothing was changed")
        return
    print(f"removed {result.events} event(s) of {visitor.option}: {result.objects_rewritten} object(s) "
          f"rewritten, {result.objects_deleted + result.bad_records_deleted} deleted, "
          f"{result.parquet_rows} Parquet row(s), {result.old_versions_deleted} stored version(s) deleted; "
          f"query store: {result.store}")
