"""End-to-end counts: events POSTed over HTTP to local mode land once each in the lake."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.events_factory import clicks

KEY_RE = re.compile(r"^events/dt=\d{4}-\d{2}-\d{2}/[0-9a-f]{64}\.jsonl\.gz$")


def test_thousand_events_land_as_thousand_distinct_lines(local_server):
    # GIVEN local mode, WHEN 1000 events arrive in 50 concurrent requests of 20
    events = clicks(1000)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: local_server.post({"events": events[i:i + 20]}),
                                range(0, 1000, 20)))
    assert {r.status_code for r in replies} == {202}
    acked = {event_id for r in replies for event_id in r.json()["event_ids"]}
    summary = local_server.drain_now()

    # THEN the lake holds exactly those 1000 ids, one line each, in dt=/sha256-named objects
    lake = local_server.lake_events()
    assert len(lake) == 1000
    assert {e["event_id"] for e in lake} == acked == {e["event_id"] for e in events}
    assert summary["events"] == 1000
    keys = [p.relative_to(local_server.lake_dir).as_posix()
            for p in local_server.lake_dir.rglob("*.jsonl.gz")]
    assert keys and all(KEY_RE.match(k) for k in keys)
    # and /metrics sums both server workers
    metrics = requests.get(local_server.url + "/metrics", timeout=10).text
    assert "logdig_events_accepted_total 1000.0" in metrics


def test_timer_drains_once_the_threshold_is_reached(make_local_server):
    # GIVEN local mode whose timer drains at 5 messages every 0.2 s
    server = make_local_server(env={"LOGDIG_MIN_MESSAGES": "5", "LOGDIG_DRAIN_INTERVAL_SECONDS": "0.2",
                                    "LOGDIG_FLUSH_WAIT_MS": "0"})
    # WHEN 5 requests arrive one after the other (one message each)
    for i in range(5):
        assert server.post({"events": clicks(3, start=i * 3)}).status_code == 202
    # THEN the timer alone moves all 15 into the lake
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(server.lake_events()) < 15:
        time.sleep(0.2)
    assert len({e["event_id"] for e in server.lake_events()}) == 15


def test_events_accepted_before_a_restart_are_drained_after_it(make_local_server, tmp_path):
    # GIVEN events acknowledged by a local mode that is then stopped
    data = tmp_path / "kept"
    first = make_local_server(data_dir=data)
    ids = first.post({"events": clicks(40)}).json()["event_ids"]
    first.stop()
    # WHEN local mode starts again on the same data directory
    second = make_local_server(data_dir=data)
    second.drain_now()
    # THEN every acknowledged event is in the lake
    assert {e["event_id"] for e in second.lake_events()} == set(ids)
