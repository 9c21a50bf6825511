"""python -m bench.loadtest: safe by default, a summary of what was sent and answered, and the
acknowledged events found in (or missing from) the lake. Bounded: a few requests a second for a
second or two (~15 s in all, most of it local mode starting)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal

import pytest

from bench import loadtest
from logdig import lake_layout
from logdig.lake import DirLake

FAST_DRAIN = {"LOGDIG_MIN_MESSAGES": "1", "LOGDIG_MAX_WAIT_SECONDS": "0",
              "LOGDIG_DRAIN_INTERVAL_SECONDS": "0.2"}


@pytest.mark.parametrize("argv, message", [
    (["http://192.0.2.10:8000/v1/logs"], "URL: host '192.0.2.10' is not loopback"),
    (["ftp://127.0.0.1/"], "URL: 'ftp://127.0.0.1/' is not an http:// or https:// URL"),
    (["http://127.0.0.1:1", "--rate", "0"], "argument --rate: '0' must be more than 0"),
    (["http://127.0.0.1:1", "--events-per-request", "501"], "--events-per-request: 501 is more"),
])
def test_bad_or_unsafe_options_are_refused_naming_them(argv, message, capsys):
    with pytest.raises(SystemExit):
        loadtest.parse_args(argv)
    assert message in capsys.readouterr().err


def test_a_remote_url_is_taken_with_yes_and_a_bare_origin_gets_the_endpoint():
    args = loadtest.parse_args(["http://192.0.2.10:8000", "--yes"])
    assert args.url == "http://192.0.2.10:8000/v1/logs"


def test_verify_lake_names_the_acknowledged_events_that_never_arrived(tmp_path):
    # GIVEN a lake holding two of three acknowledged events
    lake = DirLake(tmp_path)
    day = lake_layout.utc_day(0)
    lines = "".join(json.dumps({"event_id": i, "event_type": "click"}) + "\n" for i in ("a", "b"))
    data = gzip.compress(lines.encode())
    lake.put(lake_layout.object_key("events/", day, data), data)
    # WHEN the load test checks it; THEN the third is missing (no waiting: wait 0)
    missing = loadtest.verify_lake(lake, "events/", ["a", "b", "c"], [day], wait=0, sleep=lambda s: None)
    assert missing == ["c"]


def test_a_run_against_local_mode_counts_answers_and_finds_every_event_in_the_lake(
        make_local_server, capsys):
    # GIVEN local mode draining as soon as anything is queued
    server = make_local_server(env=FAST_DRAIN)
    # WHEN a short load runs, checking the lake afterwards
    code = loadtest.main([server.url, "--rate", "20", "--duration", "1.5", "--events-per-request", "3",
                          "--verify-lake", str(server.lake_dir), "--verify-wait", "60"])
    out = capsys.readouterr().out
    # THEN every request was answered 2xx and every acknowledged event reached the lake
    assert code == 0, out
    assert "sent 30 requests" in out and "2xx 30  4xx 0  503 0  other 5xx 0  errors 0" in out
    assert "acknowledged events: 90" in out
    assert "lake: 90 of 90 acknowledged events arrived, 0 missing" in out
    assert len(out.splitlines()) > 5  # a live line per second, then the summary


def test_ctrl_c_stops_the_load_and_gives_the_summary_so_far(local_server):
    # GIVEN a load meant to last a minute
    async def interrupted():
        run = asyncio.create_task(loadtest.run_load(local_server.url + "/v1/logs", 10, 60, 1, 10))
        await asyncio.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)  # WHEN Ctrl-C comes after a second
        return await run

    tally, seconds, stopped = asyncio.run(interrupted())
    # THEN it stops at once, saying so, with what it sent until then
    assert stopped and seconds < 5
    assert 5 <= tally.sent <= 20 and tally.ok + tally.errors <= tally.sent
    assert "stopped (Ctrl-C) after" in loadtest.summary(tally, seconds, 1, stopped)
