"""The collector (Flask test client) with moto's SQS in-process as its queue."""

from __future__ import annotations

import json
import random
from pathlib import Path

import boto3
import pytest

from app import create_app
from config import load_settings
from logdig.packing import parse_body
from logdig.queues import SqsQueue
from tests.events_factory import click, clicks

STATIC = Path(__file__).resolve().parent.parent / "static"


def make_client(sqs_queue_url, **settings):
    app = create_app(load_settings({}, queue_url=sqs_queue_url, flush_wait_ms=0, **settings))
    return app.test_client()


def queued_events(queue_url) -> list[dict]:
    queue = SqsQueue(queue_url, boto3.client("sqs"))
    events = []
    while batch := queue.receive(10):
        events.extend(event for m in batch for _, event in parse_body(m.body))
    return events


@pytest.fixture
def client(sqs_queue_url):
    return make_client(sqs_queue_url)


def test_accepted_events_are_in_the_queue_enriched(client, sqs_queue_url):
    sent = clicks(3)
    reply = client.post("/v1/logs", json={"events": sent}, environ_base={"REMOTE_ADDR": "198.51.100.23"})
    assert reply.status_code == 202
    assert reply.json == {"accepted": 3, "event_ids": [e["event_id"] for e in sent]}
    queued = queued_events(sqs_queue_url)
    assert [e["event_id"] for e in queued] == reply.json["event_ids"]
    assert {e["client_ip"] for e in queued} == {"198.51.100.0"}
    assert all(e["received_at"].endswith("Z") and len(e["received_at"]) == 24 for e in queued)


def test_a_beacon_body_is_text_plain(client, sqs_queue_url):
    reply = client.post("/v1/logs", data=json.dumps([click()]), content_type="text/plain;charset=UTF-8")
    assert reply.status_code == 202 and len(queued_events(sqs_queue_url)) == 1


def test_bad_input_is_a_4xx_naming_the_field_and_queues_nothing(client, sqs_queue_url):
    reply = client.post("/v1/logs", json={"events": [click(), click(x="far")]})
    assert reply.status_code == 400
    assert reply.json["error"] == {"code": "invalid_field", "field": "events[1].x",
                                   "message": "must be a number"}
    assert queued_events(sqs_queue_url) == []


def test_an_oversized_body_is_413(sqs_queue_url):
    client = make_client(sqs_queue_url, max_body_bytes=2048)
    reply = client.post("/v1/logs", json={"events": clicks(40)})
    assert reply.status_code == 413 and reply.json["error"]["field"] == "body"


def test_the_original_tracker_still_works(client, sqs_queue_url):
    assert client.get("/").json == {"RESTful Server": "Success"}
    reply = client.post("/", data={"x": "5", "y": "7", "link": "https://a.example/",
                                   "current_page": "https://site.example/", "load_count": "2"})
    assert reply.status_code == 202
    (event,) = queued_events(sqs_queue_url)
    assert (event["event_type"], event["x"], event["load_count"]) == ("click", 5.0, 2)


def test_tokens_and_their_origins_are_enforced(sqs_queue_url):
    client = make_client(sqs_queue_url, tokens={"open": (), "shop": ("https://shop.example",)})
    assert client.post("/v1/logs", json=click(token="open")).status_code == 202
    unknown = client.post("/v1/logs", json=click(token="nope"))
    assert unknown.status_code == 403 and unknown.json["error"]["field"] == "event.token"
    in_batch = client.post("/v1/logs", json=[click(token="open"), click()])
    assert in_batch.json["error"] == {"code": "unknown_token", "field": "events[1].token",
                                      "message": "is missing or not a configured token"}
    wrong_site = client.post("/v1/logs", json=click(token="shop"),
                             headers={"Origin": "https://evil.example"})
    assert wrong_site.status_code == 403 and wrong_site.json["error"]["code"] == "origin_not_allowed"
    right_site = client.post("/v1/logs", json=click(token="shop"),
                             headers={"Origin": "https://shop.example"})
    assert right_site.status_code == 202


def test_cors_preflight_grants_only_allowed_origins(sqs_queue_url):
    client = make_client(sqs_queue_url, allowed_origins=("https://shop.example",))
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    granted = client.options("/v1/logs", headers={"Origin": "https://shop.example", **preflight})
    assert granted.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    refused = client.options("/v1/logs", headers={"Origin": "https://evil.example", **preflight})
    assert "Access-Control-Allow-Origin" not in refused.headers


@pytest.mark.parametrize("allowed", [("*",), ("https://shop.example", "https://b.example")])
def test_remembered_cors_headers_are_flask_cors_own(tmp_path, allowed):
    # GIVEN two collectors, one answering CORS through flask-cors alone, one remembering its answers
    settings = load_settings({}, data_dir=tmp_path, flush_wait_ms=0, allowed_origins=allowed)
    remembered, plain = create_app(settings).test_client(), create_app(settings).test_client()
    hooks = plain.application.after_request_funcs[None]
    hooks[:] = [getattr(hook, "after", hook) for hook in hooks]
    # WHEN both get the same requests, each twice: from no origin, allowed and refused origins,
    # with Chrome's private network header, preflights, bad bodies and unknown paths
    preflight = {"Access-Control-Request-Method": "POST"}
    requests = [("post", "/v1/logs", click(), {}), ("post", "/v1/logs", {"x": 1}, {}),
                ("get", "/", None, {}), ("get", "/nowhere", None, {}),
                ("options", "/v1/logs", None, preflight)]
    calls = [(method, path, {"json": body, "headers": {**origin, **extra, **more}})
             for origin in ({}, {"Origin": "https://shop.example"}, {"Origin": "https://evil.example"})
             for extra in ({}, {"Access-Control-Request-Private-Network": "true"})
             for method, path, body, more in requests]
    # THEN every answer carries the same headers but its date and length
    def answer_headers(client, method, path, kw):
        reply = getattr(client, method)(path, **kw)
        return reply.status_code, [(k, v) for k, v in reply.headers.items()
                                   if k not in ("Date", "Content-Length")]

    for method, path, kw in calls * 2:
        assert answer_headers(remembered, method, path, kw) == answer_headers(plain, method, path, kw)
    assert any("Access-Control-Allow-Origin" in dict(answer_headers(remembered, *call)[1])
               for call in calls)


