"""Local mode's durable queue has SQS's receive / visibility timeout / delete semantics."""

from __future__ import annotations

import multiprocessing

import pytest

from logdig.local_queue import LocalQueue


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        return self.now


def test_receive_hides_until_delete_or_timeout(tmp_path):
    clock = Clock()
    queue = LocalQueue(tmp_path / "q.sqlite3", visibility_timeout=30, clock=clock)
    queue.send_batch(["a\n", "b\n", "c\n"])
    first = queue.receive(2)
    assert [m.body for m in first] == ["a\n", "b\n"] and queue.depth() == 1
    assert [m.body for m in queue.receive(10)] == ["c\n"]
    assert queue.receive(10) == []
    queue.delete(first[:1])
    clock.now += 31  # b and c come back; a is gone
    assert sorted(m.body for m in queue.receive(10)) == ["b\n", "c\n"]


def test_a_stale_receipt_does_not_delete_a_redelivered_message(tmp_path):
    clock = Clock()
    queue = LocalQueue(tmp_path / "q.sqlite3", visibility_timeout=30, clock=clock)
    queue.send_batch(["a\n"])
    stale = queue.receive(1)
    clock.now += 31
    fresh = queue.receive(1)
    queue.delete(stale)
    clock.now += 31
    assert [m.id for m in queue.receive(1)] == [fresh[0].id]


def test_release_makes_messages_visible_at_once(tmp_path):
    queue = LocalQueue(tmp_path / "q.sqlite3", visibility_timeout=300)
    queue.send_batch(["a\n"])
    queue.release(queue.receive(1))
    assert [m.body for m in queue.receive(1)] == ["a\n"]


def test_messages_survive_reopening(tmp_path):
    LocalQueue(tmp_path / "q.sqlite3").send_batch(["kept\n"])
    assert [m.body for m in LocalQueue(tmp_path / "q.sqlite3").receive(10)] == ["kept\n"]


def _send(path: str, worker: int) -> None:
    queue = LocalQueue(path)
    for i in range(50):
        queue.send_batch([f"{worker}-{i}\n"])


@pytest.mark.process
def test_several_processes_send_while_one_receives(tmp_path):
    path = str(tmp_path / "q.sqlite3")
    queue = LocalQueue(path, visibility_timeout=300)
    ctx = multiprocessing.get_context("spawn")
    senders = [ctx.Process(target=_send, args=(path, w)) for w in range(4)]
    for p in senders:
        p.start()
    seen = []
    while any(p.is_alive() for p in senders) or queue.depth():
        batch = queue.receive(10, wait_seconds=0.2)
        seen.extend(m.body for m in batch)
        queue.delete(batch)
    for p in senders:
        p.join()
    assert p.exitcode == 0
    assert sorted(seen) == sorted(f"{w}-{i}\n" for w in range(4) for i in range(50))
