"""Same answers everywhere: DuckDB on NDJSON, DuckDB on compacted Parquet, the query store (built
in one sync, object by object, and from Parquet), and Spark, on one seeded lake (sessions across
midnight, SPA navigation, clicks, UTM, duplicate deliveries, retries landing on the next day)."""

import math
import re
import shutil

import pytest

from analysis import compact, duck, generated, lake_files, reports, store
from logdig.lake_schema import COLUMNS
from tests.lakegen import generate, write_events

FIRST, LAST = "2026-11-20", "2026-11-22"
CASES = {
    "traffic-hour": ("traffic", {"bucket": "hour"}),
    "traffic-5min": ("traffic", {"bucket": "5min"}),
    "pages": ("pages", {}),
    "referrers": ("referrers", {}),
    "sessions": ("sessions", {}),
    "conversions": ("conversions", {}),
    "heatmap": ("heatmap", {"page": "https://shop.example.com/cart", "columns": 8, "row_px": 250}),
    "funnel-pages": ("funnel", {"steps": "/products,/cart,conversion"}),
    "funnel-mixed": ("funnel", {"steps": "page_view,click,https://shop.example.com/checkout"}),
    "sessions-site": ("sessions", {"site": "shop.example.com"}),
    "summary": ("summary", {}),
    "entry_pages": ("entry_pages", {}),
    "exit_pages": ("exit_pages", {}),
    "events": ("events", {}),
    "sites": ("sites", {}),
    "elements": ("elements", {"page": "https://shop.example.com/cart"}),
    "active_sessions": ("active_sessions", {"to": "2026-11-21T14:00:00Z"}),
    # A datetime range read in a zone with a non-hour offset, day buckets from its midnights.
    "traffic-tz": ("traffic", {"from": "2026-11-20T09:20:00", "to": "2026-11-22T08:00:00",
                               "tz": "Asia/Kolkata", "bucket": "day"}),
    "pages-filtered": ("pages", {"site": "Shop.Example.com", "referrer": "www.google.com"}),
    "summary-page": ("summary", {"page": "https://shop.example.com/products#x"}),
    # Audience (issue 13): bots left out by default, visitors stitched by member id.
    "countries": ("countries", {}),
    "browsers": ("browsers", {}),
    "os": ("os", {}),
    "devices-bots": ("devices", {"include_bots": True}),
    "scroll": ("scroll", {}),
    "members": ("members", {}),
    "summary-bots": ("summary", {"include_bots": "1"}),
    "traffic-site-day": ("traffic", {"site": "shop.example.com", "bucket": "day"}),
    # Per-session views (the store keeps them per session) where the range cuts sessions at
    # times of day, and under the site and referrer filters.
    "referrers-tz": ("referrers", {"from": "2026-11-20T09:20:00", "to": "2026-11-22T08:00:00",
                                   "tz": "Asia/Kolkata"}),
    "entry_pages-site": ("entry_pages", {"site": "shop.example.com"}),
    "exit_pages-referrer": ("exit_pages", {"referrer": "www.google.com"}),
    "browsers-tz": ("browsers", {"from": "2026-11-21T13:00:00", "to": "2026-11-22T02:30:00"}),
}


def opts(name, extra, first=FIRST, last=LAST):
    return reports.options(name, {"from": first, "to": last, **extra})


def same_rows(left, right):
    """Equal row by row; floats to 1e-9 relative (engines sum in different orders)."""
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            if isinstance(x, float) or isinstance(y, float):
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), (a, b)
            else:
                assert x == y, (a, b)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    root = tmp_path_factory.mktemp("seeded")
    summary = generate(root, events=3000, seed=11, start=FIRST, days=3, dup_permille=40,
                       max_object_bytes=256 * 1024)
    return lake_files.open_lake(root.as_uri(), "events/"), summary


@pytest.fixture(scope="module")
def compacted(seeded, tmp_path_factory):
    lake, _ = seeded
    root = tmp_path_factory.mktemp("compacted")
    shutil.copytree(lake.local_root, root, dirs_exist_ok=True)
    copy = lake_files.open_lake(root.as_uri(), "events/")
    for dt in lake_files.dates(FIRST, "2026-11-23"):
        compact.compact_day(copy, dt)
    return copy


