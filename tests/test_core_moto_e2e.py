"""End-to-end counts in moto mode: N events POSTed over HTTP to a real local-mode collector whose
queue and lake are SQS and S3 on moto's server -> drain -> exactly N distinct event ids in S3."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from lambda_sqs_to_s3 import handler
from tests.events_factory import clicks
from tests.motoserver import (
    FakeLambdaContext,
    lambda_env,
    ndjson_events,
    running_moto,
    s3_objects,
)

KEY_RE = re.compile(r"^events/dt=\d{4}-\d{2}-\d{2}/[0-9a-f]{64}\.jsonl\.gz$")

pytestmark = [pytest.mark.wire, pytest.mark.process]


@pytest.fixture
def moto():
    with running_moto() as server:
        server.reset()
        yield server


@pytest.fixture
def aws_server(moto, make_local_server, monkeypatch):
    """Local mode's collector (2 server workers) with SQS and S3 on moto's server."""
    queue_url, bucket = moto.create_queue(), moto.create_bucket()
    server = make_local_server(env={**moto.env(), "LOGDIG_QUEUE_URL": queue_url,
                                    "LOGDIG_BUCKET": bucket})
    with lambda_env(monkeypatch, moto, queue_url, bucket):
        yield server, moto.client("s3"), bucket


def test_thousand_events_land_as_thousand_distinct_ids_in_s3(aws_server):
    server, s3, bucket = aws_server
    # GIVEN a ready collector (its queue answers), WHEN 1000 events arrive in 50 concurrent requests
    assert requests.get(server.url + "/readyz", timeout=10).status_code == 200
    events = clicks(1000)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: server.post({"events": events[i:i + 20]}),
                                range(0, 1000, 20)))
    assert {r.status_code for r in replies} == {202}
    acked = [event_id for r in replies for event_id in r.json()["event_ids"]]

    # WHEN the batcher's Lambda handler drains SQS into S3
    summary = handler.lambda_handler({}, FakeLambdaContext())

    # THEN S3 holds exactly those 1000 ids, one line each, in dt=/sha256-named objects
    objects = s3_objects(s3, bucket)
    assert objects and all(KEY_RE.match(key) for key in objects)
    lake = [e["event_id"] for data in objects.values() for e in ndjson_events(data)]
    assert len(lake) == 1000 and len(set(lake)) == 1000
    assert set(lake) == set(acked) == {e["event_id"] for e in events}
    assert summary["events"] == 1000 and summary["objects"] == len(objects)


def test_local_mode_timer_drains_sqs_into_s3_by_itself(moto, make_local_server):
    # GIVEN local mode against SQS and S3 on moto's server, its timer draining every 0.2 s
    queue_url, bucket = moto.create_queue(), moto.create_bucket()
    server = make_local_server(env={**moto.env(), "LOGDIG_QUEUE_URL": queue_url,
                                    "LOGDIG_BUCKET": bucket, "LOGDIG_MIN_MESSAGES": "1",
                                    "LOGDIG_MAX_WAIT_SECONDS": "0",
                                    "LOGDIG_DRAIN_INTERVAL_SECONDS": "0.2"})
    # WHEN 200 events arrive in 10 requests
    replies = [server.post({"events": clicks(20, start=i * 20)}) for i in range(10)]
    assert {r.status_code for r in replies} == {202}
    acked = sorted(i for r in replies for i in r.json()["event_ids"])

    # THEN, with no Lambda involved, the timer moves exactly those 200 into S3
    s3 = moto.client("s3")
    deadline = time.monotonic() + 30
    lake: list[str] = []
    while time.monotonic() < deadline and len(lake) < 200:
        time.sleep(0.3)
        lake = [e["event_id"] for data in s3_objects(s3, bucket).values() for e in ndjson_events(data)]
    assert sorted(lake) == acked
