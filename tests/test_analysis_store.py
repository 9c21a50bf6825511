"""The query store as a cache of the lake: each object loaded once, bad objects skipped and
retried, older stores rebuilt, clear errors, visitors on several sites, re-deliveries across
a range's first day, forget, the CLI, and an S3 lake. Same-answer checks over the seeded lake
are in test_analysis_engines.py; crashes and concurrent readers in test_analysis_store_sync.py."""

import fcntl
import gzip
import json

import pytest

from analysis import duck, lake_files, query, reports, store, store_sql
from analysis.__main__ import main
from tests.lakegen import generate, write_events
from tests.test_analysis_reports import B, ev

SHOP, BLOG = "https://shop.test", "https://blog.test"


def rows(lake, path, name, first="2026-11-20", last="2026-11-22", **extra):
    return store.run(name, reports.options(name, {"from": first, "to": last, **extra}), lake,
                     path)[1]


def lake_rows(lake, name, first="2026-11-20", last="2026-11-22", **extra):
    return duck.run(name, reports.options(name, {"from": first, "to": last, **extra}), lake)[1]


@pytest.fixture
def small_lake(tmp_path):
    root = tmp_path / "lake"
    generate(root, events=1500, seed=5, start="2026-11-20", days=3, max_object_bytes=128 * 1024)
    return lake_files.open_lake(root.as_uri(), "events/")


def test_each_object_is_loaded_once_and_new_ones_are_found(small_lake, tmp_path):
    path = tmp_path / "store.duckdb"
    # GIVEN a store built from the lake
    first = store.sync(small_lake, path)
    objects = len(small_lake.lake.keys("events/"))
    assert first.rebuilt and first.objects == objects and first.skipped == []
    # WHEN nothing is new, THEN nothing is loaded; WHEN one object lands, THEN only it is
    assert store.sync(small_lake, path).objects == 0
    write_events(small_lake.local_root, [ev("n1", "page_view", "2026-11-22T12:00:00.000Z", SHOP)])
    again = store.sync(small_lake, path)
    assert (again.objects, again.events, again.rebuilt) == (1, 1, False)
    assert rows(small_lake, path, "traffic", bucket="day") == lake_rows(small_lake, "traffic",
                                                                         bucket="day")


def _row_groups(path) -> dict:
    con = store.connect(path, read_only=True)
    try:
        return {t: con.execute("SELECT COUNT(DISTINCT row_group_id) FROM pragma_storage_info(?)",
                               [t]).fetchone()[0] for t in ("events", "visits")}
    finally:
        con.close()


def test_appended_row_groups_are_merged_by_a_sync_that_finds_nothing_new(small_lake, tmp_path,
                                                                         monkeypatch):
    """A sync's checkpoint leaves its appends in row groups of their own (merging recompresses
    up to a full group: too slow for a sync of one object); a sync with nothing to load merges
    them once MERGE_WHEN_IDLE syncs appended, a report's check never does, and the
    MERGE_AT_MOST-th loading sync in a row merges anyway. The rows stay the same."""
    path = tmp_path / "store.duckdb"
    store.sync(small_lake, path)
    built = _row_groups(path)
    hour = 10
    def land_one():
        nonlocal hour
        hour += 1
        write_events(small_lake.local_root, [ev(f"m{hour}", "page_view",
                                                f"2026-11-22T{hour:02d}:00:00.000Z", SHOP)])
    # GIVEN MERGE_WHEN_IDLE syncs that each loaded one new object
    for _ in range(store.MERGE_WHEN_IDLE):
        land_one()
        assert store.sync(small_lake, path).merged is False
    appended = _row_groups(path)
    assert appended["events"] == built["events"] + store.MERGE_WHEN_IDLE
    expected = lake_rows(small_lake, "pages")
    # WHEN a report checks for new objects, THEN it does not merge
    assert rows(small_lake, path, "pages") == expected
    assert _row_groups(path) == appended
    # WHEN a sync finds nothing new, THEN it merges: fewer row groups, the same rows
    assert store.sync(small_lake, path).merged is True
    assert _row_groups(path)["events"] < appended["events"]
    assert rows(small_lake, path, "pages") == expected
    assert store.sync(small_lake, path).merged is False  # nothing left to merge
    # GIVEN a store never idle, WHEN the MERGE_AT_MOST-th loading sync runs, THEN it merges
    monkeypatch.setattr(store, "MERGE_AT_MOST", 2)
    merged = _row_groups(path)
    land_one()
    store.sync(small_lake, path)
    assert _row_groups(path)["events"] == merged["events"] + 1
    land_one()
    assert store.sync(small_lake, path).merged is True
    assert _row_groups(path)["events"] <= merged["events"]
    assert rows(small_lake, path, "pages") == lake_rows(small_lake, "pages")


