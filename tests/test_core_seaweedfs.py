"""The lake on a real S3 server on loopback (SeaweedFS): S3Lake, a drain into it, and parity with DirLake."""

from __future__ import annotations

import hashlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app import create_app
from config import load_settings
from lambda_sqs_to_s3 import handler
from logdig.drain import DrainOptions, drain
from logdig.lake import DirLake, S3Lake, make_lake
from logdig.local_queue import LocalQueue
from logdig.packing import dumps, pack
from tests.events_factory import clicks
from tests.motoserver import (
    FAKE_AWS_ENV,
    UNSET_AWS_ENV,
    FakeLambdaContext,
    lambda_env,
    ndjson_events,
    running_moto,
)

OPTIONS = DrainOptions(min_messages=1, max_wait_seconds=0, margin_seconds=0, wait_seconds=0)

pytestmark = pytest.mark.wire


@pytest.fixture
def bucket(seaweed):
    name = f"logdig-{uuid.uuid4().hex[:12]}"
    seaweed.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_lake(seaweed, bucket, monkeypatch):
    """An S3Lake built by make_lake, the way production builds it, with the endpoint from the env."""
    for name, value in {**FAKE_AWS_ENV, "AWS_ENDPOINT_URL_S3": seaweed.endpoint}.items():
        monkeypatch.setenv(name, value)
    for name in (*UNSET_AWS_ENV[:2], "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    lake = make_lake(load_settings({}, bucket=bucket))
    assert isinstance(lake, S3Lake)
    return lake


def fill(queue: LocalQueue, events: list[dict]) -> None:
    queue.send_batch(pack((dumps(e) for e in events), 4096))


def received(events: list[dict], at: str) -> list[dict]:
    return [dict(e, received_at=at, v=1) for e in events]


def two_days(count: int = 60) -> list[dict]:
    """Events received on both sides of midnight UTC, with fixed received_at (same input, same bytes)."""
    half = count // 2
    return (received(clicks(half), "2026-11-22T23:59:59.999Z")
            + received(clicks(count - half, start=half), "2026-11-23T00:00:00.000Z"))


def test_s3lake_put_keys_get_round_trip(s3_lake):
    # GIVEN objects under two prefixes
    stored = {"events/dt=2026-11-23/a.jsonl.gz": b"\x1f\x8b one",
              "events/dt=2026-11-24/b.jsonl.gz": bytes(range(256)) * 64,
              "bad/dt=2026-11-23/c.json": b'{"reason": "x"}'}
    for key, data in stored.items():
        s3_lake.put(key, data)
    # THEN keys lists them sorted per prefix, and get returns the very bytes stored
    assert s3_lake.keys() == sorted(stored)
    assert s3_lake.keys("events/") == sorted(k for k in stored if k.startswith("events/"))
    assert s3_lake.keys("events/dt=2026-11-24/") == ["events/dt=2026-11-24/b.jsonl.gz"]
    assert s3_lake.keys("nothing/") == []
    assert {k: s3_lake.get(k) for k in stored} == stored


def test_drain_into_seaweedfs_writes_one_sha256_object_per_date(s3_lake, tmp_path):
    # GIVEN a local queue holding events from two UTC dates
    queue = LocalQueue(tmp_path / "queue.sqlite3")
    events = two_days()
    fill(queue, events)

    # WHEN it is drained into the S3 lake on SeaweedFS
    summary = drain(queue, s3_lake, OPTIONS)

    # THEN one object per date, named by the SHA-256 of its bytes, holding exactly that date's events
    keys = s3_lake.keys("events/")
    assert [k.split("/")[1] for k in keys] == ["dt=2026-11-22", "dt=2026-11-23"]
    for key, date_events in zip(keys, (events[:30], events[30:]), strict=True):
        data = s3_lake.get(key)
        assert key.endswith(f"/{hashlib.sha256(data).hexdigest()}.jsonl.gz")
        assert [e["event_id"] for e in ndjson_events(data)] == [e["event_id"] for e in date_events]
    assert summary["events"] == 60 and summary["objects"] == 2
    assert queue.depth() == 0 and queue.receive(10) == []


def test_same_bytes_land_on_the_same_key(s3_lake, tmp_path):
    # GIVEN the same messages drained twice (a redelivery after a crash before the delete)
    events = two_days(20)
    for name in ("first", "second"):
        queue = LocalQueue(tmp_path / f"{name}.sqlite3")
        fill(queue, events)
        drain(queue, s3_lake, OPTIONS)
        if name == "first":
            first_keys = s3_lake.keys()
    # THEN the second drain overwrote the same keys with the same bytes: no second copy
    assert s3_lake.keys() == first_keys and len(first_keys) == 2
    lines = [e["event_id"] for k in first_keys for e in ndjson_events(s3_lake.get(k))]
    assert sorted(lines) == sorted(e["event_id"] for e in events)


def test_dir_lake_and_s3_lake_hold_identical_objects_for_the_same_input(s3_lake, tmp_path):
    # GIVEN two queues holding the very same messages, one drained into a directory, one into S3
    events = two_days(200)
    dir_lake = DirLake(tmp_path / "lake")
    for name, lake in (("dir", dir_lake), ("s3", s3_lake)):
        queue = LocalQueue(tmp_path / f"{name}.sqlite3")
        fill(queue, events)
        assert drain(queue, lake, OPTIONS)["events"] == 200
    # THEN both lakes hold the same keys with the same bytes
    keys = dir_lake.keys()
    assert len(keys) >= 2 and s3_lake.keys() == keys
    assert all(dir_lake.get(k) == s3_lake.get(k) for k in keys)


def test_listing_pages_past_a_thousand_keys(s3_lake):
    # GIVEN more keys than one ListObjectsV2 page (1000) holds
    keys = [f"events/dt=2026-11-23/{i:064x}.jsonl.gz" for i in range(1005)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3_lake.put(k, b"x"), keys))
    # THEN keys() follows the continuation tokens and returns every one
    assert s3_lake.keys("events/") == sorted(keys)


