"""The daily job: yesterday's partition becomes Parquet. Run by a Lambda on an EventBridge schedule
in AWS (lambda_handler) and by local mode's timer (lambda_sqs_to_s3/timer.py).

Running it twice changes nothing: a day whose Parquet object already names exactly the day's
NDJSON objects is left alone (its footer says so), so a rerun, or a retry by EventBridge, writes
nothing. Events that arrive after compaction make the next run rebuild that day.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from analysis import compact, duck, lake_files
from logdig.errors import LakeError
from logdig.lake_layout import NDJSON_SUFFIX, PARQUET_NAME, parquet_key

log = logging.getLogger("logdig.daily")


def compacted_sources(lake: lake_files.LakeLocation, dt: str, con) -> list[str] | None:
    """The NDJSON names the day's Parquet footer lists, or None when the day has no Parquet yet."""
    if PARQUET_NAME not in lake.names(lake.parquet_prefix, dt, ".parquet"):
        return None
    key = parquet_key(lake.parquet_prefix, dt)
    with tempfile.TemporaryDirectory(prefix="logdig-daily-") as tmp:
        return lake_files.parquet_sources(lake.fetch(key, Path(tmp)), con)


def compact_if_needed(lake: lake_files.LakeLocation, dt: str) -> dict:
    names = lake.names(lake.events_prefix, dt, NDJSON_SUFFIX)
    if not names:
        return {"dt": dt, "skipped": "no events"}
    con = duck.connect()
    if compacted_sources(lake, dt, con) == names:
        return {"dt": dt, "skipped": "already compacted"}
    return compact.compact_day(lake, dt, con)


def run(lake: lake_files.LakeLocation, today: date) -> dict:
    """Compact the day before `today` (UTC) if it needs it; the summary is logged and returned."""
    summary = compact_if_needed(lake, (today - timedelta(days=1)).isoformat())
    log.info({"event": "daily_compaction", **summary})
    return summary


class LocalJob:
    """Local mode's daily job, ticked by lambda_sqs_to_s3/timer.py after each drain: the first
    tick of each UTC day compacts the day before (so also at start, catching up a stopped day)."""

    def __init__(self, settings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.clock = clock
        self.done_for: date | None = None

    def tick(self) -> dict | None:
        today = datetime.fromtimestamp(self.clock(), UTC).date()
        if today == self.done_for:
            return None
        self.done_for = today  # a failure is logged and retried tomorrow, not every tick
        try:
            lake = lake_files.open_lake(None, None, self.settings)
        except LakeError as exc:  # e.g. no lake directory yet: nothing to compact
            log.info({"event": "daily_compaction", "skipped": str(exc)})
            return None
        try:
            return run(lake, today)
        except Exception as exc:  # noqa: BLE001 - the drain timer must keep running whatever this does
            log.error({"event": "daily_compaction_failed", "error": f"{type(exc).__name__}: {exc}"})
            return None


def _scheduled_day(event: dict) -> date:
    """EventBridge passes the scheduled time; a manual invoke may pass {"today": "YYYY-MM-DD"}."""
    if event.get("today"):
        return date.fromisoformat(event["today"])
    if event.get("time"):
        return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).date()
    return datetime.now(UTC).date()


def lambda_handler(event, context):
    from config import load_settings
    from logdig import logs

    settings = load_settings()
    logs.setup()
    lake = lake_files.open_lake(f"s3://{settings.bucket}/", settings.lake_prefix, settings)
    return run(lake, _scheduled_day(event or {}))
