"""Prometheus counters at GET /metrics.

Under gunicorn each worker is a process: local mode sets PROMETHEUS_MULTIPROC_DIR before the
workers start, and the endpoint then sums every worker's numbers.
"""

from __future__ import annotations

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


def observe_flush(events: int, messages: int, billed: int, seconds: float) -> None:
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
