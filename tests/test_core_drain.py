"""The drain against moto's SQS and S3 in-process, and the Lambda handler around it."""

from __future__ import annotations

import gzip
import json
import uuid

import boto3
import pytest

from lambda_sqs_to_s3 import handler
from logdig.drain import DrainOptions, drain
from logdig.lake import S3Lake
from logdig.packing import dumps
from logdig.queues import SqsQueue
from tests.motoserver import FakeLambdaContext, cold_handler


def body(*received_at: str, ids: list[str] | None = None) -> str:
    ids = ids or [str(uuid.uuid4()) for _ in received_at]
    return "".join(dumps({"event_type": "click", "event_id": event_id, "received_at": at}) + "\n"
                   for event_id, at in zip(ids, received_at, strict=True))


@pytest.fixture
def parts(sqs_queue_url, s3_bucket):
    return SqsQueue(sqs_queue_url, boto3.client("sqs")), S3Lake(s3_bucket, boto3.client("s3"))


def lake_lines(lake: S3Lake, prefix: str = "events/") -> dict[str, list[dict]]:
    return {key: [json.loads(line) for line in gzip.decompress(lake.get(key)).splitlines()]
            for key in lake.keys(prefix)}


def test_below_threshold_and_young_nothing_moves(parts):
    queue, lake = parts
    queue.send_batch([body("2026-11-23T10:00:00.000Z") for _ in range(3)])
    summary = drain(queue, lake, DrainOptions(min_messages=100, max_wait_seconds=3600))
    assert summary["messages"] == 0 and "below the threshold" in summary["reason"]
    assert queue.depth() == 3 and lake.keys() == []


def test_a_waiting_queue_below_threshold_drains_once_old_enough(parts):
    queue, lake = parts
    queue.send_batch([body("2026-11-23T10:00:00.000Z") for _ in range(3)])
    summary = drain(queue, lake, DrainOptions(min_messages=100, max_wait_seconds=0, wait_seconds=0))
    assert (summary["messages"], summary["events"], summary["objects"]) == (3, 3, 1)
    assert queue.depth() == 0


def test_a_full_queue_drains_into_one_object_per_date(parts):
    queue, lake = parts
    dates = ["2026-11-23T23:59:59.999Z", "2026-11-24T00:00:00.000Z"]
    queue.send_batch([body(*dates) for _ in range(10)])
    queue.send_batch([body(*dates) for _ in range(5)])
    summary = drain(queue, lake, DrainOptions(min_messages=10, wait_seconds=0))
    objects = lake_lines(lake)
    assert sorted(key.split("/")[1] for key in objects) == ["dt=2026-11-23", "dt=2026-11-24"]
    assert all(len(events) == 15 for events in objects.values())
    assert summary["events"] == 30 and queue.depth() == 0


def test_the_time_budget_leaves_the_rest_queued(parts):
    queue, lake = parts
    for _ in range(3):
        queue.send_batch([body("2026-11-23T10:00:00.000Z") for _ in range(10)])
    budget = iter([100, 5])  # seconds left: one receive, then the margin is reached
    summary = drain(queue, lake, DrainOptions(min_messages=1, margin_seconds=10, wait_seconds=0),
                    remaining=lambda: next(budget, 0))
    assert summary["reason"].startswith("time budget")
    assert (summary["messages"], queue.depth()) == (10, 20)
    assert sum(len(events) for events in lake_lines(lake).values()) == 10


def test_an_unparseable_message_is_kept_under_bad_and_does_not_block(parts):
    queue, lake = parts
    queue.send_batch([body("2026-11-23T10:00:00.000Z"), "{broken\n",
                      dumps({"event_type": "click"}) + "\n"])
    summary = drain(queue, lake, DrainOptions(min_messages=1, wait_seconds=0))
    assert (summary["events"], summary["bad_messages"], queue.depth()) == (1, 2, 0)
    bad = [json.loads(lake.get(key)) for key in lake.keys("bad/")]
    assert sorted(b["reason"] for b in bad) == [
        "1 line(s) do not fit the lake schema, first line 1: received_at: is required (the lake's "
        "dt partition comes from it)",
        "line 1 is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 "
        "(char 1)"]
    assert "{broken\n" in [b.get("body") for b in bad]


def test_lambda_handler_drains_with_settings_from_the_environment(parts, monkeypatch, sqs_queue_url,
                                                                   s3_bucket):
    queue, lake = parts
    monkeypatch.setenv("LOGDIG_QUEUE_URL", sqs_queue_url)
    monkeypatch.setenv("LOGDIG_BUCKET", s3_bucket)
    monkeypatch.setenv("LOGDIG_MIN_MESSAGES", "2")
    queue.send_batch([body("2026-11-23T10:00:00.000Z", "2026-11-23T10:00:01.000Z") for _ in range(2)])
    with cold_handler():
        summary = handler.lambda_handler({}, FakeLambdaContext(300_000, step_ms=1000))
    assert (summary["messages"], summary["events"], summary["objects"]) == (2, 4, 1)
    assert set(summary) >= {"messages", "events", "objects", "bytes", "seconds"}
    assert len(next(iter(lake_lines(lake).values()))) == 4


def test_a_batch_delivered_twice_lands_once(parts):
    # GIVEN the same events queued twice (a tracker resent a batch whose answer it never saw)
    queue, lake = parts
    twice = body("2026-11-23T10:00:00.000Z", "2026-11-23T10:00:01.000Z", ids=["a", "b"])
    queue.send_batch([twice, twice])
    # WHEN one drain round takes both copies
    summary = drain(queue, lake, DrainOptions(min_messages=1, wait_seconds=0))
    # THEN each event_id is one lake line, and the repeats are counted
    (events,) = lake_lines(lake).values()
    assert sorted(e["event_id"] for e in events) == ["a", "b"]
    assert (summary["events"], summary["duplicates"], queue.depth()) == (2, 2, 0)
