"""Wire level: collector -> SQS -> lambda_handler -> S3, all over HTTP to moto's server on loopback."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from types import SimpleNamespace

import pytest

from app import create_app
from config import load_settings
from lambda_sqs_to_s3 import handler
from logdig.events import received_date
from logdig.packing import dumps
from tests.events_factory import clicks
from tests.motoserver import (
    FakeLambdaContext,
    lambda_env,
    ndjson_events,
    queued_events,
    running_moto,
    s3_objects,
)

SHA_KEY_RE = re.compile(r"^(?P<prefix>.*)dt=(?P<date>\d{4}-\d{2}-\d{2})/(?P<sha>[0-9a-f]{64})\.jsonl\.gz$")

pytestmark = pytest.mark.wire


@pytest.fixture(scope="module")
def moto():
    with running_moto() as server:
        yield server


@pytest.fixture
def wire(moto, monkeypatch):
    """An empty moto account with one queue and one bucket; boto3 and the handler pointed at it."""
    moto.reset()
    queue_url, bucket = moto.create_queue(), moto.create_bucket()
    with lambda_env(monkeypatch, moto, queue_url, bucket):
        yield SimpleNamespace(queue_url=queue_url, bucket=bucket, sqs=moto.client("sqs"),
                              s3=moto.client("s3"))


def collector(wire):
    settings = load_settings({}, queue_url=wire.queue_url, bucket=wire.bucket)
    return create_app(settings).test_client()


def queue_counts(wire) -> tuple[int, int]:
    attributes = wire.sqs.get_queue_attributes(
        QueueUrl=wire.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]))


def test_collected_events_land_in_sha256_named_gzip_ndjson_objects(wire):
    # GIVEN the collector with its queue on moto's server, and 3 requests in the 3 accepted shapes
    client = collector(wire)
    events = clicks(45)
    replies = [
        client.post("/v1/logs", json=events[0]),
        client.post("/v1/logs", json=events[1:20]),
        client.post("/v1/logs", data=json.dumps({"events": events[20:]}), content_type="text/plain"),
    ]
    assert [r.status_code for r in replies] == [202, 202, 202]
    acked = [i for r in replies for i in r.get_json()["event_ids"]]
    assert acked == [e["event_id"] for e in events]
    # and a page still running the original tracker form-posts to the root
    legacy = client.post("/", data={"token": "t1", "current_page": "https://old.example/a",
                                    "link": "https://old.example/b", "x": "12", "y": "34.5",
                                    "user_key": "B" * 20, "load_count": "2"})
    assert legacy.status_code == 202
    (legacy_id,) = legacy.get_json()["event_ids"]
    assert queue_counts(wire)[0] >= 1

    # WHEN the Lambda handler runs with a context whose clock runs down
    context = FakeLambdaContext()
    summary = handler.lambda_handler({}, context)

    # THEN every event sits once in a gzip NDJSON object named by the SHA-256 of its bytes
    objects = s3_objects(wire.s3, wire.bucket)
    assert objects and summary["objects"] == len(objects)
    lake = []
    for key, data in objects.items():
        match = SHA_KEY_RE.match(key)
        assert match, key
        assert match["prefix"] == "events/"
        assert hashlib.sha256(data).hexdigest() == match["sha"]
        assert data[:2] == b"\x1f\x8b"  # gzip magic
        lines = ndjson_events(data)
        assert {received_date(e) for e in lines} == {match["date"]}
        lake.extend(lines)
    assert sorted(e["event_id"] for e in lake) == sorted([*acked, legacy_id])
    assert summary["events"] == len(events) + 1 and summary["bad_messages"] == 0
    (old,) = [e for e in lake if e["event_id"] == legacy_id]
    assert (old["event_type"], old["x"], old["y"], old["load_count"]) == ("click", 12, 34.5, 2)
    # enriched on the way, client fields untouched
    sent = {e["event_id"]: e for e in events}
    sent[legacy_id] = {"token": "t1", "current_page": "https://old.example/a", "user_key": "B" * 20}
    for event in lake:
        assert event["client_ip"] == "127.0.0.0" and event["v"] == 1
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["received_at"])
        assert {k: event[k] for k in sent[event["event_id"]]} == sent[event["event_id"]]
    # and the queue is empty: every message was deleted after the PUT, none merely hidden
    assert queue_counts(wire) == (0, 0)
    assert context.looks > 0


def test_one_object_per_utc_date_with_the_configured_prefix(wire, monkeypatch):
    # GIVEN messages whose events were received on both sides of midnight UTC
    monkeypatch.setenv("LOGDIG_LAKE_PREFIX", "site-a/events/")
    before = [dict(e, received_at="2026-11-22T23:59:59.999Z") for e in clicks(7)]
    after = [dict(e, received_at="2026-11-23T00:00:00.000Z") for e in clicks(5, start=7)]
    mixed = before[:3] + after[:2] + before[3:] + after[2:]
    for start in range(0, len(mixed), 4):
        body = "".join(dumps(e) + "\n" for e in mixed[start:start + 4])
        wire.sqs.send_message(QueueUrl=wire.queue_url, MessageBody=body)

    # WHEN the handler drains
    summary = handler.lambda_handler({}, FakeLambdaContext())

    # THEN there is exactly one object per date under the prefix, each holding that date's events
    objects = s3_objects(wire.s3, wire.bucket)
    by_date = {SHA_KEY_RE.match(k)["date"]: ndjson_events(v) for k, v in objects.items()}
    assert all(k.startswith("site-a/events/dt=") for k in objects)
    assert {d: sorted(e["event_id"] for e in v) for d, v in by_date.items()} == {
        "2026-11-22": sorted(e["event_id"] for e in before),
        "2026-11-23": sorted(e["event_id"] for e in after),
    }
    assert summary["objects"] == 2 and summary["events"] == 12


def test_drain_stops_before_the_time_budget_and_leaves_the_rest_queued(wire):
    # GIVEN 30 single-event messages, and a Lambda with barely more than the drain's margin left
    events = clicks(30)
    for event in events:
        line = dumps(dict(event, received_at="2026-11-23T10:00:00.000Z"))
        wire.sqs.send_message(QueueUrl=wire.queue_url, MessageBody=line + "\n")
    margin_ms = int(load_settings().drain_margin_seconds * 1000)
    context = FakeLambdaContext(remaining_ms=margin_ms + 1_500, step_ms=500)

    # WHEN the handler runs out of time part-way
    summary = handler.lambda_handler({}, context)

    # THEN what it stored was deleted, the rest is still queued, and nothing is in both or neither
    assert summary["reason"].startswith("time budget")
    lake = [e["event_id"] for data in s3_objects(wire.s3, wire.bucket).values()
            for e in ndjson_events(data)]
    queued = [e["event_id"] for e in queued_events(wire.sqs, wire.queue_url)]
    assert lake and queued
    assert len(lake) == summary["events"]
    assert sorted(lake + queued) == sorted(e["event_id"] for e in events)


def test_gzip_object_decompresses_to_exactly_the_stored_lines(wire):
    # GIVEN one accepted request
    client = collector(wire)
    reply = client.post("/v1/logs", json={"events": clicks(3)})
    assert reply.status_code == 202
    handler.lambda_handler({}, FakeLambdaContext())

    # THEN the object is plain NDJSON once gunzipped: ASCII, one object per line, newline-terminated
    (data,) = s3_objects(wire.s3, wire.bucket).values()
    text = gzip.decompress(data)
    assert text.endswith(b"\n") and text.isascii()
    assert [json.loads(line)["event_id"] for line in text.splitlines()] == reply.get_json()["event_ids"]


def test_a_handler_out_of_time_at_once_leaves_every_message_visible(wire, monkeypatch):
    # GIVEN 5 old messages below the size threshold (so the drain samples them for their age)
    monkeypatch.setenv("LOGDIG_MIN_MESSAGES", "100")
    monkeypatch.setenv("LOGDIG_MAX_WAIT_SECONDS", "0")
    for event in clicks(5):
        line = dumps(dict(event, received_at="2026-11-23T10:00:00.000Z"))
        wire.sqs.send_message(QueueUrl=wire.queue_url, MessageBody=line + "\n")

    # WHEN the handler starts with less time left than its safety margin
    margin_ms = int(load_settings().drain_margin_seconds * 1000)
    summary = handler.lambda_handler({}, FakeLambdaContext(remaining_ms=margin_ms * 2 // 3))

    # THEN it stores nothing and hides nothing: the next run finds all 5 at once
    assert summary["reason"].startswith("time budget") and summary["messages"] == 0
    assert s3_objects(wire.s3, wire.bucket) == {}
    assert queue_counts(wire) == (5, 0)