@pytest.fixture(scope="module")
def duck_answers(seeded):
    lake, _ = seeded
    return {case: duck.run(name, opts(name, extra), lake) for case, (name, extra) in CASES.items()}


def test_seeded_lake_has_what_the_reports_need(seeded, duck_answers):
    lake, summary = seeded
    assert summary["lines"] > summary["events"] > 2500  # duplicate deliveries are present
    assert (lake.local_root / "events" / "dt=2026-11-23").is_dir()  # sessions ran past midnight
    assert len(duck_answers["traffic-hour"][1]) == 72
    referrers = {row[1] for row in duck_answers["referrers"][1] if row[0] == "referrer"}
    assert {"(direct)", "www.google.com", "t.co", "example.org"} <= referrers
    _, converting, sessions, _ = duck_answers["conversions"][1][0]
    assert sessions > 100 and 0 < converting < sessions
    assert sum(row[2] for row in duck_answers["heatmap"][1]) > 0
    assert [row[2] > 0 for row in duck_answers["funnel-pages"][1]][:2] == [True, True]


@pytest.mark.parametrize("case", CASES)
def test_parquet_and_ndjson_layouts_give_the_same_answers(case, compacted, duck_answers):
    name, extra = CASES[case]
    columns, rows = duck_answers[case]
    parquet_columns, parquet_rows = duck.run(name, opts(name, extra), compacted)
    assert parquet_columns == columns
    same_rows(parquet_rows, rows)


# Ranges that cut sessions and re-deliveries at their edges, besides the whole lake.
RANGES = [(FIRST, LAST), ("2026-11-21", "2026-11-21"), ("2026-11-22", "2026-11-23")]


@pytest.fixture(scope="module")
def stores(seeded, compacted, tmp_path_factory):
    """Stores of the seeded lake: built in one sync; grown object by object (incremental
    derivation, sessions spanning objects and midnight); and built from the Parquet days."""
    lake, _ = seeded
    folder = tmp_path_factory.mktemp("stores")
    store.sync(lake, folder / "one.duckdb")
    store.sync(compacted, folder / "parquet.duckdb")
    growing = tmp_path_factory.mktemp("growing")
    grown = lake_files.open_lake(growing.as_uri(), "events/")
    keys = sorted(lake.lake.keys("events/"), key=lambda k: (k.split("/")[1], k))
    for key in keys:  # in landing order: by day, and within a day in listing order
        (growing / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lake.local_root / key, growing / key)
        store.sync(grown, folder / "grown.duckdb")
    assert len(keys) > 6
    return {"one": (lake, folder / "one.duckdb"), "grown": (grown, folder / "grown.duckdb"),
            "parquet": (compacted, folder / "parquet.duckdb")}


@pytest.fixture(scope="module")
def lake_answers(seeded):
    """Lake-direct rows per (case, range), computed once for all the stores."""
    lake, _ = seeded
    return {(case, first, last): duck.run(name, opts(name, extra, first, last), lake)
            for case, (name, extra) in CASES.items() for first, last in ranges(extra)}


def ranges(extra):
    """The ranges a case runs over: its own when it sets one, else each of RANGES."""
    return RANGES[:1] if "from" in extra or "to" in extra else RANGES


@pytest.mark.parametrize("kind", ["one", "grown", "parquet"])
@pytest.mark.parametrize("case", CASES)
def test_the_store_gives_the_same_answers_as_the_lake(case, kind, stores, lake_answers):
    name, extra = CASES[case]
    located, path = stores[kind]
    for first, last in ranges(extra):
        expected = lake_answers[case, first, last]
        columns, rows = store.run(name, opts(name, extra, first, last), located, path)
        assert columns == expected[0]
        same_rows(rows, expected[1])


