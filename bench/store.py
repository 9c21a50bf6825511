"""Bench: every report from the query store versus the lake directly (Parquet), in one run.

    .venv/bin/python bench/traffic.py --lake /work/benchdata/lake10m --events 10000000 --days 30 --compact
    .venv/bin/python bench/store.py --lake /work/benchdata/lake10m --store /work/benchdata/store.duckdb

On a lake shaped like real traffic (bench/traffic.py), measures: a full build of the store from
scratch (and its peak RSS); store size against the Parquet and NDJSON lake; each report over the
whole lake and over one day from the store (each run includes the check for new objects) and
from the compacted lake directly, repeated, with the ratio lake/store; peak RSS of a process
answering every report from the store; and the sync of new ~10,000-event objects. Builds and
queries run in child processes so that each peak RSS is its own. The objects added for the sync
measurement are removed afterwards, and the store with them.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import duck, lake_files, reports, store  # noqa: E402
from bench import traffic  # noqa: E402
from logdig.lake_layout import listed_days  # noqa: E402

EXTRA = {
    "traffic": {"bucket": "hour"},
    "heatmap": {"page": "https://shop.example.com/"},
    "elements": {"page": "https://shop.example.com/"},
    "funnel": {"steps": "/,/products/item-1,click"},
}


def cases(first: str, last: str) -> dict[str, dict]:
    return {name: {"from": first, "to": last, **EXTRA.get(name, {})} for name in reports.REPORTS}


def _child(args: list[str]) -> dict:
    """Run this script's --child mode in a fresh process; its JSON answer plus peak RSS."""
    # The child's progress lines (stderr) pass through, so a cut-short run still shows them.
    out = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def built_events(path: Path) -> int:
    con = store.connect(path, read_only=True)
    try:
        return con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        con.close()


def child_build(lake_url: str, path: str) -> dict:
    lake = lake_files.open_lake(lake_url, "events/")
    started = time.perf_counter()
    summary = store.sync(lake, path, progress=False)
    return {"seconds": time.perf_counter() - started, "events": summary.events,
            "objects": summary.objects, "peak_mib": _peak_mib()}


def child_queries(lake_url: str, path: str, first: str, last: str, day: str, repeats: int,
                  mode: str) -> dict:
    """Seconds per run of each report (whole range and one day). mode: "store" (each report
    opens the store, as a CLI run does), "warm" (the store held open meanwhile, as the dashboard
    holds it while a page's reports run: each report finds the blocks the others read) or
    "direct" (lake-direct Parquet)."""
    lake = lake_files.open_lake(lake_url, "events/")
    held = store.connect(Path(path), read_only=True) if mode == "warm" else None
    times: dict[str, list[float]] = {}
    rows: dict[str, int] = {}
    for label, (a, b) in (("range", (first, last)), ("day", (day, day)))[: 2 if day else 1]:
        for name, raw in cases(a, b).items():
            opts = reports.options(name, raw)
            key = f"{label}:{name}"
            times[key] = []
            for _ in range(repeats):
                started = time.perf_counter()
                result = (duck.run(name, opts, lake) if mode == "direct"
                          else store.run(name, opts, lake, path))
                times[key].append(time.perf_counter() - started)
            rows[key] = len(result[1])
            print(f"  {mode} {key}: "
                  + " ".join(f"{t:.3f}" for t in times[key]), file=sys.stderr, flush=True)
    if held is not None:
        held.close()
    return {"times": times, "rows": rows, "peak_mib": _peak_mib()}


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def arriving_objects(work: Path, day: str, events: int) -> list[Path]:
    """A day of traffic of the lake's visitors (same seed) after its last day, in the batcher's
    ~10,000-event objects, in the order they arrive: each holds the latest ~45 minutes."""
    shutil.rmtree(work, ignore_errors=True)
    traffic.generate(work, events=events, days=1, start=day, seed=1, object_events=10_000,
                     run="arriving")

    def first_arrival(path: Path) -> str:
        with gzip.open(path, "rt") as lines:
            return min(json.loads(line)["received_at"] for line in lines)

    return sorted(work.rglob("*.jsonl.gz"), key=first_arrival)