@pytest.mark.parametrize("listed", [store.RECOUNT_LISTED, 0])
def test_visitors_on_two_sites_and_redeliveries_across_the_first_day(tmp_path, monkeypatch,
                                                                     listed):
    monkeypatch.setattr(store, "RECOUNT_LISTED", listed)
    # GIVEN A browsing both sites within minutes, and an event first delivered just before
    # midnight and delivered again just after it
    late = ev("r1", "page_view", "2026-11-21T23:59:59.000Z", SHOP + "/late", user=B)
    events = [
        ev("a1", "page_view", "2026-11-21T10:00:00.000Z", SHOP + "/"),
        ev("a2", "page_view", "2026-11-21T10:05:00.000Z", BLOG + "/post"),
        ev("a3", "page_view", "2026-11-21T10:20:00.000Z", SHOP + "/cart"),
        ev("a4", "conversion", "2026-11-21T10:21:00.000Z", SHOP + "/thanks"),
        ev("b0", "page_view", "2026-11-21T23:50:00.000Z", SHOP + "/", user=B),
        late, {**late, "received_at": "2026-11-22T00:00:04.000Z"},
        ev("b2", "page_view", "2026-11-22T00:10:00.000Z", SHOP + "/next", user=B),
    ]
    write_events(tmp_path / "lake", events)
    lake = lake_files.open_lake((tmp_path / "lake").as_uri(), "events/")
    path = tmp_path / "store.duckdb"
    store.sync(lake, path)
    # THEN per site, per day and across days the store answers what the lake answers
    for site in (None, "shop.test", "blog.test"):
        for first, last in (("2026-11-21", "2026-11-22"), ("2026-11-22", "2026-11-22")):
            for name, extra in (("sessions", {}), ("funnel", {"steps": "/,/cart,conversion"}),
                                ("referrers", {}), ("pages", {})):
                assert rows(lake, path, name, first, last, site=site, **extra) == lake_rows(
                    lake, name, first, last, site=site, **extra), (name, site, first)
    # and the day after midnight counts the re-delivered event once, in B's session
    assert lake_rows(lake, "sessions", "2026-11-22", "2026-11-22")[0][0] == 1


