"""The reports the dashboard shows, on the hand-made lake of test_analysis_reports: every number
is worked out by hand from the events listed there (sessions A1, A2, B1; g1 without a user)."""

import pytest

from analysis import lake_files, reports
from tests.lakegen import write_events
from tests.test_analysis_reports import EVENTS, HOME, PRICING, B, run


@pytest.fixture(scope="module")
def hand_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    write_events(root, EVENTS)
    return lake_files.open_lake(root.as_uri(), "events/")


def test_summary_is_the_tiles_in_one_row(hand_lake):
    # A1 23:50 -> 00:12 (1320 s, 2 views, converts), A2 (0 s, 1 view), B1 (300 s, 1 view)
    assert run(hand_lake, "summary") == [
        {"visitors": 2, "visits": 3, "page_views": 4, "views_per_visit": 1.33,
         "bounce_rate": 0.6667, "avg_visit_seconds": 540.0, "conversions": 1,
         "conversion_rate": 0.3333}]


def test_entry_and_exit_pages_per_session(hand_lake):
    assert run(hand_lake, "entry_pages") == [{"page": HOME, "sessions": 2},
                                             {"page": PRICING, "sessions": 1}]
    assert run(hand_lake, "exit_pages") == [{"page": PRICING, "sessions": 2},
                                            {"page": HOME, "sessions": 1}]


def test_events_sites_and_elements(hand_lake):
    assert run(hand_lake, "events") == [{"event": "conversion", "events": 1, "visitors": 1}]
    assert run(hand_lake, "sites") == [{"site": "s.test", "events": 12, "page_views": 5}]
    assert run(hand_lake, "elements", page=PRICING) == [
        {"tag": "", "element_id": "", "classes": "", "text": "", "clicks": 3}]


def test_active_sessions_are_those_with_an_event_in_the_last_5_minutes(hand_lake):
    rows = run(hand_lake, "active_sessions", **{"from": "2026-11-23T09:00:00Z",
                                                "to": "2026-11-23T10:09:59Z"})
    assert rows == [{"visitor": B, "current_page": PRICING, "last_activity": "2026-11-23T10:05:00Z",
                     "events": 5, "duration_s": 300.0}]
    assert run(hand_lake, "active_sessions", **{"from": "2026-11-23T09:00:00Z",
                                                "to": "2026-11-23T10:10:01Z"}) == []


def test_datetime_range_is_start_inclusive_end_exclusive(hand_lake):
    rows = run(hand_lake, "traffic", bucket="hour",
               **{"from": "2026-11-23T10:01:00Z", "to": "2026-11-23T10:05:00Z"})
    # f2 10:01, f3 10:02, f5 10:03 are in; f1 10:00 is before, f4 10:05 is the excluded end
    assert rows == [{"bucket_start": "2026-11-23T10:00:00Z", "events": 3, "page_views": 0,
                     "visitors": 0}]


def test_dates_and_day_buckets_follow_the_time_zone(hand_lake):
    # Berlin is UTC+1 in November: its 23 Nov is 22 Nov 23:00 UTC .. 23 Nov 23:00 UTC.
    rows = run(hand_lake, "traffic", bucket="day", tz="Europe/Berlin",
               **{"from": "2026-11-23", "to": "2026-11-23"})
    assert rows == [{"bucket_start": "2026-11-22T23:00:00Z", "events": 12, "page_views": 5,
                     "visitors": 2}]


def test_site_page_and_referrer_filters(hand_lake):
    assert run(hand_lake, "pages", site="S.TEST") == run(hand_lake, "pages")
    assert run(hand_lake, "pages", site="other.test") == []
    assert run(hand_lake, "pages", page=PRICING + "?q=1") == [
        {"page": PRICING, "page_views": 2, "visitors": 2, "avg_engaged_ms": 50000.0}]
    # Visitors who came from t.co: B only.
    assert run(hand_lake, "summary", referrer="t.co")[0]["visitors"] == 1
    assert run(hand_lake, "summary", referrer="t.co")[0]["visits"] == 1


@pytest.mark.parametrize(("raw", "message"), [
    ({"from": "2026-11-23T25:00"}, "--from '2026-11-23T25:00' must be a date"),
    ({"tz": "Mars/Olympus"}, "--tz 'Mars/Olympus' must be a time zone"),
    ({"site": "a b"}, "--site 'a b' must be a host name"),
    ({"from": "2026-11-23T10:00:00Z", "to": "2026-11-23T10:00:00Z"}, "a datetime --to is exclusive"),
])
def test_bad_range_and_filter_options_are_named(raw, message):
    with pytest.raises(reports.ReportError, match=message):
        reports.options("pages", {"from": "2026-11-22", "to": "2026-11-23", **raw})
