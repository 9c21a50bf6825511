"""Audience reports on a hand-made lake, from the lake directly and from the query store alike:
bots left out unless asked, visitors stitched across devices by member id, countries, devices,
scroll depth, members, one site at a time. Every number is worked out by hand from EVENTS.

Member "member-123" browses anonymously on a laptop (P), signs in there, then comes back on a
phone (Q) signed in: one visitor. R is an anonymous tablet, O a row written before the audience
fields existed (a person, of no known country), G is Googlebot. X browses another site.
"""

import json

import pytest

from analysis import lake_files, query, reports
from analysis.__main__ import main
from tests.lakegen import write_events

DAY = "2026-11-23"
HOME, PRICING, OTHER = "https://s.test/home", "https://s.test/pricing", "https://other.test/"
LAPTOP = {"country": "GB", "browser": "Chrome", "os": "Windows", "device": "desktop", "is_bot": False}
PHONE = {"country": "US", "browser": "Mobile Safari", "os": "iOS", "device": "mobile", "is_bot": False}
TABLET = {"country": "DE", "browser": "Mobile Safari", "os": "iOS", "device": "tablet", "is_bot": False}
BOT = {"country": "US", "browser": "Googlebot", "os": "Other", "device": "bot", "is_bot": True}
DESKTOP_FR = {**LAPTOP, "country": "FR", "browser": "Firefox"}


def ev(event_id, event_type, hhmm, page, user_key, audience=None, **fields):
    return {"v": 1, "event_id": event_id, "event_type": event_type, "current_page": page,
            "user_key": user_key * 20, "received_at": f"{DAY}T{hhmm}:00.000Z",
            **(audience or {}), **fields}


SITE_EVENTS = [
    ev("p1", "page_view", "10:00", HOME, "P", LAPTOP),
    ev("p2", "page_view", "10:02", PRICING, "P", LAPTOP, user_id="member-123"),
    ev("p3", "page_leave", "10:03", PRICING, "P", LAPTOP, user_id="member-123", scroll_depth=80),
    ev("q1", "page_view", "14:00", HOME, "Q", PHONE, user_id="member-123"),
    ev("q2", "page_leave", "14:01", HOME, "Q", PHONE, user_id="member-123", scroll_depth=30),
    ev("r1", "page_view", "11:00", HOME, "R", TABLET),
    ev("r2", "page_leave", "11:02", HOME, "R", TABLET, scroll_depth=100),
    ev("r3", "page_leave", "11:03", HOME, "R", TABLET, scroll_depth=60),
    ev("g1", "page_view", "12:00", HOME, "G", BOT),
    ev("g2", "page_view", "12:01", PRICING, "G", BOT),
    ev("g3", "page_leave", "12:02", HOME, "G", BOT, scroll_depth=0),
    ev("o1", "page_view", "13:00", HOME, "O"),
]
EVENTS = SITE_EVENTS + [ev("x1", "page_view", "15:00", OTHER, "X", DESKTOP_FR)]


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    both, one = tmp_path_factory.mktemp("two-sites"), tmp_path_factory.mktemp("one-site")
    write_events(both, EVENTS, max_object_bytes=600)
    write_events(one, SITE_EVENTS, max_object_bytes=600)
    return {name: lake_files.open_lake(root.as_uri(), "events/")
            for name, root in (("both", both), ("one", one))}


@pytest.fixture(scope="module", params=["lake", "store"])
def run(request, lakes, tmp_path_factory):
    """Report rows as dicts, from the lake directly or from a query store of it (one store per
    lake, synced once)."""
    stores = {}

    def run_report(name, lake="both", check_site=True, **raw):
        if request.param == "store":
            store = stores.setdefault(lake, tmp_path_factory.mktemp("store") / "store.duckdb")
        else:
            store = False
        return query.run_report(name, {"from": DAY, "to": DAY, **raw}, lakes[lake],
                                store=store, check_site=check_site).records()

    return run_report


