"""python -m analysis: reports with DuckDB, Parquet compaction, and the generated Athena/Zeppelin files.

  python -m analysis report traffic --from 2026-11-01 --to 2026-11-30 --bucket day
  python -m analysis report heatmap --from 2026-11-01 --to 2026-11-30 --page https://site/pricing
  python -m analysis sync [--lake s3://bucket/] [--store data/store.duckdb]
  python -m analysis report pages --from 2026-11-01 --to 2026-11-30 --no-store
  python -m analysis compact --date 2026-11-22 [--lake s3://bucket/]
  python -m analysis forget --user-key K [--dry-run] [--yes]   # erase one visitor
  python -m analysis athena-sql            # rewrites analysis/athena/*.sql
  python -m analysis zeppelin              # rewrites analysis/zeppelin/logdig_reports.zpln
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from datetime import date

from analysis import forget, lake_files, reports
from analysis.store import StoreError
from config import ConfigError


def _lake_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake", help="file:///dir or s3://bucket/prefix (default: the lake "
                        "config.load_settings() points at: LOGDIG_BUCKET, else LOGDIG_DATA_DIR/lake)")
    parser.add_argument("--events-prefix", help="NDJSON prefix in the lake (default LOGDIG_LAKE_PREFIX)")


def _store_arg(parser, text: str) -> None:
    parser.add_argument("--store", metavar="PATH", help=text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    report = commands.add_parser("report", help="run one report with DuckDB")
    report.add_argument("name", choices=sorted(reports.REPORTS))
    report.add_argument("--from", dest="from_", required=True, metavar="YYYY-MM-DD[THH:MM[:SS]]",
                        help="first day, or an ISO datetime (inclusive)")
    report.add_argument("--to", required=True, metavar="YYYY-MM-DD[THH:MM[:SS]]",
                        help="last day (inclusive), or an ISO datetime (exclusive)")
    report.add_argument("--tz", help="time zone of dates, offset-less datetimes and day buckets "
                        "(UTC)")
    report.add_argument("--site", help="only events on this host (see the sites report)")
    report.add_argument("--referrer", help="only visitors who arrived from this referrer host")
    report.add_argument("--include-bots", action="store_true",
                        help="keep events of crawlers and automated browsers (left out by default)")
    report.add_argument("--format", choices=("table", "csv", "json"), default="table")
    report.add_argument("--bucket", help=f"traffic: one of {', '.join(reports.BUCKETS)} (hour)")
    report.add_argument("--page", help="heatmap, elements: the page URL; other reports: only "
                        "events on that page (query and fragment are ignored)")
    report.add_argument("--columns", help="heatmap: grid columns across the document width (20)")
    report.add_argument("--row-px", help="heatmap: grid row height in CSS pixels (100)")
    report.add_argument("--steps", help="funnel: comma list of /paths, URLs or event types")
    _lake_args(report)
    where = report.add_mutually_exclusive_group()
    _store_arg(where, "answer from this query store (default: LOGDIG_DATA_DIR/store.duckdb for "
               "the configured lake; a lake given by --lake is read directly unless --store is given)")
    where.add_argument("--no-store", action="store_true", help="read the lake directly")

    sync = commands.add_parser("sync", help="bring the query store up to date with the lake")
    _lake_args(sync)
    _store_arg(sync, "the store file (default: LOGDIG_DATA_DIR/store.duckdb)")
    sync.add_argument("--rescan", action="store_true",
                      help="list every day of the lake, not only the newest and unseen ones")

    compact = commands.add_parser("compact", help="rewrite one day's NDJSON as Parquet")
    compact.add_argument("--date", required=True, metavar="YYYY-MM-DD")
    _lake_args(compact)

    forget.add_command(commands, _lake_args)

    for name, what in (("athena-sql", "analysis/athena/*.sql"),
                       ("zeppelin", "analysis/zeppelin/logdig_reports.zpln")):
        command = commands.add_parser(name, help=f"rewrite {what} from the report definitions")
        command.add_argument("--check", action="store_true",
                             help="only say whether the committed files are up to date")
    return parser


def _print(columns: list[str], rows: list[tuple], fmt: str) -> None:
    if fmt == "json":
        json.dump([dict(zip(columns, row, strict=True)) for row in rows], sys.stdout, indent=1)
        print()
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        cells = [columns] + [["" if v is None else str(v) for v in row] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
        for n, row in enumerate(cells):
            print("  ".join(v.rjust(w) if n and v[:1].isdigit() else v.ljust(w)
                            for v, w in zip(row, widths, strict=True)).rstrip())


def _report(args) -> None:
    from analysis import query

    raw = {"from": args.from_, "to": args.to, "bucket": args.bucket, "page": args.page,
           "columns": args.columns, "row_px": args.row_px, "steps": args.steps, "tz": args.tz,
           "site": args.site, "referrer": args.referrer, "include_bots": args.include_bots}
    store = False if args.no_store else args.store
    result = query.run_report(args.name, raw, args.lake, strict=True, check_site=True,
                              events_prefix=args.events_prefix, store=store)
    _print(result.columns, result.rows, args.format)


def _sync(args) -> None:
    from analysis import store

    lake = lake_files.open_lake(args.lake, args.events_prefix)
    path = store.resolve(args.store) if args.store else store.default_path(create=True)
    summary = store.sync(lake, path, rescan=args.rescan)
    for skipped in summary.skipped:
        print(f"warning: skipped {skipped['key']}: {skipped['error']}", file=sys.stderr)
    print(json.dumps(summary.as_dict()))


def _compact(args) -> None:
    from analysis import compact

    try:
        day = date.fromisoformat(args.date).isoformat()
    except ValueError:
        raise lake_files.LakeError(f"--date {args.date!r} must be a date YYYY-MM-DD") from None
    summary = compact.compact_day(lake_files.open_lake(args.lake, args.events_prefix), day)
    print(json.dumps(summary))


def _generated(args) -> None:
    from analysis import generated

    stale = generated.write(args.command, check=args.check)
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    if args.check and stale:
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    handlers = {"report": _report, "sync": _sync, "compact": _compact, "athena-sql": _generated,
                "zeppelin": _generated,
                "forget": lambda args: forget.run_command(args, lake_files.open_lake)}
    try:
        handlers[args.command](args)
    except (reports.ReportError, lake_files.LakeError, ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # `report ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)


if __name__ == "__main__":
    main()