@pytest.mark.parametrize("listed", [store.RECOUNT_LISTED, 0])
def test_bot_events_left_out_as_over_the_lake(tmp_path, monkeypatch, listed):
    """Sessions of bots alone are left out; a visitor with bot and other events is numbered in
    the query (a bot event can join two of its sessions, or cut one), as over the lake: with the
    recounted visitors written into the SQL, and (more than RECOUNT_LISTED) joined."""
    monkeypatch.setattr(store, "RECOUNT_LISTED", listed)
    human, mixed, crawler = "h" * 32, "m" * 32, "c" * 32
    bot = {"is_bot": True, "browser": "Googlebot", "device": "bot"}
    people = {"is_bot": False, "browser": "Firefox", "device": "desktop"}
    events = [
        ev("h1", "page_view", "2026-11-21T10:00:00.000Z", SHOP + "/", user=human, **people),
        ev("h2", "page_leave", "2026-11-21T10:05:00.000Z", SHOP + "/", user=human,
           scroll_depth=80, **people),
        # the mixed visitor's bot event 20 minutes after, and its next page 20 minutes later:
        # one session with bots, two without
        ev("m1", "page_view", "2026-11-21T11:00:00.000Z", SHOP + "/", user=mixed, **people),
        ev("m2", "page_view", "2026-11-21T11:20:00.000Z", SHOP + "/a", user=mixed, **bot),
        ev("m3", "page_view", "2026-11-21T11:40:00.000Z", SHOP + "/b", user=mixed, **people),
        ev("m4", "page_leave", "2026-11-21T11:41:00.000Z", SHOP + "/b", user=mixed,
           scroll_depth=40, **people),
        ev("c1", "page_view", "2026-11-21T12:00:00.000Z", SHOP + "/", user=crawler, **bot),
        ev("c2", "page_leave", "2026-11-21T12:01:00.000Z", SHOP + "/", user=crawler,
           scroll_depth=100, **bot),
        ev("c3", "page_view", "2026-11-22T00:10:00.000Z", BLOG + "/", user=crawler, **bot),
    ]
    write_events(tmp_path / "lake", events)
    lake = lake_files.open_lake((tmp_path / "lake").as_uri(), "events/")
    path = tmp_path / "store.duckdb"
    store.sync(lake, path)
    for include in (False, True):
        for name in ("sessions", "summary", "pages", "entry_pages", "scroll", "browsers"):
            assert rows(lake, path, name, "2026-11-21", "2026-11-22", include_bots=include) == \
                lake_rows(lake, name, "2026-11-21", "2026-11-22", include_bots=include), name
    # THEN without bots: the human's visit and the mixed visitor's two
    assert lake_rows(lake, "sessions", "2026-11-21", "2026-11-22")[0][0] == 3
    assert lake_rows(lake, "sessions", "2026-11-21", "2026-11-22", include_bots=True)[0][0] == 4


def test_an_event_without_a_time_is_counted_as_over_the_lake(tmp_path):
    """An event without received_at (a hand-edited lake): its visitor is numbered in
    the query, as over the lake."""
    events = [ev("t1", "page_view", "2026-11-21T10:00:00.000Z", SHOP + "/", user=B),
              ev("t2", "page_view", "2026-11-21T10:10:00.000Z", SHOP + "/a", user=B),
              ev("u1", "page_view", "2026-11-21T11:00:00.000Z", SHOP + "/", user="u" * 32)]
    write_events(tmp_path / "lake", events)
    timeless = ev("t3", "page_view", "2026-11-21T10:20:00.000Z", SHOP + "/b", user=B)
    (tmp_path / "lake/events/dt=2026-11-21/timeless.jsonl.gz").write_bytes(gzip.compress(
        json.dumps({**timeless, "received_at": None}).encode() + b"\n"))
    lake = lake_files.open_lake((tmp_path / "lake").as_uri(), "events/")
    path = tmp_path / "store.duckdb"
    store.sync(lake, path)
    for name in ("sessions", "summary", "pages", "entry_pages", "exit_pages", "referrers"):
        assert rows(lake, path, name, "2026-11-21", "2026-11-21") == lake_rows(
            lake, name, "2026-11-21", "2026-11-21"), name


def _sql(name, **raw) -> str:
    opts = reports.options(name, {"from": "2026-11-21", "to": "2026-11-22", **raw})
    return store_sql.render(name, opts)


