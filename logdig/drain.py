"""The batcher: move queued events into date-partitioned, SHA-256-named lake objects.

At least once, never lost: messages are deleted only after every object holding their events is
stored. A crash anywhere leaves them queued, to be received again when their visibility timeout
ends; the duplicates this can make are removable by event_id.

Bounded in time: a run receives in rounds, and a round stops receiving `margin_seconds` before
either the run's budget (Lambda's remaining time, the local timer's LOGDIG_DRAIN_BUDGET_SECONDS)
or the visibility timeout of the first message it received runs out, then stores and deletes what
it holds. So a slow queue (receiving taking longer than the visibility timeout) cannot make a
round receive its own messages again forever.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from config import ConfigError, Settings
from logdig.errors import QueueUnavailable
from logdig.events import received_date
from logdig.lake import Lake
from logdig.lake_layout import (
    BAD_SUFFIX,
    content_key,
    group_by_date,
    object_bytes,
    object_key,
    split_by_size,
    utc_day,
)
from logdig.line_check import line_problem
from logdig.logs import emit
from logdig.message_queue import Message, Queue
from logdig.packing import parse_body

log = logging.getLogger("logdig.drain")


_DEFAULTS = Settings()


@dataclass(frozen=True)
class DrainOptions:
    min_messages: int = _DEFAULTS.min_messages
    max_wait_seconds: float = _DEFAULTS.max_wait_seconds
    lake_prefix: str = _DEFAULTS.lake_prefix
    bad_prefix: str = _DEFAULTS.bad_prefix
    max_object_bytes: int = _DEFAULTS.max_object_bytes
    # Stop receiving this long before the budget or the first message's visibility ends.
    margin_seconds: float = _DEFAULTS.drain_margin_seconds
    wait_seconds: float = 1  # long polling, so a sparse queue is not mistaken for an empty one
    visibility_seconds: float | None = None  # the queue's; None: asked at the start of each run

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> DrainOptions:
        values = {"min_messages": settings.min_messages,
                  "max_wait_seconds": settings.max_wait_seconds,
                  "lake_prefix": settings.lake_prefix, "bad_prefix": settings.bad_prefix,
                  "max_object_bytes": settings.max_object_bytes,
                  "margin_seconds": settings.drain_margin_seconds}
        return cls(**{**values, **overrides})


def check_timing(visibility: float, budget: float, options: DrainOptions) -> None:
    """ConfigError when the queue's visibility timeout, the run's budget and the margin kept for
    storing cannot work together (checked at start, before any message is received)."""
    margin = options.margin_seconds
    if budget <= margin:
        raise ConfigError(
            f"a drain budget of {budget:g} s leaves no time to receive after the {margin:g} s kept "
            "to store and delete (LOGDIG_DRAIN_MARGIN_SECONDS): raise LOGDIG_DRAIN_BUDGET_SECONDS "
            "(in AWS, the Lambda timeout) or lower the margin")
    if visibility <= margin + options.wait_seconds:
        raise ConfigError(
            f"the queue's visibility timeout of {visibility:g} s is too short for the drain: it "
            f"keeps {margin:g} s to store and delete (LOGDIG_DRAIN_MARGIN_SECONDS) and polls "
            f"{options.wait_seconds:g} s per receive, so a received message would come back before "
            f"it could be deleted; raise the queue's VisibilityTimeout "
            f"(LOGDIG_VISIBILITY_TIMEOUT_SECONDS) above {margin + options.wait_seconds:g} s or "
            "lower the margin")


def prepare(queue: Queue, options: DrainOptions, budget: float) -> DrainOptions:
    """The options with the queue's visibility timeout, checked against the budget (at start)."""
    visibility = queue.visibility_timeout()
    check_timing(visibility, budget, options)
    return replace(options, visibility_seconds=visibility)


@dataclass
class Summary:
    reason: str = "drained"
    messages: int = 0
    events: int = 0
    objects: int = 0
    bytes: int = 0
    bad_messages: int = 0  # messages with a bad/ record: unreadable, or some lines off the schema
    bad_lines: int = 0  # lines set aside under bad/ (an unreadable message counts none)
    duplicates: int = 0
    seconds: float = 0.0
    queue_depth: int = 0  # messages waiting when the run began (SQS's approximate count)


def drain(queue: Queue, lake: Lake, options: DrainOptions = DrainOptions(),
          now: Callable[[], float] = time.time,
          remaining: Callable[[], float] = lambda: math.inf,
          clock: Callable[[], float] = time.monotonic) -> dict:
    """Drain if enough waits (or the oldest waited long enough); `remaining()` is seconds left."""
    started = clock()
    summary = Summary()
    window = _Window(options.visibility_seconds or queue.visibility_timeout(),
                     options.margin_seconds, remaining, clock)
    pending = _due(queue, options, now, summary, window)
    if pending is not None:
        while window.budget_left():
            received = _collect(queue, pending, options, now, window)
            if not received:
                break
            _store(received, queue, lake, options, now, summary)
            pending = []
            window.next_round()
        else:
            summary.reason = "time budget reached; the rest stays queued"
            if pending:  # a sample received to check its age: hand it back, do not hide it
                queue.release(pending)
    summary.seconds = round(clock() - started, 3)
    if summary.messages or pending is not None:  # idle ticks stay out of the log
        emit(log, "drain", **asdict(summary))
    return asdict(summary)