def test_cors_headers_a_view_set_are_left_to_flask_cors(tmp_path):
    # GIVEN a collector with a view answering with its own Access-Control-Allow-Origin
    settings = load_settings({}, data_dir=tmp_path, allowed_origins=("https://shop.example",))
    app = create_app(settings)
    app.add_url_rule("/v1/own", "own", lambda: ("", 204, {"access-control-allow-origin": "*"}))
    client = app.test_client()
    # WHEN it is asked twice from an origin flask-cors would grant (the second could be remembered)
    for _ in range(2):
        reply = client.get("/v1/own", headers={"Origin": "https://shop.example"})
        # THEN flask-cors sees each answer and keeps the view's header, adding no second one
        assert reply.headers.getlist("Access-Control-Allow-Origin") == ["*"]
    assert not app.after_request_funcs[None][-1].known


@pytest.mark.parametrize("hops, forwarded, seen", [
    (0, "203.0.113.9", "127.0.0.0"),
    (1, "203.0.113.9", "203.0.113.0"),
    (1, "6.6.6.6, 203.0.113.9", "203.0.113.0"),  # a forged first hop is not believed
])
def test_forwarded_for_is_trusted_only_for_configured_hops(sqs_queue_url, hops, forwarded, seen):
    client = make_client(sqs_queue_url, trusted_proxy_hops=hops)
    client.post("/v1/logs", json=click(), headers={"X-Forwarded-For": forwarded})
    assert queued_events(sqs_queue_url)[0]["client_ip"] == seen


def test_health_readiness_metrics_and_static_files(client):
    assert client.get("/healthz").json == {"status": "alive"}
    assert client.get("/readyz").json == {"status": "ready"}
    client.post("/v1/logs", json={"events": clicks(2)})
    client.post("/v1/logs", json={"oops": 1})
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "logdig_events_accepted_total" in metrics
    assert 'logdig_events_rejected_total{reason="invalid_field"}' in metrics
    tracker = client.get("/clickTracker.js")
    assert tracker.status_code == 200 and "max-age=3600" in tracker.headers["Cache-Control"]
    assert tracker.data == (STATIC / "clickTracker.min.js").read_bytes()
    assert tracker.mimetype == "text/javascript"
    assert tracker.headers["Access-Control-Allow-Origin"] == "*"
    assert b"clickTracker.js" in client.get("/demo").data


def test_readiness_fails_when_the_queue_is_gone(client, sqs_queue_url):
    boto3.client("sqs").delete_queue(QueueUrl=sqs_queue_url)
    reply = client.get("/readyz")
    assert reply.status_code == 503 and reply.headers["Retry-After"] == "5"
    post = client.post("/v1/logs", json=click())
    assert post.status_code == 503 and post.json["error"]["code"] == "queue_unavailable"


def test_an_event_too_large_for_one_message_is_413_by_name(sqs_queue_url):
    # GIVEN a queue limited to 4 KiB messages, and an event of 2000 random characters: valid,
    # but about 5 KiB even compressed (nothing valid outgrows the default 64 KiB unit)
    client = make_client(sqs_queue_url, max_message_bytes=4096)
    rng = random.Random(3)
    noise = "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(2000))
    reply = client.post("/v1/logs", json={"events": [click(), click(link=noise)]})
    # THEN it is refused by name and nothing is queued
    assert reply.status_code == 413
    assert reply.json["error"]["code"] == "event_too_large" and reply.json["error"]["field"] == "events[1]"
    assert queued_events(sqs_queue_url) == []
    assert client.post("/v1/logs", json=click(link=noise[:200])).status_code == 202


class Trickle:
    """A WSGI input stream that gives at most 7 bytes a read, as a server may."""

    def __init__(self, data: bytes):
        self.data = data

    def read(self, size: int = -1) -> bytes:
        size = 7 if size < 0 else min(size, 7)
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


@pytest.mark.parametrize("announced", ["exact", "more than sent", "none"])
def test_a_body_read_in_pieces_is_read_whole(tmp_path, announced):
    # GIVEN a body that the server hands over 7 bytes at a time, announced with its exact length,
    # with a length larger than what arrives (a client that went away), or without a length
    client = create_app(load_settings({}, data_dir=tmp_path, flush_wait_ms=0)).test_client()
    body = json.dumps({"events": clicks(3)}).encode()
    environ = {"wsgi.input": Trickle(body), "wsgi.input_terminated": True}
    if announced != "none":
        environ["CONTENT_LENGTH"] = str(len(body) + (0 if announced == "exact" else 10))

    # WHEN it is posted, THEN the whole body is read: every event accepted
    reply = client.post("/v1/logs", content_type="application/json", environ_overrides=environ)
    assert reply.status_code == 202 and reply.json["accepted"] == 3