def test_compaction_dedupes_sorts_and_names_its_sources(compacted, tmp_path):
    import pyarrow.parquet as pq

    path = compacted.local_root / "parquet" / "dt=2026-11-21" / "events.parquet"
    table = pq.read_table(path)
    ids = table.column("event_id").to_pylist()
    received = table.column("received_at").to_pylist()
    assert len(ids) == len(set(ids)) > 0
    assert received == sorted(received)
    names = compacted.names("events/", "2026-11-21", ".jsonl.gz")
    assert lake_files.parquet_sources(path) == names
    assert not list(path.parent.glob(".tmp-*"))
    # Reports read the Parquet object alone for a compacted day.
    days = lake_files.plan(compacted, "2026-11-21", "2026-11-21", tmp_path)
    assert [(d.parquet, d.ndjson) for d in days] == [(str(path), [])]


def test_events_landing_after_compaction_are_still_counted(compacted, tmp_path):
    # GIVEN a compacted day, WHEN the batcher lands a late object for it
    late = {"v": 1, "event_id": "late-1", "event_type": "page_view", "user_key": "L" * 20,
            "current_page": "https://shop.example.com/late", "received_at": "2026-11-21T12:00:00.000Z"}
    before = duck.run("pages", opts("pages", {}, "2026-11-21", "2026-11-21"), compacted)[1]
    keys = write_events(compacted.local_root, [late])
    try:
        after = duck.run("pages", opts("pages", {}, "2026-11-21", "2026-11-21"), compacted)[1]
        days = lake_files.plan(compacted, "2026-11-21", "2026-11-21", tmp_path)
    finally:
        (compacted.local_root / keys[0]).unlink()
    # THEN the day is read as Parquet plus the one object the Parquet footer does not name
    assert days[0].ndjson == keys
    assert ("https://shop.example.com/late", 1, 1, None) in after
    assert len(after) == len(before) + 1


def test_generated_athena_sql_and_zeppelin_note_are_up_to_date():
    assert generated.write("athena-sql", check=True) == []
    assert generated.write("zeppelin", check=True) == []


def test_athena_files_take_dates_as_execution_parameters():
    text = (generated.ATHENA_DIR / "traffic.sql").read_text()
    assert "-- Execution parameters, in order: from, to, from, to, bucket_seconds" in text
    assert "WHERE dt BETWEEN ? AND ?" in text
    assert "FROM events\n" in text and "from_iso8601_timestamp(received_at)" in text
    assert "org.openx.data.jsonserde.JsonSerDe" in (generated.ATHENA_DIR / "create_table.sql"
                                                     ).read_text()