def test_visitors_are_stitched_across_devices_and_bots_are_left_out(run):
    (summary,) = run("summary")
    assert (summary["visitors"], summary["visits"], summary["page_views"]) == (4, 5, 6)
    (traffic,) = run("traffic", bucket="day")
    assert (traffic["visitors"], traffic["page_views"]) == (4, 6)
    assert {r["page"]: r["visitors"] for r in run("pages")} == {HOME: 3, PRICING: 1, OTHER: 1}


def test_include_bots_keeps_them(run):
    (summary,) = run("summary", include_bots=True)
    assert (summary["visitors"], summary["visits"], summary["page_views"]) == (5, 6, 8)
    assert {r["page"]: r["visitors"] for r in run("pages", include_bots="1")} == \
        {HOME: 4, PRICING: 2, OTHER: 1}


def test_countries_and_devices_count_visitors_and_visits(run):
    assert [(r["country"], r["visitors"], r["visits"]) for r in run("countries")] == [
        ("(unknown)", 1, 1), ("DE", 1, 1), ("FR", 1, 1), ("GB", 1, 1), ("US", 1, 1)]
    assert [(r["device"], r["visitors"], r["visits"]) for r in run("devices")] == [
        ("desktop", 2, 2), ("(unknown)", 1, 1), ("mobile", 1, 1), ("tablet", 1, 1)]
    with_bots = run("countries", include_bots=True)
    assert (with_bots[0]["country"], with_bots[0]["visitors"], with_bots[0]["visits"]) == ("US", 2, 2)
    assert ("bot", 1, 1) in [(r["device"], r["visitors"], r["visits"])
                             for r in run("devices", include_bots=True)]
    assert [(r["browser"], r["visitors"], r["visits"]) for r in run("browsers")] == [
        ("Mobile Safari", 2, 2), ("(unknown)", 1, 1), ("Chrome", 1, 1), ("Firefox", 1, 1)]
    assert [(r["os"], r["visitors"], r["visits"]) for r in run("os")] == [
        ("Windows", 2, 2), ("iOS", 2, 2), ("(unknown)", 1, 1)]


def test_scroll_per_page_at_the_deepest_of_each_visit(run):
    assert run("scroll") == [
        {"page": HOME, "page_views": 2, "median_depth": 65.0, "reached_25": 1.0,
         "reached_50": 0.5, "reached_75": 0.5, "reached_100": 0.5},
        {"page": PRICING, "page_views": 1, "median_depth": 80.0, "reached_25": 1.0,
         "reached_50": 1.0, "reached_75": 1.0, "reached_100": 0.0},
    ]
    home = run("scroll", include_bots=True)[0]
    assert (home["page_views"], home["median_depth"], home["reached_25"], home["reached_50"]) == \
        (3, 30.0, 0.6667, 0.3333)


@pytest.mark.parametrize("median", ["engine", "counted"])
def test_scroll_median_and_shares_match_python_on_random_depths(tmp_path, monkeypatch, median):
    """Python's median and shares over random depths, with ties, odd and even counts, from the
    lake and the store: by DuckDB's own median, and counted per depth as for Athena (whose
    median is approximate; here DuckDB runs that SQL)."""
    import random
    import statistics

    from analysis.dialects import DuckDB

    if median == "counted":
        monkeypatch.setattr(DuckDB, "median", lambda self, value: None)

    rng = random.Random(11)
    pages = {f"https://s.test/p{n}": [rng.choice([0, 10, 25, 37, 50, 50, 75, 90, 100, 100])
                                      for _ in range(rng.randint(1, 9))] for n in range(12)}
    events = [ev(f"{page[-2:]}-{n}", "page_leave", f"1{n}:00", page, f"V{page[-2:]}{n}",
                 LAPTOP, scroll_depth=depth)
              for page, depths in pages.items() for n, depth in enumerate(depths)]
    write_events(tmp_path / "lake", events)
    lake = lake_files.open_lake((tmp_path / "lake").as_uri(), "events/")
    for store in (False, tmp_path / "store.duckdb"):
        got = {r["page"]: r for r in query.run_report(
            "scroll", {"from": DAY, "to": DAY}, lake, store=store).records()}
        for page, depths in pages.items():
            n = len(depths)
            assert got[page]["page_views"] == n
            assert got[page]["median_depth"] == round(statistics.median(depths), 1), (page, depths)
            for percent in (25, 50, 75, 100):
                assert got[page][f"reached_{percent}"] == round(
                    sum(d >= percent for d in depths) / n, 4)


