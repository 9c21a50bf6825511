"""Local mode's stand-in for the EventBridge schedules: drain every few seconds until stopped,
and once a day compact yesterday into Parquet (analysis/daily.py, as the compaction Lambda does).

Run as `python -m lambda_sqs_to_s3.timer`. Each run has a time budget, as a Lambda has its timeout
(LOGDIG_DRAIN_BUDGET_SECONDS); SIGTERM or Ctrl-C ends the budget at once, so a run in progress
stops receiving, stores and deletes what it holds, and the timer exits within seconds. A run cut
short anyway loses nothing: its messages are received again after the visibility timeout.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from config import ConfigError, Settings, load_settings
from logdig import logs
from logdig.drain import DrainOptions, drain, prepare
from logdig.errors import LogDigError
from logdig.lake import make_lake
from logdig.queues import make_queue

log = logging.getLogger("logdig.timer")


def budget(seconds: float, stop: threading.Event):
    """remaining() for one run: seconds left of its budget, 0 once stop is set."""
    ends = time.monotonic() + seconds
    return lambda: 0.0 if stop.is_set() else max(0.0, ends - time.monotonic())


def run(settings: Settings, stop: threading.Event) -> None:
    """Drain every LOGDIG_DRAIN_INTERVAL_SECONDS until `stop`; ConfigError at once when the
    queue's visibility timeout, the budget and the margin cannot work together."""
    queue, lake = make_queue(settings), make_lake(settings)
    base = DrainOptions.from_settings(settings, wait_seconds=0)
    options = None
    from analysis.daily import LocalJob  # analysis needs DuckDB: local mode has it, Lambda not

    daily = LocalJob(settings)
    while not stop.is_set():
        try:
            # Checked before the first drain (again after a queue that could not answer it).
            options = options or prepare(queue, base, settings.drain_budget_seconds)
            drain(queue, lake, options, remaining=budget(settings.drain_budget_seconds, stop))
        except LogDigError as exc:  # storage or queue down: try again next tick, nothing lost
            logs.emit(log, "drain_failed", error=str(exc))
        daily.tick()
        stop.wait(settings.drain_interval_seconds)


def main() -> int:
    logs.setup()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        run(load_settings(), stop)
    except ConfigError as exc:
        print(f"logdig timer: configuration error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