def test_zeppelin_note_has_a_spark_sql_paragraph_per_report():
    import json

    note = json.loads(generated.ZEPPELIN_NOTE.read_text())
    texts = [p["text"] for p in note["paragraphs"]]
    assert texts[0].startswith("%spark.pyspark")
    assert len(texts) == 1 + len(reports.REPORTS)
    assert all(t.startswith("%spark.sql\nWITH deliveries AS") for t in texts[1:])
    assert "dt BETWEEN '${from=2026-11-01}' AND '${to=2026-11-30}'" in texts[1]


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    from analysis import spark_job

    session = spark_job.session(master="local[2]", **{
        "spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false", "spark.driver.memory": "1g"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_spark_gives_the_same_answers_as_duckdb(case, spark, seeded, compacted, duck_answers):
    from analysis import spark_job

    lake, _ = seeded
    name, extra = CASES[case]
    columns, rows = duck_answers[case]
    # Every report on NDJSON; on Parquet one report, beside test_spark_reads_each_layout_like_duckdb
    # which compares every column Spark's view reads from both layouts (the SQL is the same).
    roots = [lake.local_root] + ([compacted.local_root] if case == "traffic-hour" else [])
    for root in roots:
        frame = spark_job.report_frame(spark, spark_job.HadoopLake(spark, str(root)), name,
                                       opts(name, extra))
        assert frame.columns == columns
        same_rows([tuple(r) for r in frame.collect()], rows)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_job_writes_each_report_as_parquet_and_csv(spark, seeded, duck_answers, tmp_path,
                                                         capsys):
    import csv

    from analysis import spark_job

    lake, _ = seeded
    spark_job.main(["--lake", str(lake.local_root), "--from", FIRST, "--to", LAST,
                    "--out", str(tmp_path), "--reports", "sessions,traffic", "--bucket", "hour"])

    assert "sessions: 1 rows" in capsys.readouterr().out
    columns, rows = duck_answers["traffic-hour"]
    [csv_file] = (tmp_path / "traffic" / "csv").glob("part-*.csv")
    with csv_file.open() as handle:
        table = list(csv.reader(handle))
    assert table[0] == columns
    assert [tuple(r) for r in table[1:]] == [tuple(str(v) for v in row) for row in rows]
    parquet = spark.read.parquet(str(tmp_path / "sessions" / "parquet")).collect()
    same_rows([tuple(r) for r in parquet], duck_answers["sessions"][1])


SCALARS = ", ".join(f"`{n}`" for n, t in COLUMNS if not t.startswith("map"))
# Every column of the view (props by key), every delivery: what each engine reads from a layout.
VIEW_SQL = (f"SELECT DISTINCT {SCALARS}, dt, props['value'] AS value, "
            "props['currency'] AS currency, props['gift'] AS gift FROM lake_events "
            "ORDER BY event_id, received_at")


def duck_view(lake, tmp_path):
    con = duck.connect()
    days = lake_files.plan(lake, FIRST, LAST, tmp_path)
    duck.create_view(con, *lake_files.local_files(lake, days, tmp_path))
    return con.execute(VIEW_SQL.replace("`", '"')).fetchall()


def test_compaction_keeps_one_row_per_event_with_its_props(seeded, compacted, tmp_path):
    lake, _ = seeded
    rows, compact_rows = duck_view(lake, tmp_path), duck_view(compacted, tmp_path)
    event_id, dt = [n for n, _ in COLUMNS].index("event_id"), len(SCALARS.split(", "))
    earliest = {}  # compaction dedupes within a day; a retry landing on the next day stays there
    for row in rows:  # sorted by event_id, received_at: the first row is the earliest delivery
        earliest.setdefault((row[event_id], row[dt]), row)
    assert len(compact_rows) < len(rows)
    assert compact_rows == list(earliest.values())
    conversions = [r[-3:] for r in compact_rows if r[2] == "conversion"]
    assert conversions and all(value.endswith(".5") and currency == "EUR"
                               and gift in ("true", "false") for value, currency, gift in conversions)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_reads_each_layout_like_duckdb(spark, seeded, compacted, tmp_path):
    from analysis import spark_job

    lake, _ = seeded
    for root in (lake.local_root, compacted.local_root):
        spark_job.create_view(spark, spark_job.HadoopLake(spark, str(root)), FIRST, LAST)
        located = lake_files.open_lake(root.as_uri(), "events/")
        same_rows([tuple(r) for r in spark.sql(VIEW_SQL).collect()], duck_view(located, tmp_path))


def zeppelin_forms(text: str, values: dict) -> str:
    """What Zeppelin runs: each ${name=default} form replaced by the value given, else default."""
    return re.sub(r"\$\{(\w+)=([^}]*)\}", lambda m: str(values.get(m[1], m[2])), text)


@pytest.mark.spark
@pytest.mark.slow
def test_zeppelin_paragraphs_run_and_agree_with_duckdb(spark, seeded, duck_answers):
    import json

    lake, _ = seeded
    note = json.loads(generated.ZEPPELIN_NOTE.read_text())
    texts = {p["title"].split(":")[0]: p["text"] for p in note["paragraphs"]}
    setup = zeppelin_forms(texts["Lake"], {"lake": str(lake.local_root)})
    exec(setup.removeprefix("%spark.pyspark\n"), {"spark": spark})  # noqa: S102 - our own note
    forms = {"from": FIRST, "to": LAST, "page": "https://shop.example.com/cart", "columns": 8,
             "row_px": 250, "bucket_seconds": 3600}
    for report, case in (("traffic", "traffic-hour"), ("heatmap", "heatmap")):
        sql = zeppelin_forms(texts[report], forms).removeprefix("%spark.sql\n")
        same_rows([tuple(r) for r in spark.sql(sql).collect()], duck_answers[case][1])