def test_members_include_anonymous_events_before_sign_in(run):
    assert run("members") == [{"user_id": "member-123", "first_seen": f"{DAY}T10:00:00Z",
                               "last_seen": f"{DAY}T14:01:00Z", "visits": 2, "devices": 2}]


@pytest.mark.parametrize("name", sorted(reports.REPORTS))
def test_a_two_site_lake_filtered_by_site_equals_the_one_site_lake(run, name):
    needs = {"page": HOME} if "page" in reports.REPORTS[name].options else {}
    needs.update({"steps": "/home,/pricing"} if name == "funnel" else {})
    if name == "active_sessions":
        needs["to"] = f"{DAY}T14:03:00Z"
    bots = name in ("summary", "devices", "scroll")  # and with bots kept, where they show
    filtered = run(name, site="S.Test", include_bots=bots, **needs)
    assert filtered == run(name, lake="one", include_bots=bots, **needs)


def test_a_site_naming_no_host_in_the_lake_is_an_error(run):
    with pytest.raises(reports.ReportError, match=r"--site 'nope\.test' names no host in the lake "
                       r"from 2026-11-23 to 2026-11-23 \(hosts there: s\.test, other\.test\)"):
        run("summary", site="nope.test")
    assert run("countries", site="other.test") == [{"country": "FR", "visitors": 1, "visits": 1}]
    # A caller that shows a quiet site (the dashboard) gets empty rows instead.
    assert run("countries", site="nope.test", check_site=False) == []


def test_cli_include_bots_and_a_bad_site_exit_2(lakes, capsys):
    lake = ["--lake", lakes["both"].local_root.as_uri(), "--from", DAY, "--to", DAY]
    main(["report", "devices", "--include-bots", "--format", "csv", *lake])
    assert "bot,1,1" in capsys.readouterr().out.splitlines()
    with pytest.raises(SystemExit) as stop:
        main(["report", "summary", "--site", "nope.test", *lake])
    assert stop.value.code == 2
    assert "error: --site 'nope.test' names no host" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["maybe", "2", "yes please"])
def test_a_bad_include_bots_value_is_named(value):
    with pytest.raises(reports.ReportError, match=f"--include-bots '{value}' must be 1 or 0"):
        reports.options("summary", {"from": DAY, "to": DAY, "include_bots": value})


def test_a_parquet_day_written_before_the_audience_columns_still_reads(tmp_path):
    # GIVEN a Parquet file of the old schema (no audience columns) and NDJSON of the new one
    from analysis import duck
    from logdig.lake_layout import object_bytes

    con = duck.connect()
    old = tmp_path / "dt=2026-11-22" / "events.parquet"
    old.parent.mkdir()
    con.execute(f"""COPY (SELECT 'o1' AS event_id, 'page_view' AS event_type, '{"O" * 20}' AS user_key,
        '{HOME}' AS current_page, '2026-11-22T10:00:00.000Z' AS received_at)
        TO '{old}' (FORMAT parquet)""")
    new = tmp_path / "dt=2026-11-23" / "x.jsonl.gz"
    new.parent.mkdir()
    new.write_bytes(object_bytes([json.dumps(SITE_EVENTS[0])]))
    # WHEN the lake view is made over both
    duck.create_view(con, [str(old)], [str(new)])
    rows = con.execute("SELECT event_id, country, device, is_bot, user_id, scroll_depth "
                       "FROM lake_events ORDER BY event_id").fetchall()
    # THEN the old rows read with NULL audience columns, the new ones with theirs
    assert rows == [("o1", None, None, None, None, None), ("p1", "GB", "desktop", False, None, None)]
