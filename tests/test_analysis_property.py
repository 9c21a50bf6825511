"""Property: on any small lake, the SQL reports agree with a plain-Python reading of the rules
(one delivery per event_id, the earliest; sessions per user_key split after more than 30 minutes
without an event; buckets by received_at). Times fall on whole minutes so that gaps of exactly
30 minutes, sessions across midnight and bucket edges come up often."""

import math
import shutil
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import duck, lake_files, reports
from tests.lakegen import write_events

START = datetime(2026, 11, 22, tzinfo=UTC)
FIRST, LAST = "2026-11-22", "2026-11-23"
GAP_MS = 30 * 60 * 1000

event_st = st.tuples(
    st.sampled_from(["U" * 20, "V" * 20, "W" * 20, None]),
    st.sampled_from(["page_view", "page_view", "click", "conversion", "heartbeat"]),
    st.integers(0, 2 * 24 * 60 - 1),  # minute of the two days
    st.sampled_from([0, 0, 1, 2]),  # deliveries beyond the first: 1 identical, 2 = also a retry
)


def iso(ms: int) -> str:
    moment = START + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def deliveries(specs) -> tuple[list[dict], list[tuple]]:
    """(lake lines, unique events as (user, type, ms)) for the drawn specs."""
    lines, unique = [], []
    for n, (user, kind, minute, extra) in enumerate(specs):
        ms = minute * 60_000
        event = {"v": 1, "event_id": f"p{n}", "event_type": kind, "received_at": iso(ms),
                 "current_page": "https://p.test/a"}
        if user:
            event["user_key"] = user
        lines.append(event)
        if extra >= 1:
            lines.append(dict(event))
        if extra == 2 and minute < 2 * 24 * 60 - 1:  # a retry 3 s later, still inside the range
            lines.append({**event, "received_at": iso(ms + 3000)})
        unique.append((user, kind, ms, f"p{n}"))
    return lines, unique


def expected_sessions(unique) -> list[dict]:
    by_user = defaultdict(list)
    for user, kind, ms, event_id in unique:
        if user:
            by_user[user].append((ms, event_id, kind))
    sessions = []
    for events in by_user.values():
        events.sort()
        current = [events[0]]
        for previous, event in zip(events, events[1:], strict=False):
            if event[0] - previous[0] > GAP_MS:
                sessions.append(current)
                current = []
            current.append(event)
        sessions.append(current)
    return sessions


def run(root: Path, name: str, **extra) -> list[tuple]:
    lake = lake_files.open_lake(root.as_uri(), "events/")
    return duck.run(name, reports.options(name, {"from": FIRST, "to": LAST, **extra}), lake)[1]


def close(a: float | None, b: float | None) -> bool:
    # SQL rounds half away from zero, Python's round() to even: allow one unit in the last place.
    return (a is None and b is None) or math.isclose(a, b, abs_tol=1.01e-3)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_st, min_size=1, max_size=40))
def test_reports_follow_the_rules_on_any_small_lake(specs):
    lines, unique = deliveries(specs)
    root = Path(tempfile.mkdtemp(prefix="logdig-prop-"))
    try:
        write_events(root, lines, max_object_bytes=600)
        traffic = run(root, "traffic", bucket="hour")
        session_row = run(root, "sessions")[0]
        conversion_row = run(root, "conversions")[0]
    finally:
        shutil.rmtree(root)

    # traffic: every hour of both days, each event once in the hour of its first delivery
    hours = Counter(ms // 3_600_000 for _, _, ms, _ in unique)
    views = Counter(ms // 3_600_000 for _, kind, ms, _ in unique if kind == "page_view")
    assert [(r[1], r[2]) for r in traffic] == [(hours[h], views[h]) for h in range(48)]

    # sessions: count, average duration, pages per session, bounce rate
    sessions = expected_sessions(unique)
    count, avg_duration, pages, bounce = session_row
    assert count == len(sessions)
    if sessions:
        page_views = [sum(1 for e in s if e[2] == "page_view") for s in sessions]
        assert close(avg_duration, sum((s[-1][0] - s[0][0]) / 1000 for s in sessions) / count)
        assert close(pages, sum(page_views) / count)
        assert close(bounce, sum(1 for p in page_views if p <= 1) / count)
    else:
        assert (avg_duration, pages, bounce) == (None, None, None)

    # conversions: every conversion event, and the sessions holding one
    converting = sum(1 for s in sessions if any(e[2] == "conversion" for e in s))
    assert conversion_row[:3] == (sum(1 for u in unique if u[1] == "conversion"), converting,
                                  len(sessions))