def test_sqs_on_moto_and_s3_on_seaweedfs_through_per_service_endpoints(seaweed, bucket, monkeypatch):
    # GIVEN SQS on moto's server and S3 on SeaweedFS, chosen by AWS_ENDPOINT_URL_SQS / _S3
    with running_moto() as moto:
        queue_url = moto.create_queue()
        with lambda_env(monkeypatch, moto, queue_url, bucket):
            monkeypatch.delenv("AWS_ENDPOINT_URL")
            monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto.endpoint)
            monkeypatch.setenv("AWS_ENDPOINT_URL_S3", seaweed.endpoint)
            client = create_app(load_settings()).test_client()
            reply = client.post("/v1/logs", json={"events": clicks(25)})
            assert reply.status_code == 202

            # WHEN the Lambda handler drains
            summary = handler.lambda_handler({}, FakeLambdaContext())

    # THEN the events are in SeaweedFS, in one SHA-256-named object
    s3 = seaweed.client()
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert key.endswith(f"/{hashlib.sha256(data).hexdigest()}.jsonl.gz")
    assert [e["event_id"] for e in ndjson_events(data)] == reply.get_json()["event_ids"]
    assert summary["events"] == 25


def test_a_plain_http_get_of_a_lake_object_returns_its_stored_bytes(s3_lake, seaweed, bucket, tmp_path):
    # GIVEN an events object and a bad/ record drained into the lake
    queue = LocalQueue(tmp_path / "queue.sqlite3")
    fill(queue, two_days(4)[:2])
    queue.send_batch(["not json\n"])
    drain(queue, s3_lake, OPTIONS)
    (bad_key,) = s3_lake.keys("bad/")
    (events_key,) = s3_lake.keys("events/")
    # WHEN each is fetched over plain HTTP, as a browser, curl --compressed or an fsspec/DuckDB
    # reader would (these honour Content-Encoding and decode on the fly)
    s3 = seaweed.client()
    replies = {key: requests.get(s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}), timeout=10)
        for key in (events_key, bad_key)}
    # THEN each arrives as the file it is: the .jsonl.gz still gzip (not unpacked under a .gz
    # name), the bad/ .json readable JSON (not refused as broken gzip)
    for key, reply in replies.items():
        assert reply.status_code == 200 and "Content-Encoding" not in reply.headers
        assert reply.content == s3_lake.get(key)
    assert replies[events_key].content[:2] == b"\x1f\x8b"
    assert replies[events_key].headers["Content-Type"] == "application/gzip"
    assert json.loads(replies[bad_key].content)["body"] == "not json\n"
