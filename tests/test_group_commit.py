"""Group commit (app/group_commit.py): how the requests of one flush are woken, on the real local
queue. The flusher wakes a flush's first request; each woken request wakes the next once its own
call is done (inside deferring_wakes, as app.RequestLog runs every request), at once otherwise;
a request that gave up waiting is skipped."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import create_app
from app.group_commit import GroupCommitter, deferring_wakes
from config import load_settings
from logdig.errors import QueueUnavailable
from logdig.local_queue import LocalQueue
from logdig.packing import parse_body
from tests.events_factory import clicks


def queued_lines(queue: LocalQueue) -> list[str]:
    return [line for message in queue.receive(100) for line, _ in parse_body(message.body)]


class HeldQueue:
    """The local queue, whose sends wait until the test lets them through."""

    def __init__(self, inner: LocalQueue):
        self.inner = inner
        self.release = threading.Event()

    def send_batch(self, bodies, deadline=None):
        assert self.release.wait(30), "the test never let the send through"
        self.inner.send_batch(bodies, deadline)


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_requests_outside_any_app_call_are_all_woken_and_their_lines_queued(tmp_path):
    # GIVEN a committer used directly (nothing defers the wake-ups), flushes of several requests
    queue = LocalQueue(tmp_path / "queue.sqlite3")
    committer = GroupCommitter(queue, 256 * 1024, flush_wait_ms=50, retry_seconds=10)
    lines = [[f'{{"n":{i},"k":{k}}}' for k in range(3)] for i in range(12)]

    # WHEN 12 threads submit at once
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(committer.submit, lines))

    # THEN every submit returned (none waited out its deadline) and the queue holds every line
    assert sorted(queued_lines(queue)) == sorted(line for group in lines for line in group)


def test_a_woken_request_wakes_the_next_only_when_its_call_returns(tmp_path):
    # GIVEN two requests in one flush, each run inside deferring_wakes (as app.RequestLog does),
    # the first of which keeps working after its submit returned
    queue = LocalQueue(tmp_path / "queue.sqlite3")
    committer = GroupCommitter(queue, 256 * 1024, flush_wait_ms=300, retry_seconds=20)
    first_woken, first_may_end = threading.Event(), threading.Event()
    ended = []

    def first():
        committer.submit(['{"n":1}'])
        first_woken.set()
        assert first_may_end.wait(30)
        ended.append("first")

    def second():
        committer.submit(['{"n":2}'])
        ended.append("second")

    with ThreadPoolExecutor(2) as pool:
        one = pool.submit(deferring_wakes, first)
        wait_until(lambda: committer._pending, "the first request to be pending")
        two = pool.submit(deferring_wakes, second)
        # WHEN the flush is done and the first request was woken
        assert first_woken.wait(30)
        time.sleep(0.3)
        # THEN the second is still waiting while the first one's call runs, and is woken after it
        assert ended == []
        first_may_end.set()
        one.result(30), two.result(30)
    assert ended == ["first", "second"]
    assert sorted(queued_lines(queue)) == ['{"n":1}', '{"n":2}']


def test_a_request_that_gave_up_is_skipped_and_the_rest_of_its_flush_answered(tmp_path):
    # GIVEN a flush holding an early request and a later one, whose send lasts until the early one
    # has given up waiting (its deadline and grace passed) but not the later one
    queue = HeldQueue(LocalQueue(tmp_path / "queue.sqlite3"))
    committer = GroupCommitter(queue, 256 * 1024, flush_wait_ms=1500, retry_seconds=3)

    with ThreadPoolExecutor(2) as pool:
        early = pool.submit(deferring_wakes, lambda: committer.submit(['{"n":"early"}']))
        wait_until(lambda: committer._pending, "the early request to be pending")
        time.sleep(0.9)
        late = pool.submit(deferring_wakes, lambda: committer.submit(['{"n":"late"}']))
        wait_until(lambda: len(committer._pending) == 2 or not committer._pending,
                   "the late request to join")
        # WHEN the early request gives up (503) and only then the queue takes the flush
        with pytest.raises(QueueUnavailable):
            early.result(30)
        queue.release.set()
        # THEN the late request, next in the flush's chain, is woken with success
        assert late.result(30) is None
    assert sorted(queued_lines(queue.inner)) == ['{"n":"early"}', '{"n":"late"}']


def test_every_answer_is_nosniff_and_each_request_logs_one_line(tmp_path, caplog):
    # GIVEN the collector on the local queue
    settings = load_settings({}, data_dir=tmp_path, flush_wait_ms=0)
    client = create_app(settings).test_client()

    # WHEN it answers a good request, a bad one, an unknown path and the polled health check
    with caplog.at_level("INFO", logger="logdig.collector"):
        accepted = client.post("/v1/logs", json={"events": clicks(2)})
        refused = client.post("/v1/logs", json={"events": [{"event_type": 1}]})
        missing = client.get("/nowhere")
        health = client.get("/healthz")

    # THEN every answer says nosniff, and one line per request but the health check names its
    # method, path, status and events
    assert [r.status_code for r in (accepted, refused, missing, health)] == [202, 400, 404, 200]
    assert all(r.headers["X-Content-Type-Options"] == "nosniff"
               for r in (accepted, refused, missing, health))
    lines = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"] == "request"]
    assert [(line["method"], line["path"], line["status"], line["events"]) for line in lines] == [
        ("POST", "/v1/logs", 202, 2), ("POST", "/v1/logs", 400, 0), ("GET", "/nowhere", 404, 0)]
    assert all(isinstance(line["ms"], float) and line["ms"] >= 0 for line in lines)
