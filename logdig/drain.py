"""The batcher: move queued events into date-partitioned, SHA-256-named lake objects.

At least once, never lost: messages are deleted only after every object holding their events is
stored. A crash anywhere leaves them queued, to be received again when their visibility timeout
ends; the duplicates this can make are removable by event_id.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from config import Settings
from logdig.lake import Lake
from logdig.lake_layout import (
    BAD_SUFFIX,
    content_key,
    dated,
    group_by_date,
    object_bytes,
    object_key,
    split_by_size,
    utc_day,
)
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
    margin_seconds: float = 30  # stop this long before the time budget ends
    wait_seconds: float = 1  # long polling, so a sparse queue is not mistaken for an empty one

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> DrainOptions:
        values = {"min_messages": settings.min_messages,
                  "max_wait_seconds": settings.max_wait_seconds,
                  "lake_prefix": settings.lake_prefix, "bad_prefix": settings.bad_prefix,
                  "max_object_bytes": settings.max_object_bytes}
        return cls(**{**values, **overrides})


@dataclass
class Summary:
    reason: str = "drained"
    messages: int = 0
    events: int = 0
    objects: int = 0
    bytes: int = 0
    bad_messages: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    queue_depth: int = 0  # messages waiting when the run began (SQS's approximate count)


def drain(queue: Queue, lake: Lake, options: DrainOptions = DrainOptions(),
          now: Callable[[], float] = time.time,
          remaining: Callable[[], float] = lambda: math.inf) -> dict:
    """Drain if enough waits (or the oldest waited long enough); `remaining()` is seconds left."""
    started = time.monotonic()
    summary = Summary()
    pending = _due(queue, options, now, summary)
    if pending is not None:
        while remaining() > options.margin_seconds:
            received = _collect(queue, pending, options, remaining)
            if not received:
                break
            _store(received, queue, lake, options, now, summary)
            pending = []
        else:
            summary.reason = "time budget reached; the rest stays queued"
            if pending:  # a sample received to check its age: hand it back, do not hide it
                queue.release(pending)
    summary.seconds = round(time.monotonic() - started, 3)
    if summary.messages or pending is not None:  # idle ticks stay out of the log
        emit(log, "drain", **asdict(summary))
    return asdict(summary)


def _due(queue: Queue, options: DrainOptions, now, summary: Summary) -> list[Message] | None:
    """Messages to start with ([] for none yet) when a drain is due, None when it is not.

    SQS reports no age for its oldest message, so below the threshold a sample is received and
    its oldest SentTimestamp decides; a sample that is not due is released at once.
    """
    depth = summary.queue_depth = queue.depth()
    if depth >= options.min_messages:
        return []
    sample = queue.receive(10) if depth else []
    if not sample:
        summary.reason = "queue empty"
        return None
    if now() - min(m.sent_at for m in sample) >= options.max_wait_seconds:
        return sample
    queue.release(sample)
    summary.reason = f"{depth} messages below the threshold of {options.min_messages}"
    return None


@dataclass
class _Received:
    """A received message, parsed at once: its (date, line, event) triples, or why it cannot be."""

    message: Message
    events: list = field(default_factory=list)
    problem: str | None = None

    @classmethod
    def parse(cls, message: Message) -> _Received:
        try:
            events = dated(parse_body(message.body))  # every line must carry a received_at
        except ValueError as exc:
            return cls(message, problem=str(exc))
        return cls(message, events)

    @property
    def size(self) -> int:
        # Decoded bytes: a gzip'd body unpacks several-fold, and memory holds the unpacked lines.
        return sum(len(line) + 1 for _, line, _ in self.events) or len(self.message.body)


def _collect(queue: Queue, pending: list[Message], options: DrainOptions,
             remaining) -> list[_Received]:
    """Receive 10 at a time until one object's worth of bytes is held, the queue runs dry,
    or the time budget nears its end."""
    received = [_Received.parse(m) for m in pending]
    size = sum(r.size for r in received)
    while size < options.max_object_bytes:
        batch = [_Received.parse(m) for m in queue.receive(10, wait_seconds=options.wait_seconds)]
        if not batch:
            break
        received.extend(batch)
        size += sum(r.size for r in batch)
        if remaining() <= options.margin_seconds:
            break
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
    bad = [r for r in received if r.problem is not None]
    for r in bad:
        _keep_bad(r.message, r.problem, lake, options, now)
    # Only now, with every event of these messages in the lake, may they leave the queue.
    messages = [r.message for r in received]
    for start in range(0, len(messages), 10):
        queue.delete(messages[start:start + 10])
    summary.messages += len(messages)
    summary.events += len(good)
    summary.bad_messages += len(bad)


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


def _keep_bad(message: Message, reason: str, lake: Lake, options: DrainOptions, now) -> None:
    record = {"reason": reason, "message_id": message.id, "sent_at": message.sent_at,
              "body": message.body}
    data = json.dumps(record, ensure_ascii=True).encode()
    key = content_key(options.bad_prefix, utc_day(now()), data, BAD_SUFFIX)
    lake.put(key, data)
    emit(log, "bad_message", message_id=message.id, reason=reason, key=key)

