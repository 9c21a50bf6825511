"""Faults: the durability contract holds when the queue, the lake or a process fails.

Nothing is acknowledged that the queue did not take; nothing is deleted from the queue before the
lake holds it; a crash anywhere means delivered again, never lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import string
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from app import create_app
from config import load_settings
from logdig.drain import DrainOptions, drain
from logdig.errors import LakeError, QueueUnavailable
from logdig.lake import DirLake, S3Lake
from logdig.local_queue import LocalQueue
from logdig.packing import decode, dumps, pack, parse_body
from logdig.queues import SqsQueue
from tests.events_factory import click, clicks
from tests.localserver import ROOT, free_port, read_lake_events
from tests.motoserver import (
    ndjson_events,
    point_boto3_at,
    queued_events,
    running_moto,
    s3_objects,
)

OPTIONS = DrainOptions(min_messages=1, max_wait_seconds=0, margin_seconds=0, wait_seconds=0)


# ---------------------------------------------------------------- helpers


class Clock:
    """A wall clock the test moves by hand (LocalQueue's visibility timeout runs on it), starting on
    the day of the test events (the drain refuses received_at more than a day ahead of it)."""

    def __init__(self, now: float = 1_795_435_200.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Wrapper:
    """Delegates everything to `inner`; subclasses replace the one call that fails."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)


class SwitchableQueue(Wrapper):
    """A queue whose send_batch fails like an unreachable queue while `down` is set."""

    down = True

    def send_batch(self, bodies, deadline=None):
        if self.down:
            raise QueueUnavailable("queue unreachable (test switch)")
        return self.inner.send_batch(bodies, deadline)


class CrashOnDelete(Wrapper):
    """The drainer dies after the lake PUT and before the queue delete."""

    def delete(self, messages):
        raise SystemExit("killed between PUT and delete")


class LakeFailingAfter(Wrapper):
    """A lake that stores `good` objects, then fails every PUT."""

    def __init__(self, inner, good: int = 0):
        super().__init__(inner)
        self.good = good

    def put(self, key, data):
        if self.good <= 0:
            raise LakeError(f"S3 put {key}: InternalError (test)")
        self.good -= 1
        self.inner.put(key, data)


def enriched(events: list[dict], received_at: str = "2026-11-23T10:00:00.000Z") -> list[dict]:
    return [dict(e, v=1, received_at=received_at) for e in events]


def two_days(count: int) -> list[dict]:
    half = count // 2
    return (enriched(clicks(half), "2026-11-22T23:59:59.999Z")
            + enriched(clicks(count - half, start=half), "2026-11-23T00:00:00.001Z"))


def one_event_per_message(queue, events: list[dict]) -> None:
    for start in range(0, len(events), 10):
        queue.send_batch([dumps(e) + "\n" for e in events[start:start + 10]])


def queued_on_a_clock(tmp_path: Path, count: int):
    """A local queue on a hand-moved clock (60 s visibility timeout) holding `count` one-event
    messages over two dates, and an empty directory lake."""
    clock = Clock()
    queue = LocalQueue(tmp_path / "queue.sqlite3", visibility_timeout=60, clock=clock)
    events = two_days(count)
    one_event_per_message(queue, events)
    return clock, queue, DirLake(tmp_path / "lake"), events


def ids(events) -> list[str]:
    return sorted(e["event_id"] for e in events)


def collector(tmp_path: Path, queue=None, **overrides):
    options = {"data_dir": tmp_path, "flush_wait_ms": 0, "queue_retry_seconds": 0.5, **overrides}
    settings = load_settings({}, **options)
    return create_app(settings, queue).test_client()


def assert_503_nothing_accepted(reply) -> None:
    assert reply.status_code == 503
    assert int(reply.headers["Retry-After"]) > 0
    body = reply.get_json()
    assert body["error"]["code"] == "queue_unavailable" and body["error"]["message"]
    assert "event_ids" not in body and "accepted" not in body


@pytest.fixture(scope="module")
def moto():
    with running_moto() as server:
        yield server


# ------------------------------------------------- (a) queue unreachable -> 503


@pytest.mark.wire
def test_sqs_unreachable_answers_503_then_accepts_the_same_events_once_it_is_back(
        tmp_path, monkeypatch):
    # GIVEN a collector whose SQS endpoint is a closed loopback port
    port = free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    queue_url = f"http://127.0.0.1:{port}/123456789012/logdig-faults"
    client = collector(tmp_path, queue_url=queue_url)
    events = clicks(5)

    # WHEN events arrive: 503 with Retry-After, a JSON error, nothing acknowledged; not ready
    assert_503_nothing_accepted(client.post("/v1/logs", json={"events": events}))
    assert client.get("/readyz").status_code == 503

    # WHEN the queue comes up on that endpoint and the client retries the same events
    with running_moto(port) as server:
        assert server.create_queue("logdig-faults") == queue_url
        reply = client.post("/v1/logs", json={"events": events})
        # THEN they are accepted, and the queue holds each exactly once: the 503 stored nothing
        assert reply.status_code == 202
        assert reply.get_json()["event_ids"] == [e["event_id"] for e in events]
        assert ids(queued_events(server.client("sqs"), queue_url)) == ids(events)
        assert client.get("/readyz").status_code == 200


def test_local_queue_unwritable_answers_503_then_recovers(tmp_path):
    # GIVEN local mode whose queue file cannot be opened (a directory sits at its path)
    (tmp_path / "queue.sqlite3").mkdir()
    client = collector(tmp_path)
    events = clicks(3)
    assert_503_nothing_accepted(client.post("/v1/logs", json=events))

    # WHEN the path is fixed, THEN the same request is accepted and queued exactly once
    (tmp_path / "queue.sqlite3").rmdir()
    assert client.post("/v1/logs", json=events).status_code == 202
    lake = DirLake(tmp_path / "lake")
    drain(LocalQueue(tmp_path / "queue.sqlite3"), lake, OPTIONS)
    assert ids(read_lake_events(tmp_path / "lake")) == ids(events)


def test_local_queue_locked_by_another_process_answers_503_then_recovers(tmp_path):
    # GIVEN local mode's queue file held under an exclusive lock by another connection
    path = tmp_path / "queue.sqlite3"
    LocalQueue(path)  # create it
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    client = collector(tmp_path)  # queue_retry_seconds=0.5: give up on the lock after that
    events = clicks(3)
    try:
        assert_503_nothing_accepted(client.post("/v1/logs", json=events))
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    # WHEN the lock is released, THEN the same request is accepted and queued exactly once
    assert client.post("/v1/logs", json=events).status_code == 202
    drain(LocalQueue(path), DirLake(tmp_path / "lake"), OPTIONS)
    assert ids(read_lake_events(tmp_path / "lake")) == ids(events)


def test_queue_down_acknowledges_nothing_even_under_concurrent_requests(tmp_path):
    # GIVEN a local queue that refuses every send
    queue = SwitchableQueue(LocalQueue(tmp_path / "queue.sqlite3"))
    client = collector(tmp_path, queue)
    batches = [clicks(4, start=i * 4) for i in range(12)]
    with ThreadPoolExecutor(6) as pool:
        down = list(pool.map(lambda b: client.post("/v1/logs", json=b), batches))
    for reply in down:
        assert_503_nothing_accepted(reply)
    assert queue.inner.depth() == 0

    # WHEN it comes back and the clients retry, THEN every event is queued once
    queue.down = False
    with ThreadPoolExecutor(6) as pool:
        up = list(pool.map(lambda b: client.post("/v1/logs", json=b), batches))
    assert {r.status_code for r in up} == {202}
    drain(queue.inner, DirLake(tmp_path / "lake"), OPTIONS)
    assert ids(read_lake_events(tmp_path / "lake")) == ids(e for b in batches for e in b)


# ------------------------------------ (b) crash after the PUT, before the delete


def test_crash_between_put_and_delete_redelivers_into_the_same_keys(tmp_path):
    # GIVEN 30 messages over two dates, and a drainer that dies right after its PUTs
    clock, queue, lake, events = queued_on_a_clock(tmp_path, 30)
    with pytest.raises(SystemExit):
        drain(CrashOnDelete(queue), lake, OPTIONS, now=clock)
    keys_after_crash = lake.keys()
    assert len(keys_after_crash) == 2
    # the messages are hidden, not gone: a drain within the visibility timeout finds nothing
    assert drain(queue, lake, OPTIONS, now=clock)["messages"] == 0

    # WHEN the visibility timeout has passed and the drain runs again
    clock.advance(61)
    summary = drain(queue, lake, OPTIONS, now=clock)

    # THEN every event is in the lake, the same messages formed the same objects (same keys),
    # and the queue is empty
    assert summary["messages"] == 30
    assert lake.keys() == keys_after_crash
    assert ids(read_lake_events(tmp_path / "lake")) == ids(events)
    clock.advance(3600)
    assert queue.depth() == 0


CRASHING_DRAIN = """
import os, sys
from logdig.drain import DrainOptions, drain
from logdig.lake import DirLake
from logdig.local_queue import LocalQueue

class DieAfterFirstPut(DirLake):
    def put(self, key, data):
        super().put(key, data)
        os._exit(9)  # no cleanup, no except/finally: as abrupt as a kill

drain(LocalQueue(sys.argv[1], visibility_timeout=1), DieAfterFirstPut(sys.argv[2]),
      DrainOptions(min_messages=1, max_wait_seconds=0, margin_seconds=0, wait_seconds=0))
"""


@pytest.mark.process
def test_process_dying_after_a_put_loses_nothing(tmp_path):
    # GIVEN a queue with two dates' events, drained by a process that dies after its first PUT
    queue = LocalQueue(tmp_path / "queue.sqlite3", visibility_timeout=1)
    events = two_days(40)
    one_event_per_message(queue, events)
    died = subprocess.run([sys.executable, "-c", CRASHING_DRAIN, str(queue.path),
                           str(tmp_path / "lake")], cwd=ROOT, capture_output=True, timeout=60)
    assert died.returncode == 9, died.stderr.decode()
    lake = DirLake(tmp_path / "lake")
    (first_key,) = lake.keys()

    # WHEN the 1 s visibility timeout passes and a drain runs again
    time.sleep(1.2)
    drain(queue, lake, OPTIONS)

    # THEN every event is in the lake; the object written before the crash was rewritten in place
    keys = lake.keys()
    assert first_key in keys and len(keys) == 2
    assert ids(read_lake_events(tmp_path / "lake")) == ids(events)
    assert queue.depth() == 0


@pytest.mark.wire
def test_sqs_crash_between_put_and_delete_redelivers(moto, monkeypatch):
    # GIVEN SQS (1 s visibility timeout) and S3 on moto's server, and a drainer that dies after its PUTs
    moto.reset()
    point_boto3_at(monkeypatch, moto)
    sqs, s3 = moto.client("sqs"), moto.client("s3")
    queue = SqsQueue(moto.create_queue(visibility_timeout=1), sqs)
    bucket = moto.create_bucket()
    lake = S3Lake(bucket, s3)
    events = two_days(24)
    one_event_per_message(queue, events)
    with pytest.raises(SystemExit):
        drain(CrashOnDelete(queue), lake, OPTIONS)
    keys_after_crash = lake.keys()

    # WHEN the visibility timeout passes and the drain runs again
    time.sleep(1.2)
    drain(queue, lake, OPTIONS)

    # THEN every event is in S3, in the same objects, and the queue is empty
    assert lake.keys() == keys_after_crash
    assert ids(e for data in s3_objects(s3, bucket).values() for e in ndjson_events(data)) == ids(events)
    assert queue.depth() == 0


# ------------------------------------------------- (c) lake PUT failure -> nothing deleted


@pytest.mark.wire
def test_s3_bucket_missing_deletes_nothing(moto, monkeypatch):
    # GIVEN 15 queued messages (one event each) and a lake bucket that does not exist
    moto.reset()
    point_boto3_at(monkeypatch, moto)
    queue = SqsQueue(moto.create_queue(visibility_timeout=1), moto.client("sqs"))
    events = enriched(clicks(15))
    one_event_per_message(queue, events)
    assert queue.depth() == 15
    lake = S3Lake("logdig-no-such-bucket", moto.client("s3"))

    # WHEN the drain runs, THEN the PUT failure surfaces as LakeError naming the bucket
    with pytest.raises(LakeError, match="logdig-no-such-bucket.*NoSuchBucket"):
        drain(queue, lake, OPTIONS)

    # AND after the visibility timeout every message is back in the queue
    time.sleep(1.2)
    assert queue.depth() == 15
    # AND once the bucket exists, a drain delivers them all
    moto.client("s3").create_bucket(Bucket="logdig-no-such-bucket")
    assert drain(queue, lake, OPTIONS)["events"] == 15
    assert queue.depth() == 0


def test_second_object_failing_keeps_every_message_of_the_drain(tmp_path):
    # GIVEN messages over two dates, and a lake that stores one object and then fails
    clock, queue, lake, events = queued_on_a_clock(tmp_path, 20)
    with pytest.raises(LakeError):
        drain(queue, LakeFailingAfter(lake, good=1), OPTIONS, now=clock)
    (stored,) = lake.keys()

    # THEN no message was deleted, not even those whose date's object was stored
    clock.advance(61)
    assert queue.depth() == 20
    drain(queue, lake, OPTIONS, now=clock)
    keys = lake.keys()
    assert stored in keys and len(keys) == 2
    assert ids(read_lake_events(tmp_path / "lake")) == ids(events)


class PoisonedQueue(Wrapper):
    """Refuses every SendMessageBatch that carries the poison event id; stores the rest."""

    def __init__(self, inner, poison: str):
        super().__init__(inner)
        self.poison = poison

    def send_batch(self, bodies, deadline=None):
        if any(self.poison in decode(body) for body in bodies):
            raise QueueUnavailable("this batch failed (test)")
        self.inner.send_batch(bodies, deadline)


def test_a_failed_batch_fails_exactly_the_requests_that_had_events_in_it(tmp_path):
    # GIVEN concurrent requests sharing group-commit flushes, small messages (many batches per
    # flush), and a queue that refuses the batch carrying one request's events
    # (2 events per request, 3 lines per 1 KiB message: messages straddle requests)
    requests_events = [clicks(2, start=i * 2) for i in range(30)]
    poison = requests_events[9][1]["event_id"]
    queue = PoisonedQueue(LocalQueue(tmp_path / "queue.sqlite3"), poison)
    client = collector(tmp_path, queue, flush_wait_ms=30, max_message_bytes=1024)
    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(lambda evs: client.post("/v1/logs", json=evs), requests_events))

    # THEN the poisoned request got 503, others did not all fail, and every event of every 202
    # is in the queue: nothing was acknowledged that the queue did not take
    statuses = [r.status_code for r in replies]
    assert statuses[9] == 503 and statuses.count(202) >= 20
    assert set(statuses) <= {202, 503}
    drain(queue.inner, DirLake(tmp_path / "lake"), OPTIONS)
    stored = Counter(e["event_id"] for e in read_lake_events(tmp_path / "lake"))
    for reply, evs in zip(replies, requests_events, strict=True):
        if reply.status_code == 202:
            assert all(stored[e["event_id"]] == 1 for e in evs)
    assert stored[poison] == 0


