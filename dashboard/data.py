"""What the dashboard shows, as report rows: every number comes from analysis/reports.py through
analysis.query.run_report; this module only picks the reports, their options and the lake."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from analysis import lake_files, query
from analysis import store as query_store
from analysis.reports import ReportError
from config import Settings
from dashboard import pending, ranges
from dashboard.answers import Answers
from dashboard.idle import WhenIdle
from dashboard.keeper import Keeper
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
# The summary endpoint's parts, run side by side (shared by all calls; a few suffice on 2 cores).
PARTS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dashboard-summary")
SYNC_SECONDS = 10.0  # how stale the query store may be: new lake objects show within this
# A page's syncs never merge the store's appended row groups (~1 s, every slot held): a sync
# this long after the last report does, when due (analysis/store.py, MERGE_WHEN_IDLE).
MERGE_IDLE_SECONDS = 5.0


def invalid(exc: ReportError) -> InvalidInput:
    """A report option error as the project's 400, naming the query parameter."""
    message = str(exc)
    field = message.split()[0].removeprefix("--").replace("-", "_") if message.startswith("--") \
        else "name"
    return InvalidInput(field, message)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(eq=False)  # hashed by identity (_SOURCES)
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
    _answers: Answers = field(default_factory=Answers)
    _slots: threading.Semaphore = field(init=False)

    def __post_init__(self):
        # Reports computed at once (LOGDIG_DASHBOARD_REPORTS, default one per core); a
        # Semaphore wakes its waiters in turn, so the page's calls run in the order asked.
        self._slot_count = self.settings.dashboard_reports or os.cpu_count() or 1
        self._slots = threading.Semaphore(self._slot_count)
        self._keeper = Keeper()  # the store kept open while reports run (dashboard/keeper.py)
        self._idle = WhenIdle(self._idle_sync, lambda: MERGE_IDLE_SECONDS)  # dashboard/idle.py
        _SOURCES.add(self)

    @property
    def lake(self) -> lake_files.LakeLocation:
        # Opened on first use: local mode's lake directory appears with the first drain.
        if self._lake is None:
            self._lake = lake_files.open_lake(self.lake_url, settings=self.settings)
        return self._lake

    def run(self, name: str, raw: dict, lake: lake_files.LakeLocation | None = None,
            keep: bool = True) -> list[dict]:
        """Rows of a report; from the store when there is one, except over `lake` (realtime's
        lake-plus-queue, which changes every call). keep=False: not kept for the next call
        (realtime's windows end at "now": never asked twice)."""
        given = {k: v for k, v in raw.items() if v not in (None, "")}
        store = self.store if lake is None and self.store and self.store.parent.is_dir() else False
        try:
            if store is False:
                return self._report(name, given, lake or self.lake, store=False)
            return self._from_store(name, given, store, keep)
        except ReportError as exc:
            raise invalid(exc) from None

    def _from_store(self, name: str, given: dict, store: Path, keep: bool = True) -> list[dict]:
        """Rows from the store, brought up to date at most every SYNC_SECONDS; the same report
        with the same options over the same store state is computed once (see Answers)."""
        with self._idle.busy():  # the idle sync waits for the page's last report
            return self._answer(name, given, store, keep)

    def _answer(self, name: str, given: dict, store: Path, keep: bool) -> list[dict]:
        import duckdb

        from analysis.store import StoreError

        self._refresh(store)

        def compute() -> list[dict]:
            try:
                return self._report(name, given, self.lake, store=store, refresh=False)
            except (StoreError, duckdb.Error, OSError) as exc:
                # The store is a cache of the lake: when it fails (e.g. being built by another
                # process), the lake answers the same rows, slower; the next call tries again.
                log.warning({"event": "dashboard_store_failed", "report": name, "error": str(exc)})
                return self._report(name, given, self.lake, store=False)

        if not keep:
            return compute()
        return self._answers.get((name, tuple(sorted(given.items())), query_store.file_state(store)), compute)

    def _report(self, name: str, given: dict, lake: lake_files.LakeLocation, **how) -> list[dict]:
        """One report, once a slot is free: the page asks ~20 at once, and on a machine of few
        cores they finish sooner one or two at a time (in the order asked: the tiles and the
        traffic chart first) than all at once, each slowing the others."""
        store = how.get("store")
        with self._slots, (self._keeper.enter(store) if store else nullcontext()):
            return query.run_report(name, given, lake, strict=True, **how).records()

    @contextmanager
    def _all_slots(self):
        """Every report slot (only the syncing call asks for them all, under _sync_lock)."""
        for _ in range(self._slot_count):
            self._slots.acquire()
        try:
            yield
        finally:
            for _ in range(self._slot_count):
                self._slots.release()

    def _refresh(self, store: Path) -> None:
        """Sync the store with the lake when the last sync is SYNC_SECONDS old. One call syncs;
        the page's other calls read the store as it stands meanwhile, except before this
        process's first sync (or without a store file), when they wait for it."""
        import duckdb

        from analysis.store import StoreError

        if time.monotonic() - self._synced < SYNC_SECONDS and store.exists():
            return
        first = self._synced == float("-inf") or not store.exists()
        if not self._sync_lock.acquire(blocking=first):
            return
        try:
            if time.monotonic() - self._synced < SYNC_SECONDS and store.exists():
                return  # another call synced while this one waited
            try:
                self._sync(store, merge=False)
            except (StoreError, duckdb.Error, OSError) as exc:
                # e.g. another process builds it: the reads below use the store as it stands,
                # or the lake when there is none yet; tried again after SYNC_SECONDS.
                log.warning({"event": "dashboard_store_sync_failed", "error": str(exc)})
            self._synced = time.monotonic()
        finally:
            self._sync_lock.release()

    def _sync(self, store: Path, merge: bool) -> query_store.Summary:
        with self._all_slots():  # no report of this process holds the file meanwhile
            self._keeper.close()
            return query_store.sync(self.lake, store, progress=False, wait_s=1.0, merge=merge)

    def stop(self) -> None:
        """No more background work (the idle sync cancelled or waited for); the store let go."""
        self._idle.stop()
        self._keeper.close()

    def _idle_sync(self) -> None:
        """A sync off the page's path, MERGE_IDLE_SECONDS after its last report: it loads what
        is new, then (a sync that loaded does not merge) merges when that is due."""
        import duckdb

        from analysis.store import StoreError

        store = self.store
        if store is None or not store.exists() or not self._sync_lock.acquire(blocking=False):
            return
        try:
            for _ in range(2):
                if not self._sync(store, merge=True).objects:
                    break
            self._synced = time.monotonic()
        except (StoreError, duckdb.Error, OSError) as exc:  # e.g. another process holds it
            log.debug({"event": "dashboard_store_idle_sync_failed", "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - a background task: logged, the next page retries
            log.warning({"event": "dashboard_store_idle_sync_failed", "error": str(exc)})
        finally:
            self._sync_lock.release()

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
        """The tiles: the summary row, current visitors, and the same for the previous period.
        The three are asked at once: the tiles are the page's first panel."""
        for needed in ("from", "to"):
            if not raw.get(needed):
                raise InvalidInput(needed, "is required")
        filters = {k: raw.get(k) for k in FILTERS}
        before = ranges.previous(str(raw.get("from")), str(raw.get("to")), raw.get("tz") or "UTC")
        jobs = [PARTS.submit(self.run, "summary", {**filters, "from": raw["from"], "to": raw["to"]}),
                PARTS.submit(self.run, "summary", {**filters, **before}),
                PARTS.submit(self.realtime, filters, now)]
        current, previous, live = (job.result() for job in jobs)
        # Copies: the rows are shared with other calls (see dashboard/answers.py).
        current = {**current[0], "current_visitors": len(live["sessions"])}
        previous = {**previous[0], "current_visitors": None}  # "now" has no previous period
        return {**current, "previous": previous, "previous_range": before}

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
            sessions = self.run("active_sessions", {**window, "from": iso(since)}, lake, keep=False)
            minutes = self.run("traffic", {**window, "from": iso(minute_from), "bucket": "minute"},
                               lake, keep=False)
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


_SOURCES: weakref.WeakSet[Source] = weakref.WeakSet()


@atexit.register
def _stop_sources() -> None:
    """Before the interpreter ends: a daemon thread stopped inside DuckDB aborts the process."""
    for source in list(_SOURCES):
        source.stop()