def test_traffic_and_pages_add_up_hourly_counts_kept_as_deliveries_and_forgets_change(tmp_path):
    """`traffic` and `pages` add up the store's hourly counts when the range (and the buckets)
    are whole hours. Those counts follow every change: a delivery received earlier arriving in
    a later object (the first delivery moves to another day), bots, sites, an event without a
    time, page leaves with and without an engaged time, and a forgotten visitor."""
    human, crawler = "h" * 32, "c" * 32
    bot = {"is_bot": True, "browser": "Googlebot", "device": "bot"}
    moved = ev("r1", "page_view", "2026-11-22T00:30:00.000Z", SHOP + "/late", user=B)
    write_events(tmp_path / "lake", [
        ev("a1", "page_view", "2026-11-21T10:00:00.000Z", SHOP + "/"),
        ev("a2", "click", "2026-11-21T10:40:00.000Z", SHOP + "/"),
        ev("h1", "page_view", "2026-11-21T22:15:00.000Z", BLOG + "/post", user=human),
        ev("c1", "page_view", "2026-11-21T23:10:00.000Z", BLOG + "/", user=crawler, **bot),
        moved, ev("b2", "page_view", "2026-11-22T01:10:00.000Z", SHOP + "/next", user=B),
        ev("b3", "page_leave", "2026-11-22T01:12:00.000Z", SHOP + "/next", user=B,
           engaged_milli_sec=4200),
        ev("b4", "page_leave", "2026-11-22T01:14:00.000Z", SHOP + "/next", user=B),
        ev("h2", "page_leave", "2026-11-21T22:16:00.000Z", BLOG + "/post", user=human,
           engaged_milli_sec=1000),
    ])
    timeless = ev("t1", "page_view", "2026-11-21T10:20:00.000Z", SHOP + "/", user="t" * 32)
    (tmp_path / "lake/events/dt=2026-11-21/timeless.jsonl.gz").write_bytes(gzip.compress(
        json.dumps({**timeless, "received_at": None}).encode() + b"\n"))
    lake = lake_files.open_lake((tmp_path / "lake").as_uri(), "events/")
    path = tmp_path / "store.duckdb"
    store.sync(lake, path)
    # the same event delivered earlier, before midnight, lands in a later object
    write_events(tmp_path / "lake", [{**moved, "received_at": "2026-11-21T23:59:00.000Z"}])
    assert store.sync(lake, path).objects == 1
    cases = [{}, {"bucket": "day"}, {"include_bots": True}, {"site": "blog.test"},
             {"tz": "America/New_York"}, {"tz": "America/New_York", "bucket": "day"},
             {"from": "2026-11-21T22:00:00", "to": "2026-11-22T01:00:00"}]
    for raw in cases:
        # THEN each uses the hourly counts and answers what the lake answers
        assert "FROM hours" in _sql("traffic", **raw), raw
        page_raw = {k: v for k, v in raw.items() if k != "bucket"}
        assert "FROM page_hours" in _sql("pages", **page_raw), raw
        for first, last in (("2026-11-21", "2026-11-22"), ("2026-11-22", "2026-11-22")):
            window = {"from": first, "to": last, **raw}
            assert rows(lake, path, "traffic", **window) == lake_rows(lake, "traffic", **window)
            window = {"from": first, "to": last, **page_raw}
            assert rows(lake, path, "pages", **window) == lake_rows(lake, "pages", **window)
    # and buckets or ranges that are not whole hours count the events themselves, the same
    for raw in ({"bucket": "15min"}, {"tz": "Asia/Kolkata"}, {"referrer": "shop.test"},
                {"from": "2026-11-21T22:30:00", "to": "2026-11-22T01:00:00"}):
        assert "FROM hours" not in _sql("traffic", **raw), raw
        assert rows(lake, path, "traffic", **raw) == lake_rows(lake, "traffic", **raw), raw
        raw = {k: v for k, v in raw.items() if k != "bucket"}
        assert ("FROM page_hours" in _sql("pages", **raw)) == (raw == {}), raw
        assert rows(lake, path, "pages", **raw) == lake_rows(lake, "pages", **raw), raw
    # WHEN a visitor is forgotten, THEN the hourly counts lose its events
    days = ("2026-11-21", "2026-11-22")
    before = rows(lake, path, "traffic", *days, bucket="day")
    assert store.forget_user_key(path, human) == 2
    after = rows(lake, path, "traffic", *days, bucket="day")
    assert [r[1:3] for r in after] == [(before[0][1] - 2, before[0][2] - 1), before[1][1:3]]
    assert BLOG + "/post" not in {r[0] for r in rows(lake, path, "pages", *days)}


