"""Group commit: events from concurrent requests share SendMessageBatch calls.

Each request hands its NDJSON lines to one flusher thread and waits. The flusher gathers what
arrived within a few milliseconds, packs it into messages filled to SQS's 64 KiB billing unit,
sends them, and only then wakes each request with success, or with QueueUnavailable if a message
holding any of its lines was not accepted: nothing is acknowledged that the queue did not take.

Every request has one deadline, LOGDIG_QUEUE_RETRY_SECONDS after it arrived: the flush gives up by
the earliest deadline among its requests, and a request whose deadline passes answers 503 whatever
the flusher is doing (a line not yet handed to the queue is withdrawn; one in flight may still
land, a duplicate when the tracker retries, never a loss).

Waking the requests of a flush: the flusher wakes the first; each woken request wakes the next
once its own answer is written (app.RequestLog runs the app inside `deferring_wakes`), or at once
where nothing defers. Woken all at once, the ~27 requests of a flush would all contend for the
GIL, each sleeping and waking again on it several times: ~12 context switches a request instead
of ~8 (bench/collector.py, 1 event per request). A request that gave up (its deadline passed) is
skipped, so the chain never stops at it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate

from app import metrics
from config import Settings
from logdig.errors import QueueUnavailable
from logdig.logs import emit
from logdig.message_queue import Queue
from logdig.packing import (
    FIRST_RATIO,
    batches,
    billed_requests,
    message_cap,
    pack_counted,
    packed_ratio,
    raw_bytes,
)

log = logging.getLogger("logdig.collector")


# How long past its deadline a request waits for the flusher to report: the flusher gives up by
# the deadline itself, and this covers handing over the answer.
GRACE_SECONDS = 0.5


class _Ticket:
    """One request's lines and its answer. `_held` is a bare lock, taken when the ticket is made
    and released once when the request is woken: the request thread waits by acquiring it (one
    futex wake), where a threading.Event's Condition costs a second lock the woken thread must
    take again, and several µs of Python on both sides."""

    __slots__ = ("lines", "deadline", "error", "answered", "woken", "abandoned", "chain", "_held")

    def __init__(self, lines: list[str], deadline: float):
        self.lines = lines
        self.deadline = deadline  # time.monotonic()
        self.error: Exception | None = None
        self.answered = False  # error (or success) is final
        self.woken = False  # _held released (under _WAKES)
        self.abandoned = False  # its request gave up waiting (under _WAKES): the chain skips it
        self.chain: collections.deque[_Ticket] | None = None  # the rest of its flush, to wake
        self._held = threading.Lock()
        self._held.acquire()

    def answer(self, error: Exception | None = None) -> None:
        """Set the answer (once: an answered ticket keeps it); the request is woken later."""
        if self.answered:
            return
        if error is not None:
            self.error = error
        self.answered = True


_WAKES = threading.Lock()  # guards woken/abandoned of every ticket, and the chains
_deferred = threading.local()


def _wake_next(chain: collections.deque[_Ticket]) -> None:
    """Wake the first request of `chain` still waiting (skipping any that gave up)."""
    with _WAKES:
        while chain:
            ticket = chain.popleft()
            if not ticket.abandoned:
                ticket.woken = True
                ticket._held.release()
                return


def _pass_on(chain: collections.deque[_Ticket]) -> None:
    """A woken request's duty: wake the next, now or when deferring_wakes' call returns."""
    pending = getattr(_deferred, "chains", None)
    if pending is None:
        _wake_next(chain)
    else:
        pending.append(chain)


def deferring_wakes(call: Callable[[], object]) -> object:
    """Run `call` (a request) and only then wake the next request of each flush it was woken
    from: that one then finds the GIL free instead of sleeping on it."""
    _deferred.chains = chains = []
    try:
        return call()
    finally:
        _deferred.chains = None
        for chain in chains:
            _wake_next(chain)


class GroupCommitter:
    @classmethod
    def from_settings(cls, queue: Queue, settings: Settings) -> GroupCommitter:
        return cls(queue, settings.max_message_bytes, settings.flush_wait_ms,
                   settings.queue_retry_seconds)

    def __init__(self, queue: Queue, max_message_bytes: int, flush_wait_ms: int,
                 retry_seconds: float):
        self.queue = queue
        self.cap = message_cap(max_message_bytes)
        self.max_batch_bytes = max_message_bytes
        self.flush_wait = flush_wait_ms / 1000
        self.retry_seconds = retry_seconds
        self._cond = threading.Condition()
        self._pending: list[_Ticket] = []
        self._thread: threading.Thread | None = None
        self._ratio = FIRST_RATIO  # what the last flush's bodies achieved: the next first guess

    def submit(self, lines: list[str]) -> None:
        """Return once the queue holds every line; raise QueueUnavailable otherwise."""
        ticket = _Ticket(lines, time.monotonic() + self.retry_seconds)
        with self._cond:
            self._pending.append(ticket)
            self._start_once()
            self._cond.notify()
        if not self._wait(ticket):
            with self._cond:
                if ticket in self._pending:  # never handed to the queue: withdraw it
                    self._pending.remove(ticket)
            raise QueueUnavailable(f"the queue did not answer within {self.retry_seconds} s")
        _pass_on(ticket.chain)
        if ticket.error is not None:
            raise ticket.error

    def _wait(self, ticket: _Ticket) -> bool:
        """Whether the request was woken with its answer (False: it gave up, and is skipped)."""
        if ticket._held.acquire(timeout=self.retry_seconds + GRACE_SECONDS):
            return True
        with _WAKES:
            if ticket.woken:  # woken just as the wait timed out: the answer is there
                return True
            ticket.abandoned = True
            return False

    def _start_once(self) -> None:
        # Started on first use, inside the worker process: a thread started before gunicorn
        # forks would not exist in the worker.
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
            time.sleep(self.flush_wait)
            with self._cond:
                tickets, self._pending = self._pending, []
            chain = collections.deque(tickets)
            for ticket in tickets:
                ticket.chain = chain
            try:
                self._flush(tickets)
            except Exception as exc:  # never leave a request waiting on a dead flusher
                log.exception({"event": "flush_crashed", "error": str(exc)})
                for ticket in tickets:  # an answered ticket keeps its answer
                    ticket.answer(ticket.error or QueueUnavailable(f"flush failed: {exc}"))
            finally:
                _wake_next(chain)  # the first; each woken request wakes the next

    def _flush(self, tickets: list[_Ticket]) -> None:
        started = time.perf_counter()
        lines = [line for ticket in tickets for line in ticket.lines]
        packed = pack_counted(lines, self.cap, self._ratio)
        self._ratio = packed_ratio(lines, packed)
        bodies = [body for body, _ in packed]
        # Which tickets own the lines of each body: by cumulative line counts.
        ends = list(accumulate(len(t.lines) for t in tickets))
        body_ends = list(accumulate(count for _, count in packed))
        deadline = min(ticket.deadline for ticket in tickets)
        sent = billed = 0
        for group in batches(bodies, self.max_batch_bytes):
            first_body = sent
            sent += len(group)
            try:
                if time.monotonic() >= deadline:  # a request of this flush has answered 503
                    raise QueueUnavailable("the flush ran past its deadline")
                self.queue.send_batch(group, deadline)
                billed += billed_requests(sum(len(b) for b in group))
            except QueueUnavailable as exc:
                self._fail(tickets, ends, body_ends, first_body, sent, exc)
        for ticket in tickets:
            ticket.answer()
        seconds = time.perf_counter() - started
        # Counted once a flush, not by each request (a contended lock in prometheus_client's
        # multiprocess mode, ~10 µs a request): the events of requests still waiting for this
        # success, before any is woken, so a 202 is always counted by then.
        with _WAKES:
            accepted = sum(len(t.lines) for t in tickets if t.error is None and not t.abandoned)
        metrics.count_accepted(accepted)
        metrics.observe_flush(len(lines), len(bodies), billed, seconds)
        emit(log, "flush", requests=len(tickets), events=len(lines), messages=len(bodies),
             bytes=sum(map(len, bodies)), raw_bytes=raw_bytes(lines),
             billed_requests=billed,
             ms=round(seconds * 1000, 2))

    @staticmethod
    def _fail(tickets, ends, body_ends, first_body, end_body, exc) -> None:
        first_line = body_ends[first_body - 1] if first_body else 0
        last_line = body_ends[end_body - 1] - 1
        for index in range(bisect_right(ends, first_line), bisect_right(ends, last_line) + 1):
            if index < len(tickets):
                tickets[index].error = exc
        emit(log, "flush_failed", error=str(exc))
