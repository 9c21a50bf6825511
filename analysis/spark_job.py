"""The reports with Spark: a `lake_events` view over a lake path, the same SQL as DuckDB's.

    spark-submit --py-files analysis.zip analysis/spark_job.py \\
        --lake s3a://my-lake-bucket/ --from 2026-11-01 --to 2026-11-30 --out s3a://my-results/

Each report is written under <out>/<report>/parquet and <out>/<report>/csv (one CSV file with a
header). Local mode works the same with a directory: --lake /path/to/data/lake --out /tmp/out.
"""

from __future__ import annotations

import argparse
import json

from analysis import reports
from config import Settings
from logdig import lake_layout
from logdig.lake_schema import COLUMNS

DEFAULT_EVENTS_PREFIX = Settings().lake_prefix


def schema_ddl() -> str:
    return ", ".join(f"`{name}` {type_.upper()}" for name, type_ in COLUMNS)


def session(app_name: str = "logdig-reports", master: str | None = None, **conf: str):
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    # UTC: the reports format epoch seconds with from_unixtime, which uses the session zone.
    # dt stays a string: '2026-11-01' must not become a date and break BETWEEN on strings.
    return (builder.config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
            .getOrCreate())


class HadoopLake:
    """Spark's listing adapter for day planning (logdig.lake_layout): listing and Parquet footers
    through Hadoop's FileSystem, so local paths, hdfs:// and s3a:// all work."""

    def __init__(self, spark, root: str, events_prefix: str = DEFAULT_EVENTS_PREFIX):
        self.spark = spark
        self.root = root.rstrip("/") + "/"
        self.events_prefix = events_prefix
        self.events = self.root + events_prefix
        self.parquet = self.root + lake_layout.parquet_prefix_for(events_prefix)
        jvm = spark._jvm
        self._path = jvm.org.apache.hadoop.fs.Path
        self._conf = spark._jsc.hadoopConfiguration()
        self.fs = self._path(self.root).getFileSystem(self._conf)

    def names(self, folder: str, suffix: str) -> list[str]:
        found = self.fs.globStatus(self._path(f"{self.root}{folder}*{suffix}"))
        return sorted(status.getPath().getName() for status in (found or []))

    def parquet_sources(self, key: str) -> list[str]:
        """The footer's list of NDJSON objects (parquet-hadoop ships with Spark)."""
        jvm = self.spark._jvm
        infile = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(
            self._path(self.root + key), self._conf)
        reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open(infile)
        try:
            value = reader.getFooter().getFileMetaData().getKeyValueMetaData().get(
                lake_layout.PARQUET_SOURCES_KEY)
        finally:
            reader.close()
        return json.loads(value) if value else []

    def files(self, first: str, last: str) -> tuple[list[str], list[str]]:
        """(parquet files, NDJSON files) for dt first..last; only those folders are listed."""
        days = lake_layout.plan_days(self, self.events_prefix, first, last)
        parquet = [self.root + day.parquet for day in days if day.parquet]
        return parquet, [self.root + key for day in days for key in day.ndjson]


def create_view(spark, lake: HadoopLake, first: str, last: str) -> None:
    parquet, ndjson = lake.files(first, last)
    frames = []
    if parquet:
        frames.append(spark.read.schema(schema_ddl()).option("basePath", lake.parquet)
                      .parquet(*parquet))
    if ndjson:
        frames.append(spark.read.schema(schema_ddl()).option("basePath", lake.events)
                      .json(ndjson))
    if not frames:
        frames.append(spark.createDataFrame([], f"{schema_ddl()}, dt STRING"))
    view = frames[0]
    for frame in frames[1:]:
        view = view.unionByName(frame)
    view.createOrReplaceTempView(reports.SOURCE)


def report_frame(spark, lake: HadoopLake, name: str, opts: dict):
    create_view(spark, lake, opts["from"], opts["to"])
    return spark.sql(reports.render(name, "spark", opts))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="LogDig reports on Spark")
    parser.add_argument("--lake", required=True, help="lake root: a directory, s3a://bucket/prefix")
    parser.add_argument("--events-prefix", default=DEFAULT_EVENTS_PREFIX)
    parser.add_argument("--from", dest="from_", required=True)
    parser.add_argument("--to", required=True)
    parser.add_argument("--out", required=True, help="results root (directory or s3a://)")
    parser.add_argument("--reports", default="traffic,pages,referrers,sessions,conversions",
                        help="comma list; heatmap needs --page, funnel needs --steps")
    parser.add_argument("--bucket")
    parser.add_argument("--page")
    parser.add_argument("--columns")
    parser.add_argument("--row-px")
    parser.add_argument("--steps")
    parser.add_argument("--site", help="only events on this host")
    parser.add_argument("--include-bots", action="store_true", help="keep bots' events")
    parser.add_argument("--master", help="e.g. local[2]; spark-submit's --master otherwise")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    raw = {"from": args.from_, "to": args.to, "bucket": args.bucket, "page": args.page,
           "columns": args.columns, "row_px": args.row_px, "steps": args.steps, "site": args.site,
           "include_bots": args.include_bots}
    wanted = [n.strip() for n in args.reports.split(",") if n.strip()]
    checked = {name: reports.options(name, raw) for name in wanted}  # fail before Spark starts
    spark = session(master=args.master)
    lake = HadoopLake(spark, args.lake, args.events_prefix)
    out = args.out.rstrip("/")
    for name, opts in checked.items():
        frame = report_frame(spark, lake, name, opts).cache()
        frame.write.mode("overwrite").parquet(f"{out}/{name}/parquet")
        frame.coalesce(1).write.mode("overwrite").option("header", True).csv(f"{out}/{name}/csv")
        print(f"{name}: {frame.count()} rows -> {out}/{name}/")


if __name__ == "__main__":
    main()