class _Window:
    """When a round must stop receiving: `margin` before the run's budget ends, or before the
    visibility timeout of the round's first received message does."""

    def __init__(self, visibility: float, margin: float, remaining, clock):
        self.visibility, self.margin = visibility, margin
        self.remaining, self.clock = remaining, clock
        self.first_receive: float | None = None

    def received(self, at: float) -> None:
        if self.first_receive is None:
            self.first_receive = at

    def next_round(self) -> None:
        self.first_receive = None

    def budget_left(self) -> bool:
        return self.remaining() > self.margin

    def open(self) -> bool:
        if not self.budget_left():
            return False
        return (self.first_receive is None
                or self.clock() < self.first_receive + self.visibility - self.margin)


def _due(queue: Queue, options: DrainOptions, now, summary: Summary,
         window: _Window) -> list[Message] | None:
    """Messages to start with ([] for none yet) when a drain is due, None when it is not.

    SQS reports no age for its oldest message, so below the threshold a sample is received and
    its oldest SentTimestamp decides; a sample that is not due is released at once.
    """
    depth = summary.queue_depth = queue.depth()
    if depth >= options.min_messages:
        return []
    at = window.clock()
    sample = queue.receive(10) if depth else []
    if not sample:
        summary.reason = "queue empty"
        return None
    if now() - min(m.sent_at for m in sample) >= options.max_wait_seconds:
        window.received(at)
        return sample
    queue.release(sample)
    summary.reason = f"{depth} messages below the threshold of {options.min_messages}"
    return None


@dataclass
class _Received:
    """A received message, parsed and checked at once: its (date, line, event) triples and its
    lines that do not fit the lake schema, or why it cannot be read at all."""

    message: Message
    events: list = field(default_factory=list)
    bad_lines: list = field(default_factory=list)  # {"line": number, "reason", "text"}
    problem: str | None = None

    @classmethod
    def parse(cls, message: Message, now: float) -> _Received:
        try:
            pairs = parse_body(message.body)
        except ValueError as exc:
            return cls(message, problem=str(exc))
        received = cls(message)
        for number, (line, event) in enumerate(pairs, start=1):
            reason = line_problem(event, now)
            if reason is None:
                received.events.append((received_date(event), line, event))
            else:
                received.bad_lines.append({"line": number, "reason": reason, "text": line})
        return received

    @property
    def size(self) -> int:
        # Decoded bytes: a gzip'd body unpacks several-fold, and memory holds the unpacked lines.
        return sum(len(line) + 1 for _, line, _ in self.events) or len(self.message.body)


def _collect(queue: Queue, pending: list[Message], options: DrainOptions, now,
             window: _Window) -> list[_Received]:
    """Receive 10 at a time until one object's worth of bytes is held, the queue runs dry, or
    the round's window closes (budget or visibility timeout, less the margin)."""
    received = [_Received.parse(m, now()) for m in pending]
    size = sum(r.size for r in received)
    while size < options.max_object_bytes:
        if received and not window.open():  # the caller checked the budget before the first
            break
        at = window.clock()
        try:
            messages = queue.receive(10, wait_seconds=options.wait_seconds)
        except QueueUnavailable as exc:
            if not received:
                raise
            # Store what is held rather than let it all come back after the visibility timeout.
            emit(log, "receive_failed", error=str(exc), holding=len(received))
            break
        if not messages:
            break
        window.received(at)
        batch = [_Received.parse(m, now()) for m in messages]
        received.extend(batch)
        size += sum(r.size for r in batch)
    return received


def _store(received: list[_Received], queue: Queue, lake: Lake, options: DrainOptions, now,
           summary: Summary) -> None:
    good = _first_of_each_event([triple for r in received for triple in r.events], summary)
    for date, lines in sorted(group_by_date(good).items()):
        for run in split_by_size(lines, options.max_object_bytes):
            data = object_bytes(run)
            lake.put(object_key(options.lake_prefix, date, data), data)
            summary.objects += 1
            summary.bytes += len(data)
    bad = [r for r in received if r.problem is not None or r.bad_lines]
    for r in bad:
        _keep_bad(r, lake, options, now)
    # Only now, with every event of these messages in the lake, may they leave the queue.
    messages = [r.message for r in received]
    for start in range(0, len(messages), 10):
        queue.delete(messages[start:start + 10])
    summary.messages += len(messages)
    summary.events += len(good)
    summary.bad_messages += len(bad)
    summary.bad_lines += sum(len(r.bad_lines) for r in bad)


def _first_of_each_event(triples: list[tuple[str, str, dict]], summary: Summary) -> list:
    """Drop repeats of an event_id within one round: a tracker resending a batch whose answer it
    never saw (the page was closing) makes them. Repeats across rounds stay for the reports."""
    seen: set = set()
    unique = []
    for triple in triples:
        event_id = triple[2].get("event_id")
        # Only string ids mark a resend; any other (a foreign producer's list, say) is kept as is.
        if isinstance(event_id, str) and event_id in seen:
            summary.duplicates += 1
            continue
        if isinstance(event_id, str):
            seen.add(event_id)
        unique.append(triple)
    return unique


def _keep_bad(received: _Received, lake: Lake, options: DrainOptions, now) -> None:
    """A bad/ record: the whole body of a message that cannot be read, or the lines of a
    readable one that do not fit the lake schema (its other lines are in events/)."""
    message = received.message
    record = {"message_id": message.id, "sent_at": message.sent_at}
    if received.problem is not None:
        record.update(reason=received.problem, body=message.body)
    else:
        lines = received.bad_lines
        record.update(reason=f"{len(lines)} line(s) do not fit the lake schema, first "
                             f"line {lines[0]['line']}: {lines[0]['reason']}", lines=lines)
    data = json.dumps(record, ensure_ascii=True).encode()
    key = content_key(options.bad_prefix, utc_day(now()), data, BAD_SUFFIX)
    lake.put(key, data)
    emit(log, "bad_message", message_id=message.id, reason=record["reason"], key=key)
