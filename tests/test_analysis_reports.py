"""Reports on a hand-made lake: every number below is worked out by hand from the events listed.

Sessions: A1 = e1..e5 (user A, 23:50 -> 00:12 across midnight UTC, 2 page views, a conversion),
A2 = e6 (user A again 48 minutes later: a new session, a bounce), B1 = f1..f5 (user B, 5 minutes,
1 page view, a bounce). g1 has no user_key (traffic and pages only). e4 is delivered three times
(twice identically, once as a retry received 3 s later). h1 lies outside the asked range.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import compact, duck, lake_files, reports
from analysis.__main__ import main
from tests.lakegen import write_events

A, B = "A" * 20, "B" * 20


def ev(event_id, event_type, at, page, user=A, **fields):
    event = {"v": 1, "event_id": event_id, "event_type": event_type, "current_page": page,
             "received_at": at, **fields}
    if user:
        event["user_key"] = user
    return event


HOME, PRICING = "https://s.test/home", "https://s.test/pricing"
E4 = ev("e4", "page_view", "2026-11-23T00:10:00.000Z", PRICING + "#plans")
EVENTS = [
    ev("e1", "page_view", "2026-11-22T23:50:00.000Z", HOME + "?x=1",
       referrer="https://www.google.com/search?q=1"),
    ev("e2", "click", "2026-11-22T23:52:00.000Z", HOME, x=640, y=150, document_width=1280),
    ev("e3", "page_leave", "2026-11-22T23:55:00.000Z", HOME, engaged_milli_sec=30000),
    E4, E4, {**E4, "received_at": "2026-11-23T00:10:03.000Z"},
    ev("e5", "conversion", "2026-11-23T00:12:00.000Z", PRICING,
       props={"value": 49.5, "plan": "pro", "trial": False, "ref": None}),
    ev("e6", "page_view", "2026-11-23T01:00:00.000Z", HOME, referrer="",
       utm_source="newsletter", utm_medium="email", utm_campaign="nov"),
    ev("f1", "page_view", "2026-11-23T10:00:00.000Z", PRICING + "?utm_source=twitter", user=B,
       referrer="https://t.co/abc", utm_source="twitter", utm_medium="social",
       utm_campaign="launch"),
    ev("f2", "click", "2026-11-23T10:01:00.000Z", PRICING, user=B, x=195, y=420,
       document_width=390),
    ev("f3", "click", "2026-11-23T10:02:00.000Z", PRICING, user=B, x=1000.5, y=410,
       document_width=1920),
    ev("f5", "click", "2026-11-23T10:03:00.000Z", PRICING, user=B, x=1919, y=50,
       document_width=1920),
    ev("f4", "page_leave", "2026-11-23T10:05:00.000Z", PRICING, user=B, engaged_milli_sec=50000),
    ev("g1", "page_view", "2026-11-23T12:00:00.000Z", HOME, user=None),
    ev("h1", "page_view", "2026-11-24T00:00:01.000Z", HOME, user=B),
]


@pytest.fixture(scope="module")
def hand_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    # Small objects, so that one day spans several NDJSON objects as in a busy lake.
    write_events(root, EVENTS, max_object_bytes=400)
    return lake_files.open_lake(root.as_uri(), "events/")


def run(lake, name, **extra):
    opts = reports.options(name, {"from": "2026-11-22", "to": "2026-11-23", **extra})
    columns, rows = duck.run(name, opts, lake)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_traffic_per_day_counts_each_event_once(hand_lake):
    assert run(hand_lake, "traffic", bucket="day") == [
        {"bucket_start": "2026-11-22T00:00:00Z", "events": 3, "page_views": 1, "visitors": 1},
        {"bucket_start": "2026-11-23T00:00:00Z", "events": 9, "page_views": 4, "visitors": 2},
    ]


def test_traffic_per_hour_lists_every_bucket_including_empty_ones(hand_lake):
    rows = run(hand_lake, "traffic", bucket="hour")
    assert len(rows) == 48
    busy = {r["bucket_start"]: (r["events"], r["page_views"]) for r in rows if r["events"]}
    assert busy == {"2026-11-22T23:00:00Z": (3, 1), "2026-11-23T00:00:00Z": (2, 1),
                    "2026-11-23T01:00:00Z": (1, 1), "2026-11-23T10:00:00Z": (5, 1),
                    "2026-11-23T12:00:00Z": (1, 1)}
    assert rows[0]["bucket_start"] == "2026-11-22T00:00:00Z"
    assert rows[-1]["bucket_start"] == "2026-11-23T23:00:00Z"


def test_traffic_per_5_minutes_has_288_buckets_a_day(hand_lake):
    rows = run(hand_lake, "traffic", bucket="5min")
    assert len(rows) == 2 * 288
    assert sum(r["events"] for r in rows) == 12
    assert {r["bucket_start"]: r["events"] for r in rows if r["events"]}[
        "2026-11-23T10:00:00Z"] == 4  # f1, f2, f3, f5; f4 at 10:05 opens the next bucket


def test_pages_strip_query_and_fragment(hand_lake):
    assert run(hand_lake, "pages") == [
        {"page": HOME, "page_views": 3, "visitors": 1, "avg_engaged_ms": 30000.0},
        {"page": PRICING, "page_views": 2, "visitors": 2, "avg_engaged_ms": 50000.0},
    ]


def test_sessions_are_rebuilt_with_a_30_minute_gap_across_midnight(hand_lake):
    assert run(hand_lake, "sessions") == [
        {"sessions": 3, "avg_duration_s": 540.0, "pages_per_session": 1.333,
         "bounce_rate": 0.6667},
    ]


def test_conversions_per_session(hand_lake):
    assert run(hand_lake, "conversions") == [
        {"conversions": 1, "converting_sessions": 1, "sessions": 3, "conversion_rate": 0.3333},
    ]


def test_referrers_use_each_sessions_landing_page_view(hand_lake):
    def row(dimension, host, source, medium, campaign):
        return {"dimension": dimension, "referrer_host": host, "utm_source": source,
                "utm_medium": medium, "utm_campaign": campaign, "sessions": 1}

    assert run(hand_lake, "referrers") == [
        row("referrer", "(direct)", None, None, None),
        row("referrer", "t.co", None, None, None),
        row("referrer", "www.google.com", None, None, None),
        row("utm", None, "(none)", "(none)", "(none)"),
        row("utm", None, "newsletter", "email", "nov"),
        row("utm", None, "twitter", "social", "launch"),
    ]


def test_heatmap_adds_up_clicks_from_different_document_widths(hand_lake):
    rows = run(hand_lake, "heatmap", page=PRICING + "?any=query", columns=4, row_px=100)
    # f2: 195/390*4 = 2.0, f3: 1000.5/1920*4 = 2.08 -> column 2, rows 420 and 410 -> 4;
    # f5: 1919/1920*4 = 3.998 -> column 3, row 0.
    assert rows == [{"cell_col": 2, "cell_row": 4, "clicks": 2},
                    {"cell_col": 3, "cell_row": 0, "clicks": 1}]


def test_funnel_counts_sessions_reaching_steps_in_order(hand_lake):
    assert run(hand_lake, "funnel", steps="/home,/pricing,conversion") == [
        {"step": 1, "name": "/home", "sessions": 2},
        {"step": 2, "name": "/pricing", "sessions": 1},
        {"step": 3, "name": "conversion", "sessions": 1},
    ]
    # B1 sees pricing first and never home; A1 sees home before pricing, not after.
    assert run(hand_lake, "funnel", steps=f"{PRICING},/home") == [
        {"step": 1, "name": PRICING, "sessions": 2},
        {"step": 2, "name": "/home", "sessions": 0},
    ]


def test_range_reads_only_its_partitions(hand_lake, tmp_path):
    # GIVEN an unreadable object in a day outside the range
    bad = hand_lake.local_root / "events" / "dt=2026-11-25" / "broken.jsonl.gz"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"not gzip at all")
    try:
        # WHEN planning and running a report for 11-23 only
        days = lake_files.plan(hand_lake, "2026-11-23", "2026-11-23", tmp_path)
        rows = run(hand_lake, "traffic", bucket="day")
    finally:
        bad.unlink()
    # THEN only dt=2026-11-23 objects were chosen, and the broken day was never opened
    assert [d.dt for d in days] == ["2026-11-23"]
    assert all("/dt=2026-11-23/" in key for key in days[0].ndjson)
    assert [r["events"] for r in rows] == [3, 9]


def test_a_later_day_is_included_when_asked(hand_lake):
    opts = reports.options("traffic", {"from": "2026-11-24", "to": "2026-11-24", "bucket": "day"})
    assert duck.run("traffic", opts, hand_lake)[1] == [("2026-11-24T00:00:00Z", 1, 1, 1)]


def test_site_keeps_only_events_on_that_host(tmp_path):
    # GIVEN user A browsing two sites in one half hour
    other = "https://Blog.S.test/post"
    events = EVENTS + [ev("k1", "page_view", "2026-11-23T01:05:00.000Z", other),
                       ev("k2", "page_view", "2026-11-23T01:10:00.000Z", HOME)]
    write_events(tmp_path, events)
    lake = lake_files.open_lake(tmp_path.as_uri(), "events/")
    # WHEN reports are asked for one site (any case), THEN only its events count, and sessions
    # are rebuilt from that site's events alone
    assert run(lake, "pages", site="BLOG.s.test") == [
        {"page": "https://Blog.S.test/post", "page_views": 1, "visitors": 1,
         "avg_engaged_ms": None}]
    assert run(lake, "sessions", site="s.test")[0]["sessions"] == 3
    assert run(lake, "sessions", site="blog.s.test")[0]["sessions"] == 1
    assert run(lake, "sessions")[0]["sessions"] == 3  # k1, k2 join A's 01:00 session
    assert run(lake, "pages", site="nothing.s.test") == []


def test_cli_prints_json_rows(hand_lake, capsys):
    main(["report", "conversions", "--from", "2026-11-22", "--to", "2026-11-23",
          "--lake", hand_lake.url, "--format", "json"])
    assert json.loads(capsys.readouterr().out) == [
        {"conversions": 1, "converting_sessions": 1, "sessions": 3, "conversion_rate": 0.3333}]


def test_cli_csv_and_table(hand_lake, capsys):
    args = ["report", "pages", "--from", "2026-11-22", "--to", "2026-11-23", "--lake", hand_lake.url]
    main(args + ["--format", "csv"])
    assert capsys.readouterr().out.splitlines() == [
        "page,page_views,visitors,avg_engaged_ms",
        f"{HOME},3,1,30000.0", f"{PRICING},2,2,50000.0"]
    main(args)
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["page", "page_views", "visitors", "avg_engaged_ms"]
    assert table[1].split() == [HOME, "3", "1", "30000.0"]


@pytest.mark.process
def test_cli_piped_into_a_reader_that_has_gone_exits_quietly(hand_lake):
    """`report ... | head -1`: a closed pipe ends the report without a traceback."""
    command = [sys.executable, "-m", "analysis", "report", "pages", "--from", "2026-11-22",
               "--to", "2026-11-23", "--lake", hand_lake.url, "--no-store", "--format", "csv"]
    reader = subprocess.Popen(["true"], stdin=subprocess.PIPE)
    reader.wait(timeout=10)  # the pipe now has no reader: the first write fails
    report = subprocess.run(command, stdout=reader.stdin, stderr=subprocess.PIPE, text=True,
                            timeout=120, cwd=Path(__file__).resolve().parents[1])
    reader.stdin.close()
    assert report.returncode == 0, report.stderr
    assert report.stderr == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "traffic", "--from", "2026-13-01", "--to", "2026-11-23"], "--from '2026-13-01'"),
        (["report", "traffic", "--from", "2026-11-24", "--to", "2026-11-23"], "is after --to"),
        (["report", "traffic", "--from", "2026-11-22", "--to", "2026-11-23", "--bucket", "week"],
         "--bucket 'week' must be one of"),
        (["report", "heatmap", "--from", "2026-11-22", "--to", "2026-11-23"], "--page is required"),
        (["report", "heatmap", "--from", "2026-11-22", "--to", "2026-11-23", "--page", "x",
          "--columns", "0"], "--columns '0'"),
        (["report", "funnel", "--from", "2026-11-22", "--to", "2026-11-23", "--steps", "/a"],
         "at least two"),
        (["report", "funnel", "--from", "2026-11-22", "--to", "2026-11-23", "--steps", "/a,Bad!"],
         "'Bad!' is not a path"),
        (["report", "pages", "--from", "2026-11-22", "--to", "2026-11-23", "--lake",
          "file:///no/such/lake"], "lake directory '/no/such/lake'"),
        (["report", "pages", "--from", "2026-11-22", "--to", "2026-11-23", "--lake",
          "ftp://x/"], "must be file:///path or s3://bucket/prefix"),
        (["compact", "--date", "2026-11-31", "--lake", "file:///tmp"], "--date '2026-11-31'"),
        (["report", "traffic", "--from", "2026-11-22", "--to", "2026-11-23", "--row-px", "5"],
         "--row-px applies to the heatmap report, not traffic"),
        (["report", "pages", "--from", "2026-11-22", "--to", "2026-11-23", "--site",
          "s.test/home"], "--site 's.test/home' must be a host name"),
    ],
)
def test_bad_options_are_named_in_the_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_compacting_a_day_without_ndjson_says_so(hand_lake, capsys):
    with pytest.raises(SystemExit):
        main(["compact", "--date", "2026-01-01", "--lake", hand_lake.url])
    assert "no NDJSON objects for dt=2026-01-01" in capsys.readouterr().err


def test_compaction_keeps_every_field_and_props_as_strings(hand_lake, tmp_path):
    import pyarrow.parquet as pq

    shutil.copytree(hand_lake.local_root, tmp_path, dirs_exist_ok=True)
    lake = lake_files.open_lake(tmp_path.as_uri(), "events/")
    summary = compact.compact_day(lake, "2026-11-23")

    assert summary["events"] == 9  # e4's three deliveries became one row
    rows = pq.read_table(tmp_path / summary["key"]).to_pylist()
    e5 = next(r for r in rows if r["event_id"] == "e5")
    assert dict(e5["props"]) == {"value": "49.5", "plan": "pro", "trial": "false", "ref": None}
    f3 = next(r for r in rows if r["event_id"] == "f3")
    assert (f3["x"], f3["y"], f3["document_width"], f3["user_key"]) == (1000.5, 410.0, 1920, B)
    e4 = next(r for r in rows if r["event_id"] == "e4")
    assert e4["received_at"] == "2026-11-23T00:10:00.000Z"  # the earliest delivery is kept


def test_bad_setting_is_named_when_the_default_lake_is_used(monkeypatch, capsys):
    monkeypatch.setenv("LOGDIG_LAKE_PREFIX", "/absolute/")
    with pytest.raises(SystemExit):
        main(["report", "pages", "--from", "2026-11-22", "--to", "2026-11-23"])
    assert "LOGDIG_LAKE_PREFIX='/absolute/'" in capsys.readouterr().err