def test_a_report_answers_from_the_store_while_another_sync_holds_it(small_lake, tmp_path):
    """A report's own check for new objects finds another sync running (its lock held), or the
    file open read-only by another report of this process: the store answers as it stands."""
    path = tmp_path / "store.duckdb"
    expected = rows(small_lake, path, "pages")  # builds the store
    with open(path.with_name(path.name + ".lock"), "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another sync at work
        assert rows(small_lake, path, "pages") == expected
    late = ev("late", "page_view", "2026-11-21T10:00:00.000Z", "https://shop.test/late", user=B)
    (small_lake.local_root / "events/dt=2026-11-21/late.jsonl.gz").write_bytes(
        gzip.compress(json.dumps(late).encode()))
    reader = store.connect(path, read_only=True)
    try:
        assert rows(small_lake, path, "pages") == expected  # cannot write now: as it stands
    finally:
        reader.close()
    assert rows(small_lake, path, "pages") != expected  # free again: the new object is loaded


def test_a_corrupt_or_truncated_object_is_skipped_named_and_retried(small_lake, tmp_path,
                                                                    capsys):
    path = tmp_path / "store.duckdb"
    good = small_lake.lake.keys("events/dt=2026-11-21/")[0]
    data = (small_lake.local_root / good).read_bytes()
    # GIVEN a truncated object and one that is not gzip at all
    folder = small_lake.local_root / "events" / "dt=2026-11-21"
    truncated = folder / ("1" * 64 + ".jsonl.gz")
    truncated.write_bytes(data[: len(data) // 2])
    garbage = folder / ("2" * 64 + ".jsonl.gz")
    garbage.write_bytes(b"not gzip at all")
    # WHEN the store syncs, THEN both are named (summary and warning) and the rest loads
    main(["sync", "--lake", small_lake.url, "--store", str(path)])
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert sorted(s["key"] for s in summary["skipped"]) == [
        f"events/dt=2026-11-21/{truncated.name}", f"events/dt=2026-11-21/{garbage.name}"]
    assert f"warning: skipped events/dt=2026-11-21/{garbage.name}" in out.err
    assert summary["objects"] == len(small_lake.lake.keys("events/")) - 2
    # WHEN one is repaired, THEN the next sync loads it (the other is still skipped)
    truncated.write_bytes(gzip.compress(json.dumps(
        ev("t1", "page_view", "2026-11-21T08:00:00.000Z", SHOP)).encode() + b"\n"))
    again = store.sync(small_lake, path)
    assert (again.objects, again.events) == (1, 1)
    assert [s["key"] for s in again.skipped] == [f"events/dt=2026-11-21/{garbage.name}"]
    garbage.unlink()
    assert rows(small_lake, path, "pages") == lake_rows(small_lake, "pages")


def test_a_store_of_an_older_schema_is_rebuilt(small_lake, tmp_path):
    import duckdb

    path = tmp_path / "store.duckdb"
    store.sync(small_lake, path)
    with duckdb.connect(str(path)) as con:  # GIVEN a store written by an older LogDig
        con.execute("UPDATE meta SET value = 'older' WHERE key = 'schema'")
        con.execute("DELETE FROM events WHERE event_type = 'click'")
    summary = store.sync(small_lake, path)  # WHEN it syncs, THEN it is rebuilt, not misread
    assert summary.rebuilt and summary.objects == len(small_lake.lake.keys("events/"))
    assert rows(small_lake, path, "heatmap", page="https://shop.example.com/cart") == lake_rows(
        small_lake, "heatmap", page="https://shop.example.com/cart")


def test_unwritable_or_foreign_store_paths_are_named(small_lake, tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "store.duckdb"
    with pytest.raises(store.StoreError, match=f"store path {missing} is not writable"):
        store.sync(small_lake, missing)
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "pages", "--from", "2026-11-20", "--to", "2026-11-22", "--lake",
              small_lake.url, "--store", str(missing)])
    assert exit_info.value.code == 2
    assert f"store path {missing} is not writable" in capsys.readouterr().err
    # A store of another lake is not silently replaced.
    other = tmp_path / "other"
    write_events(other, [ev("o1", "page_view", "2026-11-21T08:00:00.000Z", SHOP)])
    path = tmp_path / "store.duckdb"
    store.sync(small_lake, path)
    with pytest.raises(store.StoreError, match=f"store {path} holds the lake"):
        store.sync(lake_files.open_lake(other.as_uri(), "events/"), path)


def test_forget_removes_one_visitors_events(tmp_path):
    events = [ev("a1", "page_view", "2026-11-21T10:00:00.000Z", SHOP + "/"),
              ev("b1", "page_view", "2026-11-21T10:01:00.000Z", SHOP + "/", user=B),
              ev("b2", "page_view", "2026-11-21T10:02:00.000Z", SHOP + "/x", user=B)]
    write_events(tmp_path / "lake", events)
    lake = lake_files.open_lake((tmp_path / "lake").as_uri(), "events/")
    path = tmp_path / "store.duckdb"
    store.sync(lake, path)
    assert store.forget_user_key(path, B) == 2
    assert rows(lake, path, "pages") == [(SHOP + "/", 1, 1, None)]
    assert store.forget_user_key(tmp_path / "none.duckdb", B) == 0


def test_reports_use_the_default_store_of_the_configured_lake(small_lake, tmp_path, monkeypatch,
                                                              capsys):
    # GIVEN local mode's data directory holding the lake
    data = tmp_path / "data"
    (data / "lake").parent.mkdir(parents=True)
    small_lake.local_root.rename(data / "lake")
    monkeypatch.setenv("LOGDIG_DATA_DIR", str(data))
    args = ["report", "sessions", "--from", "2026-11-20", "--to", "2026-11-22", "--format",
            "json"]
    # WHEN a report runs (the lake named by a plain path, as the dashboard may), THEN it builds
    # and answers from data/store.duckdb, like --no-store
    answer = query.run_report("sessions", {"from": "2026-11-20", "to": "2026-11-22"},
                              lake_files.open_lake(str(data / "lake")))
    assert (data / "store.duckdb").exists()
    main(args)
    from_store = json.loads(capsys.readouterr().out)
    assert from_store == answer.records()
    main(args + ["--no-store"])
    assert json.loads(capsys.readouterr().out) == from_store
    main(["sync"])
    assert json.loads(capsys.readouterr().out)["objects"] == 0


@pytest.mark.usefixtures("mock_aws")
def test_an_s3_lake_downloads_each_new_object_once(s3_bucket, tmp_path, monkeypatch):
    from logdig.lake import DirLake

    # GIVEN the seeded objects in a bucket
    local = tmp_path / "local"
    generate(local, events=800, seed=9, start="2026-11-20", days=2, max_object_bytes=64 * 1024)
    lake = lake_files.open_lake(f"s3://{s3_bucket}/site/", "events/")
    for key in DirLake(local).keys("events/"):
        lake.lake.put(key, (local / key).read_bytes())
    fetched = []
    real_fetch = type(lake.lake).fetch
    monkeypatch.setattr(type(lake.lake), "fetch",
                        lambda self, key, workdir: fetched.append(key) or real_fetch(self, key,
                                                                                   workdir))
    path = tmp_path / "store.duckdb"
    # WHEN the store syncs twice and a report runs, THEN each object was downloaded once
    store.sync(lake, path)
    store.sync(lake, path)
    answer = rows(lake, path, "sessions", last="2026-11-21")
    assert sorted(fetched) == DirLake(local).keys("events/")
    assert answer == lake_rows(lake_files.open_lake(local.as_uri(), "events/"), "sessions",
                               last="2026-11-21")