def sync_new_objects(lake, path: Path, day: str, count: int, per_day: int
                     ) -> tuple[list[float], float]:
    """Seconds to sync each of `count` new objects as they arrive, one after the other, and
    then a sync that finds nothing new (it merges their row groups)."""
    took, added = [], []
    work = path.parent / "bench-new-objects"
    try:
        for n, new in enumerate(arriving_objects(work, day, per_day)[:count]):
            target = lake.local_root / "events" / new.parent.name / new.name
            target.parent.mkdir(parents=True, exist_ok=True)
            new.replace(target)
            added.append(target)
            started = time.perf_counter()
            summary = store.sync(lake, path, progress=False)
            took.append(time.perf_counter() - started)
            print(f"  new object {n + 1}: {summary.events:,} events in {took[-1]:.3f} s")
        started = time.perf_counter()
        merged = store.sync(lake, path, progress=False).merged
        idle = time.perf_counter() - started
        print(f"  then nothing new: {idle:.3f} s ({'merged' if merged else 'no'} row groups)")
    finally:
        for target in added:
            target.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                target.parent.rmdir()  # the new day's folder, once empty
        shutil.rmtree(work, ignore_errors=True)
    return took, idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, default=Path("/work/benchdata/lake10m"))
    parser.add_argument("--store", type=Path, default=Path("/work/benchdata/store.duckdb"))
    parser.add_argument("--repeats", type=int, default=5, help="runs of each store report")
    parser.add_argument("--direct-repeats", type=int, default=2,
                        help="runs of each lake-direct report (slow)")
    parser.add_argument("--new-objects", type=int, default=16,
                        help="new objects synced one after the other, as they arrive the day "
                             "after the lake's last")
    parser.add_argument("--reuse-store", action="store_true",
                        help="keep a store built by an earlier run (no build measured)")
    parser.add_argument("--no-day", action="store_true", help="skip the one-day range")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        answer = child_build(*rest) if kind == "build" else child_queries(
            *rest[:5], int(rest[5]), rest[6])
        print(json.dumps(answer))
        return
    if not (args.lake / "parquet").is_dir():
        parser.error(f"--lake {args.lake} has no parquet/ days: generate it with bench/traffic.py "
                     "--compact")
    lake = lake_files.open_lake(args.lake.resolve().as_uri(), "events/")
    days = listed_days(lake.lake, "events/")
    first, last, day = days[0], days[-1], days[len(days) // 2]
    print(f"lake {args.lake}: {first}..{last}, {len(days)} days; {store.THREADS} threads, "
          f"query memory_limit {store.QUERY_MEMORY}")
    if not (args.reuse_store and args.store.exists()):
        for stale in (args.store, store.building_path(args.store)):
            stale.unlink(missing_ok=True)
        built = _child(["--child", "build", lake.url, str(args.store)])
        print(f"full build: {built['events']:,} events from {built['objects']} objects in "
              f"{built['seconds']:.1f} s (peak RSS {built['peak_mib']:.0f} MiB)")
    parquet = sum(p.stat().st_size for p in args.lake.glob("parquet/dt=*/*.parquet"))
    ndjson = sum(p.stat().st_size for p in args.lake.glob("events/dt=*/*.jsonl.gz"))
    size = args.store.stat().st_size
    print(f"store {size / 2**20:.0f} MiB = {size / parquet:.2f}x the Parquet lake "
          f"({parquet / 2**20:.0f} MiB), {size / ndjson:.2f}x the NDJSON lake "
          f"({ndjson / 2**20:.0f} MiB)")

    common = [lake.url, str(args.store), first, last, "" if args.no_day else day]
    fast = _child(["--child", "query", *common, str(args.repeats), "store"])
    warm = _child(["--child", "query", *common, str(args.repeats), "warm"])
    slow = _child(["--child", "query", *common, str(args.direct_repeats), "direct"])
    print(f"peak RSS answering every report from the store: {fast['peak_mib']:.0f} MiB "
          f"(lake-direct process: {slow['peak_mib']:.0f} MiB)")
    print(f"seconds: median (min-max); store x{args.repeats} (opened per report, and held open "
          f"as the dashboard holds it), lake-direct Parquet x{args.direct_repeats}")
    print(f"{'range':<6} {'report':<16} {'store s':>22} {'store held open s':>22} "
          f"{'lake s':>22} {'lake/store':>10}  rows")
    for key, store_times in fast["times"].items():
        label, name = key.split(":")
        lake_times = slow["times"][key]
        same = "" if fast["rows"][key] == slow["rows"][key] else "  ROW COUNTS DIFFER"
        ratio = statistics.median(lake_times) / statistics.median(store_times)
        print(f"{label:<6} {name:<16} {_spread(store_times):>22} "
              f"{_spread(warm['times'][key]):>22} {_spread(lake_times):>22} "
              f"{ratio:10.1f}  {fast['rows'][key]}{same}")

    after = (date.fromisoformat(last) + timedelta(days=1)).isoformat()
    per_day = built_events(args.store) // len(days)
    took, idle = sync_new_objects(lake, args.store, after, args.new_objects, per_day)
    print(f"sync of one new ~10,000-event object: {_spread(took)} s; the sync after them, "
          f"with nothing new: {idle:.3f} s")
    args.store.unlink(missing_ok=True)  # it holds the removed objects' events


if __name__ == "__main__":
    main()
