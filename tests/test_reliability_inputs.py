"""Hostile and foreign input (issue 12, defects 5-7): the batcher lands only lines that fit the
lake schema, POST / takes only the original tracker's form or JSON, CORS grants only the tokens'
sites, and every answer says nosniff. In-process: Flask's test client, the local queue, a lake
directory."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings

from app import create_app
from config import ConfigError, load_settings
from logdig.drain import DrainOptions, check_timing, drain
from logdig.lake import DirLake
from logdig.lake_schema import COLUMNS
from logdig.line_check import COLUMN_CHECKS, line_problem
from logdig.local_queue import LocalQueue
from tests.events_factory import click
from tests.localserver import read_lake_events
from tests.test_core_property import clean_events

OPTIONS = DrainOptions(min_messages=1, max_wait_seconds=0, margin_seconds=0, wait_seconds=0)
NOW = "2026-11-29T12:00:00.000Z"


def line(**fields) -> str:
    event = {"v": 1, "event_type": "click", "event_id": fields.pop("event_id", "e1"),
             "received_at": NOW, **fields}
    return json.dumps(event)  # json.dumps writes NaN and Infinity, as a careless producer would


@pytest.fixture
def parts(tmp_path):
    return LocalQueue(tmp_path / "queue.sqlite3"), DirLake(tmp_path / "lake"), tmp_path / "lake"


# ---------------------------------------------------------------- defect 5: the lake schema


def test_lines_off_the_lake_schema_go_to_bad_and_the_rest_of_the_message_lands(parts):
    # GIVEN one message from another producer: two good lines among lines a typed reader
    # (Athena, Spark with the lake's schema) would choke on
    queue, lake, root = parts
    bad = {
        "x: must be a finite number": line(event_id="nan", x=float("nan")),
        "y: must be a finite number": '{"v":1,"event_type":"click","event_id":"big","received_at":"'
                                      + NOW + '","y":1e400}',
        "event_id: must be a string": line(event_id=["a", "b"]),
        "received_at: '9999-12-31T23:59:59Z' is outside": line(event_id="far",
                                                               received_at="9999-12-31T23:59:59Z"),
        "load_count: must be a whole number": line(event_id="half", load_count=1.5),
        "colour: is not a column of the lake": line(event_id="extra", colour="red"),
    }
    good = [line(event_id="ok1", x=5), line(event_id="ok2", props={"plan": "pro", "n": 2})]
    queue.send_batch(["\n".join([good[0], *bad.values(), good[1]]) + "\n"])

    # WHEN the batcher drains it
    summary = drain(queue, lake, OPTIONS)

    # THEN the good lines are in events/, no dt=9999 partition exists, and each bad line is kept
    # under bad/ with a reason naming its field
    assert sorted(e["event_id"] for e in read_lake_events(root / "events")) == ["ok1", "ok2"]
    assert [p.name for p in (root / "events").iterdir()] == ["dt=2026-11-29"]
    (record,) = [json.loads(lake.get(key)) for key in lake.keys("bad/")]
    kept = {item["text"]: item["reason"] for item in record["lines"]}
    assert set(kept) == set(bad.values())
    for reason, text in bad.items():
        assert kept[text].startswith(reason)
    assert (summary["events"], summary["bad_lines"], summary["bad_messages"]) == (2, len(bad), 1)
    assert queue.depth() == 0


def test_every_lake_column_is_checked_by_its_lake_type():
    # The check is derived from the contract: every column (client and server fields, audience
    # fields included) has one, and a value of the wrong type is named.
    assert set(COLUMN_CHECKS) == {name for name, _ in COLUMNS}
    wrong = {"string": 5, "int": "5", "bigint": [5], "double": "5", "boolean": "true",
             "map<string,string>": [1]}
    for name, lake_type in COLUMNS:
        problem = line_problem({"received_at": NOW, name: wrong[lake_type]}, time.time())
        assert problem is not None and problem.startswith(f"{name}: "), (name, problem)


@pytest.fixture(scope="module")
def collector_and_drain(tmp_path_factory):
    """One collector on a local queue, and a drain of that queue into a lake directory."""
    settings_ = load_settings({}, data_dir=tmp_path_factory.mktemp("accepts"), flush_wait_ms=0)
    client = create_app(settings_).test_client()
    queue, lake = LocalQueue(settings_.queue_path), DirLake(settings_.lake_dir)
    return client, lambda: drain(queue, lake, OPTIONS)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=clean_events)
def test_what_the_collector_accepts_the_batcher_lands(collector_and_drain, event):
    # GIVEN any event the collector accepts (odd Unicode in every free-text field)
    client, drain_now = collector_and_drain
    reply = client.post("/v1/logs", json=event)
    if reply.status_code in (400, 413):  # not accepted (props past 4 KiB, a 12-fold escape)
        return
    assert reply.status_code == 202, reply.get_json()

    # WHEN it is drained, THEN it lands: the collector's output always fits the lake schema
    summary = drain_now()
    assert (summary["events"], summary["bad_lines"]) == (1, 0)


def test_a_visibility_timeout_too_short_for_the_margin_is_refused_at_start():
    options = DrainOptions(margin_seconds=10, wait_seconds=1)
    with pytest.raises(ConfigError, match="visibility timeout of 5 s.*LOGDIG_DRAIN_MARGIN_SECONDS"):
        check_timing(5, 120, options)
    with pytest.raises(ConfigError, match="budget of 8 s.*LOGDIG_DRAIN_BUDGET_SECONDS"):
        check_timing(300, 8, options)
    check_timing(12, 120, options)  # 10 s kept + 1 s poll < 12 s: works


# ---------------------------------------------------------------- defect 6: POST /


@pytest.fixture
def client(tmp_path):
    return create_app(load_settings({}, data_dir=tmp_path, flush_wait_ms=0)).test_client()


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "application/octet-stream", 415),
    (b"<svg onload=alert(1)>", "image/svg+xml", 415),
    (b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\n5\r\n--b--\r\n",
     "multipart/form-data; boundary=b", 415),
    (b"\x89PNG\r\n\x1a\n\x00\x00", None, 400),  # no content type: read as JSON, which it is not
    (b"colour=red&size=9", "application/x-www-form-urlencoded", 400),  # none of the tracker's fields
])
def test_post_root_refuses_anything_but_the_original_form_or_json(client, body, content_type,
                                                                  status):
    headers = {"Content-Type": content_type} if content_type else {}
    reply = client.post("/", data=body, headers=headers)
    assert reply.status_code == status, reply.get_json()
    assert reply.get_json()["error"]["field"] in ("Content-Type", "body")
    assert LocalQueue(client.application.config["LOGDIG"].queue_path).depth() == 0


def test_post_root_still_takes_the_original_form_and_json(client):
    form = client.post("/", data={"x": "5", "y": "7", "current_page": "https://site.example/"})
    as_json = client.post("/", json=click(1))
    assert (form.status_code, as_json.status_code) == (202, 202)


# ---------------------------------------------------------------- defect 7: CORS and nosniff

PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}


def test_preflight_grants_only_the_sites_the_tokens_name(tmp_path):
    # GIVEN tokens tied to sites and the default LOGDIG_ALLOWED_ORIGINS=*
    settings_ = load_settings({"LOGDIG_TOKENS": "shop=https://shop.example|https://www.shop.example,"
                                                "blog=https://blog.example"}, data_dir=tmp_path)
    client = create_app(settings_).test_client()
    for path in ("/v1/logs", "/"):
        granted = client.options(path, headers={"Origin": "https://blog.example", **PREFLIGHT})
        assert granted.headers["Access-Control-Allow-Origin"] == "https://blog.example"
        refused = client.options(path, headers={"Origin": "https://evil.example", **PREFLIGHT})
        assert "Access-Control-Allow-Origin" not in refused.headers


def test_a_token_usable_anywhere_keeps_the_wildcard(tmp_path):
    settings_ = load_settings({"LOGDIG_TOKENS": "open,shop=https://shop.example"}, data_dir=tmp_path)
    client = create_app(settings_).test_client()
    reply = client.options("/v1/logs", headers={"Origin": "https://any.example", **PREFLIGHT})
    assert reply.headers["Access-Control-Allow-Origin"] in ("*", "https://any.example")


def test_every_answer_says_nosniff(client):
    replies = [
        client.post("/v1/logs", data=b'{"event_type": "<script>alert(1)</script>"}',
                    content_type="application/json"),  # an error body that echoes input
        client.post("/v1/logs", data=b"\xff", content_type="text/html"),
        client.get("/nowhere"),
        client.post("/v1/logs", json=click(1)),
        client.get("/readyz"),
        client.get("/"),
        client.get("/clickTracker.js"),
    ]
    assert [r.headers.get("X-Content-Type-Options") for r in replies] == ["nosniff"] * len(replies)
    assert [r.status_code for r in replies][:4] == [400, 415, 404, 202]
