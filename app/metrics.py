"""Prometheus counters at GET /metrics.

Under gunicorn each worker is a process: local mode sets PROMETHEUS_MULTIPROC_DIR before the
workers start, and the endpoint then sums every worker's numbers.
"""

from __future__ import annotations

import contextlib
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

ACCEPTED = Counter("logdig_events_accepted", "Events acknowledged after the queue took them")
REJECTED = Counter("logdig_events_rejected", "Requests rejected", ["reason"])
FLUSHES = Counter("logdig_flushes", "Group-commit flushes to the queue")
MESSAGES = Counter("logdig_queue_messages_sent", "Queue messages sent")
BILLED = Counter("logdig_queue_billed_requests", "SQS requests billed (64 KiB units) for sends")
FLUSH_SECONDS = Histogram(
    "logdig_flush_seconds", "Seconds per flush to the queue",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


# In multiprocess mode a value lives in an mmap'd file that grows (or is made, in a new worker)
# on first use: on a full disk that write fails. A number we cannot count must not change the
# answer: a 503 must not become a 500, nor an acknowledged request a 500 the tracker would retry.
# After a failed grow, prometheus_client's mmap state is broken and later writes raise TypeError
# (seen: "'NoneType' object does not support item assignment"), so any error is swallowed here.
_uncountable = contextlib.suppress(Exception)


def count_accepted(events: int) -> None:
    with _uncountable:
        ACCEPTED.inc(events)


def count_rejected(reason: str) -> None:
    with _uncountable:
        REJECTED.labels(reason).inc()


def observe_flush(events: int, messages: int, billed: int, seconds: float) -> None:
    with _uncountable:
        FLUSHES.inc()
        MESSAGES.inc(messages)
        BILLED.inc(billed)
        FLUSH_SECONDS.observe(seconds)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
