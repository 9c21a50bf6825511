"""Compaction: one day's NDJSON objects rewritten as one Parquet object, deduplicated and sorted.

Atomic per day because a day is exactly one object: locally it is written under a temporary
name in the day folder and renamed over the old one (rename is atomic on POSIX); on S3 it is one
PUT (or one multipart upload, which also appears only when complete). Readers therefore see the
old day or the new day, never half of one. The NDJSON objects stay: they remain the source of
truth (the Athena JSON table reads them), and the Parquet footer names the objects it holds, so
events that land after compaction are still read from NDJSON until the next compaction.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from analysis import duck
from analysis.lake_files import LakeLocation
from logdig.errors import LakeError
from logdig.lake_layout import NDJSON_SUFFIX, PARQUET_SOURCES_KEY, day_prefix, parquet_key
from logdig.lake_schema import COLUMNS

ROW_GROUP_ROWS = 122_880


def _copy_sql(ndjson: list[str], target: Path, sources: list[str]) -> str:
    columns = ", ".join(f'"{name}"' for name, _ in COLUMNS)
    metadata = json.dumps(sources).replace("'", "''")
    # Sorted by received_at so row-group min/max statistics let time filters skip row groups.
    return (
        f"COPY (SELECT {columns} FROM {duck.read_ndjson(ndjson, hive=False)} "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY received_at) = 1 "
        f"ORDER BY received_at, event_id) TO '{str(target).replace(chr(39), chr(39) * 2)}' "
        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS}, "
        f"KV_METADATA {{'{PARQUET_SOURCES_KEY}': '{metadata}'}})"
    )


def compact_day(lake: LakeLocation, dt: str, con=None) -> dict:
    """Rewrite dt's NDJSON as <parquet_prefix>dt=<dt>/events.parquet; returns a summary."""
    names = lake.names(lake.events_prefix, dt, NDJSON_SUFFIX)
    if not names:
        raise LakeError(f"no NDJSON objects for dt={dt} under {lake.url}")
    key = parquet_key(lake.parquet_prefix, dt)
    con = con or duck.connect()
    with tempfile.TemporaryDirectory(prefix="logdig-compact-") as tmp:
        workdir = Path(tmp)
        ndjson = [str(lake.fetch(day_prefix(lake.events_prefix, dt) + n, workdir)) for n in names]
        built = lake.lake.build_path(key, workdir)
        try:
            con.execute(_copy_sql(ndjson, built, names))
            rows = con.execute(f"SELECT COUNT(*) FROM read_parquet('{built}')").fetchone()[0]
            size = built.stat().st_size
            lake.lake.publish(built, key)
        finally:
            built.unlink(missing_ok=True)
    return {"dt": dt, "key": key, "sources": len(names), "events": rows, "bytes": size}
