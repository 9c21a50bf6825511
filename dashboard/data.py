"""What the dashboard shows, as report rows: every number comes from analysis/reports.py through
analysis.query.run_report; this module only picks the reports, their options and the lake."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from analysis import lake_files, query
from analysis.reports import ReportError
from config import Settings
from dashboard import pending, ranges
from logdig.errors import InvalidInput
from logdig.lake_layout import dates, listed_days

# Query parameters each endpoint passes to the reports as they are (the CLI's options).
REPORT_PARAMS = ("from", "to", "tz", "site", "page", "referrer", "bucket", "steps", "columns",
                 "row_px", "include_bots")
FILTERS = ("tz", "site", "page", "referrer", "include_bots")
REALTIME_WINDOW = timedelta(minutes=30)  # events per minute over the last 30 minutes
# Sessions are rebuilt from this long before now: a session started earlier shows a shorter
# duration, never a wrong visitor count (only the last 5 minutes decide who is current).
SESSION_LOOKBACK = timedelta(hours=6)
log = logging.getLogger("logdig.dashboard")
REUSE_SECONDS = 2.0
SYNC_SECONDS = 10.0  # how stale the query store may be: new lake objects show within this


def invalid(exc: ReportError) -> InvalidInput:
    """A report option error as the project's 400, naming the query parameter."""
    message = str(exc)
    field = message.split()[0].removeprefix("--").replace("-", "_") if message.startswith("--") \
        else "name"
    return InvalidInput(field, message)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Source:
    """The lake the dashboard reads, and local mode's queue when there is one."""

    lake_url: str
    settings: Settings
    queue_path: Path | None = None  # set in local mode: realtime also reads queued events
    store: Path | None = None  # the query store answering for this lake (None: the lake itself)
    _lake: lake_files.LakeLocation | None = None
    _sync_lock: threading.Lock = field(default_factory=threading.Lock)
    _synced: float = float("-inf")
    _realtime_lock: threading.Lock = field(default_factory=threading.Lock)
    _realtime: dict = field(default_factory=dict)

    @property
    def lake(self) -> lake_files.LakeLocation:
        # Opened on first use: local mode's lake directory appears with the first drain.
        if self._lake is None:
            self._lake = lake_files.open_lake(self.lake_url, settings=self.settings)
        return self._lake

    def run(self, name: str, raw: dict, lake: lake_files.LakeLocation | None = None) -> list[dict]:
        """Rows of a report; from the store when there is one, except over `lake` (realtime's
        lake-plus-queue, which changes every call)."""
        given = {k: v for k, v in raw.items() if v not in (None, "")}
        store = self.store if lake is None and self.store and self.store.parent.is_dir() else False
        try:
            if store is False:
                return query.run_report(name, given, lake or self.lake, strict=True,
                                        store=False).records()
            return self._from_store(name, given, store)
        except ReportError as exc:
            raise invalid(exc) from None

    def _from_store(self, name: str, given: dict, store: Path) -> list[dict]:
        """One call per SYNC_SECONDS brings the store up to date (the others wait for it);
        the rest read it as it stands, instead of each of a page's parallel calls queueing
        for the store's write lock."""
        import duckdb

        from analysis.store import StoreError

        try:
            with self._sync_lock:
                if time.monotonic() - self._synced >= SYNC_SECONDS or not store.exists():
                    rows = query.run_report(name, given, self.lake, strict=True,
                                            store=store).records()
                    self._synced = time.monotonic()
                    return rows
            return query.run_report(name, given, self.lake, strict=True, store=store,
                                    refresh=False).records()
        except (StoreError, duckdb.Error, OSError) as exc:
            # The store is a cache of the lake: when it fails (e.g. two processes building it),
            # the lake answers the same rows, slower, and the next call tries the store again.
            log.warning({"event": "dashboard_store_failed", "report": name, "error": str(exc)})
            return query.run_report(name, given, self.lake, strict=True, store=False).records()

    def has_events(self) -> bool:
        """Whether any event reached the lake (or, in local mode, waits in the queue)."""
        if self.queue_path is not None and pending.queued_events(self.queue_path):
            return True
        if self.lake_url.startswith("file:") and not Path(unquote(urlparse(self.lake_url).path)).is_dir():
            return False
        # A day folder exists only once the drain (or compaction) wrote into it.
        return any(listed_days(self.lake.lake, prefix)
                   for prefix in (self.lake.events_prefix, self.lake.parquet_prefix))

    def summary(self, raw: dict, now: datetime) -> dict:
        """The tiles: the summary row, current visitors, and the same for the previous period."""
        filters = {k: raw.get(k) for k in FILTERS}
        current = self._one_row("summary", {**filters, "from": raw.get("from"), "to": raw.get("to")})
        before = ranges.previous(str(raw.get("from")), str(raw.get("to")), raw.get("tz") or "UTC")
        previous = self._one_row("summary", {**filters, **before})
        current["current_visitors"] = len(self.realtime(filters, now)["sessions"])
        previous["current_visitors"] = None  # "now" has no previous period
        return {**current, "previous": previous, "previous_range": before}

    def _one_row(self, name: str, raw: dict) -> dict:
        if not raw.get("from") or not raw.get("to"):
            raise InvalidInput("from" if not raw.get("from") else "to", "is required")
        return self.run(name, raw)[0]

    def realtime(self, filters: dict, now: datetime) -> dict:
        """Active sessions and events per minute over the last 30 minutes, with the time the
        data is as of: now when queued events are read too, else the newest event seen. The
        page asks twice at once (the tiles' current visitors and the realtime panel): an answer
        less than REUSE_SECONDS old is given again."""
        key = tuple(sorted((k, v) for k, v in filters.items() if k != "tz" and v))
        with self._realtime_lock:
            cached = self._realtime.get(key)
            if cached and time.monotonic() - cached[0] < REUSE_SECONDS:
                return cached[1]
            answer = self._realtime_now(filters, now)
            self._realtime = {key: (time.monotonic(), answer)}
            return answer

    def _realtime_now(self, filters: dict, now: datetime) -> dict:
        upto = now.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        since = (upto - SESSION_LOOKBACK).replace(second=0)
        window = {**{k: v for k, v in filters.items() if k != "tz"}, "to": iso(upto)}
        days = dates(since.date().isoformat(), upto.date().isoformat())
        minute_from = (upto - REALTIME_WINDOW).replace(second=0)
        with self._realtime_lake(days) as lake:
            sessions = self.run("active_sessions", {**window, "from": iso(since)}, lake)
            minutes = self.run("traffic", {**window, "from": iso(minute_from), "bucket": "minute"},
                               lake)
        if self.queue_path is not None:
            as_of = iso(now)
        else:
            as_of = max((s["last_activity"] for s in sessions), default=None)
        return {"as_of": as_of, "read_at": iso(now), "queue_included": self.queue_path is not None,
                "current_visitors": len(sessions), "sessions": sessions, "per_minute": minutes}

    def _realtime_lake(self, days: list[str]):
        if self.queue_path is not None and self.lake.is_local:
            return pending.with_queue(self.lake, self.queue_path, days)
        return nullcontext(None)  # no queue: the store (or the lake) as every report

