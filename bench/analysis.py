"""Bench: the reports on gzip NDJSON versus compacted Parquet, on one generated lake.

    .venv/bin/python bench/analysis.py                  # 10 million events (the target)
    .venv/bin/python bench/analysis.py --events 2000000 --days 7

Prints lake bytes per event for each layout and seconds per report on each, with the ratio
Parquet / NDJSON measured in the same run (so the machine's speed cancels out).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import compact, duck, lake_files, reports  # noqa: E402
from logdig.lake_layout import listed_days  # noqa: E402
from tests.lakegen import generate  # noqa: E402

START = "2026-11-01"
EXTRA = {"traffic": {"bucket": "5min"},
         "heatmap": {"page": "https://shop.example.com/cart", "columns": 20, "row_px": 100},
         "funnel": {"steps": "/products,/cart,conversion"}}


def _bytes(root: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in root.glob(pattern))


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="logdig-bench-"))
    ndjson_root, parquet_root = work / "ndjson", work / "parquet"
    try:
        took, made = _timed(lambda: generate(ndjson_root, events=args.events, start=START,
                                             days=args.days))
        print(f"generated {made['events']:,} events ({made['lines']:,} deliveries, "
              f"{made['objects']} objects) in {took:.1f} s")
        shutil.copytree(ndjson_root, parquet_root)
        lake_nd = lake_files.open_lake(ndjson_root.as_uri(), "events/")
        lake_pq = lake_files.open_lake(parquet_root.as_uri(), "events/")
        days = listed_days(lake_nd.lake, lake_nd.events_prefix)
        took, _ = _timed(lambda: [compact.compact_day(lake_pq, dt) for dt in days])
        print(f"compacted {len(days)} days in {took:.1f} s")
        nd_bytes = _bytes(ndjson_root, "events/dt=*/*.jsonl.gz")
        pq_bytes = _bytes(parquet_root, "parquet/dt=*/events.parquet")
        per = made["lines"]
        print(f"bytes per event: gzip NDJSON {nd_bytes / per:.1f}, Parquet {pq_bytes / per:.1f}, "
              f"ratio Parquet/NDJSON {pq_bytes / nd_bytes:.3f}")
        last = days[-1]
        print(f"{'report':<12} {'NDJSON s':>9} {'Parquet s':>9} {'ratio':>7}   rows")
        for name in reports.REPORTS:
            opts = reports.options(name, {"from": days[0], "to": last, **EXTRA.get(name, {})})
            nd_s, nd_rows = _timed(lambda opts=opts, name=name: duck.run(name, opts, lake_nd))
            pq_s, pq_rows = _timed(lambda opts=opts, name=name: duck.run(name, opts, lake_pq))
            same = "same" if len(nd_rows[1]) == len(pq_rows[1]) else "DIFFERENT"
            print(f"{name:<12} {nd_s:9.2f} {pq_s:9.2f} {pq_s / nd_s:7.3f}   "
                  f"{len(nd_rows[1])} ({same})")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
