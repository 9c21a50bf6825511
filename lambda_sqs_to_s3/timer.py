"""Local mode's stand-in for the EventBridge schedules: drain every few seconds until stopped,
and once a day compact yesterday into Parquet (analysis/daily.py, as the compaction Lambda does).

Run as `python -m lambda_sqs_to_s3.timer`; SIGTERM or Ctrl-C stops it between drains (a drain
cut short anyway loses nothing: its messages are received again after the visibility timeout).
"""

from __future__ import annotations

import logging
import signal
import threading

from config import Settings, load_settings
from logdig import logs
from logdig.drain import DrainOptions, drain
from logdig.errors import LogDigError
from logdig.lake import make_lake
from logdig.queues import make_queue

log = logging.getLogger("logdig.timer")


def run(settings: Settings, stop: threading.Event) -> None:
    queue, lake = make_queue(settings), make_lake(settings)
    options = DrainOptions.from_settings(settings, margin_seconds=0, wait_seconds=0)
    from analysis.daily import LocalJob  # analysis needs DuckDB: local mode has it, Lambda not

    daily = LocalJob(settings)
    while not stop.is_set():
        try:
            drain(queue, lake, options)
        except LogDigError as exc:  # storage or queue down: try again next tick, nothing lost
            logs.emit(log, "drain_failed", error=str(exc))
        daily.tick()
        stop.wait(settings.drain_interval_seconds)


def main() -> None:
    logs.setup()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run(load_settings(), stop)


if __name__ == "__main__":
    main()