# --------------------------------------------- (d) SIGKILL of local mode after acks


def children(process: subprocess.Popen) -> list[int]:
    """`python -m app`'s children: the server (its workers in its process group) and the drain timer.
    They run in sessions of their own, so each is also a process group id."""
    return [int(pid) for pid in
            Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]


def kill_groups(groups: list[int], sig: int = signal.SIGKILL) -> None:
    for group in groups:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(group, sig)


def living(pids: list[int]) -> list[int]:
    """Those still running (neither gone nor a zombie waiting to be reaped)."""
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()
            and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL `python -m app` and every process under it, as a power cut would."""
    kill_groups(children(process))
    process.kill()
    process.wait()


def test_sigkill_right_after_acks_loses_no_acknowledged_event(make_local_server, tmp_path):
    # GIVEN local mode that has just acknowledged 300 events from concurrent requests
    data_dir = tmp_path / "data"
    first = make_local_server(data_dir=data_dir)
    events = clicks(300)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: first.post({"events": events[i:i + 10]}), range(0, 300, 10)))
    assert {r.status_code for r in replies} == {202}
    acked = [i for r in replies for i in r.json()["event_ids"]]

    # WHEN every process of it is SIGKILLed, then local mode starts again on the same data
    kill_tree(first.process)
    second = make_local_server(data_dir=data_dir)
    second.drain_now()

    # THEN every acknowledged event is in the lake, once
    assert Counter(e["event_id"] for e in second.lake_events()) == Counter(acked)
    assert sorted(acked) == ids(events)


def test_sigkill_of_local_mode_leaves_no_orphan_serving(make_local_server):
    # GIVEN local mode running
    server = make_local_server()
    groups = children(server.process)
    try:
        # WHEN only its main process is SIGKILLed (the OOM killer, kill -9)
        server.process.kill()
        server.process.wait()
        # THEN its children stop too, within a few seconds: the port no longer answers
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and living(groups):
            time.sleep(0.1)
        assert living(groups) == []
    finally:
        kill_groups(groups)


def test_ctrl_c_stops_every_process_and_keeps_accepted_events(make_local_server, tmp_path):
    # GIVEN local mode that accepted events it has not drained yet
    data_dir = tmp_path / "data"
    first = make_local_server(data_dir=data_dir)
    process, groups = first.process, children(first.process)
    acked = first.post({"events": clicks(30)}).json()["event_ids"]
    # WHEN Ctrl-C reaches it (the terminal signals its foreground process: the main one)
    first.stop(signal.SIGINT)
    # THEN it exits cleanly, with no child left behind...
    assert process.returncode == 0 and living(groups) == []
    # ...and the next start drains what it had accepted
    second = make_local_server(data_dir=data_dir)
    second.drain_now()
    assert ids(second.lake_events()) == sorted(acked)


def test_a_drainer_racing_two_collector_workers_loses_and_doubles_nothing(make_local_server):
    # GIVEN local mode (2 server workers) whose timer drains every 50 ms, whatever is queued
    server = make_local_server(env={"LOGDIG_MIN_MESSAGES": "1", "LOGDIG_MAX_WAIT_SECONDS": "0",
                                    "LOGDIG_DRAIN_INTERVAL_SECONDS": "0.05"})
    # WHEN 1000 events arrive in 100 concurrent requests while it drains
    events = clicks(1000)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: server.post({"events": events[i:i + 10]}),
                                range(0, 1000, 10)))
    assert {r.status_code for r in replies} == {202}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(server.lake_events()) < 1000:
        time.sleep(0.2)
    server.drain_now()  # a second drainer, racing the timer for whatever is left

    # THEN the lake holds every acknowledged event exactly once
    acked = Counter(i for r in replies for i in r.json()["event_ids"])
    assert Counter(e["event_id"] for e in server.lake_events()) == acked
    assert sorted(acked) == ids(events)


# -------------------------------------------------- (e) unparseable queue messages


def test_unparseable_messages_go_to_bad_with_their_reason_and_block_nothing(tmp_path):
    # GIVEN good messages with four kinds of broken ones between them
    queue = LocalQueue(tmp_path / "queue.sqlite3")
    good = enriched(clicks(6))
    half_good = enriched([click(99)])[0]
    broken = {
        "not json\n": "line 1 is not JSON",
        "[1, 2]\n": "line 1 is not a JSON object",
        dumps(click(98)) + "\n": "received_at",  # a client event that skipped the collector
        dumps(half_good) + "\n{truncated\n": "line 2 is not JSON",
    }
    queue.send_batch([dumps(good[0]) + "\n", *list(broken)[:2], pack(map(dumps, good[1:4]), 4096)[0]])
    queue.send_batch([*list(broken)[2:], dumps(good[4]) + "\n" + dumps(good[5]) + "\n"])
    lake = DirLake(tmp_path / "lake")

    # WHEN the queue is drained
    summary = drain(queue, lake, OPTIONS)

    # THEN the good events are in the lake, each broken message is kept under bad/ with its
    # reason (whole when unreadable; a readable one's lines that do not fit the lake schema),
    # and the queue is empty
    assert ids(read_lake_events(tmp_path / "lake" / "events")) == ids(good)
    kept = [json.loads(lake.get(key)) for key in lake.keys("bad/")]
    bodies = [k.get("body") or "".join(line["text"] + "\n" for line in k["lines"]) for k in kept]
    assert sorted(bodies) == sorted(broken)
    for record, body in zip(kept, bodies, strict=True):
        assert broken[body] in record["reason"]
    assert all(key.startswith("bad/dt=") and key.endswith(".json") for key in lake.keys("bad/"))
    assert summary["bad_messages"] == 4 and summary["events"] == 6
    assert queue.depth() == 0 and queue.receive(10) == []


# -------------------------------------------- (f) partial SendMessageBatch failure


class FakeSqs:
    """SendMessageBatch that fails the entries `fail(call, entry_id)` picks; records every call."""

    def __init__(self, fail):
        self.fail = fail
        self.calls: list[list[dict]] = []
        self.stored: list[str] = []

    def send_message_batch(self, QueueUrl, Entries):  # noqa: N803 - boto3's parameter names
        call = len(self.calls)
        self.calls.append(Entries)
        failed = [e for e in Entries if self.fail(call, e["Id"])]
        self.stored.extend(e["MessageBody"] for e in Entries if e not in failed)
        return {"Successful": [{"Id": e["Id"], "MessageId": f"m{call}-{e['Id']}",
                                "MD5OfMessageBody": "-"} for e in Entries if e not in failed],
                "Failed": [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError",
                            "Message": "try again"} for e in failed]}


def big_events(count: int) -> list[dict]:
    # Random text compresses little: ~800 bytes each even gzip'd, so 200 of them need three
    # 64 KiB messages in one SendMessageBatch
    rng = random.Random(11)
    noise = string.ascii_letters + string.digits + string.punctuation

    def text(n: int) -> str:
        return "".join(rng.choice(noise) for _ in range(n))

    return [click(i, page_title=text(500), target_text=text(256)) for i in range(count)]


def stored_ids(bodies: list[str]) -> list[str]:
    return sorted(event["event_id"] for body in bodies for _, event in parse_body(body))


def test_failed_batch_entries_are_retried_and_the_request_succeeds(tmp_path):
    # GIVEN an SQS client whose first SendMessageBatch fails the entry with Id 1
    sqs = FakeSqs(lambda call, entry_id: call == 0 and entry_id == "1")
    client = collector(tmp_path, SqsQueue("https://sqs.test/1/q", sqs, retry_seconds=2))
    events = big_events(200)

    # WHEN one request carries them
    reply = client.post("/v1/logs", json={"events": events})

    # THEN only the failed entry was sent again, and every event was stored exactly once
    assert reply.status_code == 202
    assert len(sqs.calls) == 2 and len(sqs.calls[0]) >= 3
    assert sqs.calls[1] == [sqs.calls[0][1]]
    assert stored_ids(sqs.stored) == ids(events)


@pytest.mark.parametrize("failing", ["every entry", "one entry"])
def test_entries_failing_until_the_deadline_answer_503(tmp_path, failing):
    # GIVEN an SQS client that keeps failing (all entries, or just one of three)
    sqs = FakeSqs(lambda call, entry_id: failing == "every entry" or entry_id == "1")
    client = collector(tmp_path, SqsQueue("https://sqs.test/1/q", sqs, retry_seconds=0.3))

    # WHEN a request arrives, THEN it gets 503 after several retries of only the failed entries
    assert_503_nothing_accepted(client.post("/v1/logs", json={"events": big_events(200)}))
    assert len(sqs.calls) >= 3
    assert all(entry["Id"] == "1" or failing == "every entry"
               for call in sqs.calls[1:] for entry in call)


def test_botocore_stubbed_partial_failure_is_retried(tmp_path, monkeypatch):
    # GIVEN a real botocore SQS client stubbed to fail its first SendMessageBatch entry once
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/logdig"
    expected = {"QueueUrl": url, "Entries": [{"Id": "0", "MessageBody": ANY}]}
    with Stubber(sqs) as stub:
        stub.add_response("send_message_batch", {"Successful": [], "Failed": [
            {"Id": "0", "SenderFault": False, "Code": "ServiceUnavailable"}]}, expected)
        stub.add_response("send_message_batch", {"Successful": [
            {"Id": "0", "MessageId": "m-1", "MD5OfMessageBody": "d41d8cd98f00b204e9800998ecf8427e"}],
            "Failed": []}, expected)
        client = collector(tmp_path, SqsQueue(url, sqs, retry_seconds=2))

        # WHEN an event arrives, THEN it is accepted after the retry, with both responses used
        reply = client.post("/v1/logs", json=click(1))
        assert reply.status_code == 202
        stub.assert_no_pending_responses()
