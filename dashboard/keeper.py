"""One open read-only database for the page's burst of reports from the query store.

Each report from the store opens the store file read-only and closes it (analysis/store.py:
readers hold the file briefly, so a sync in another process gets its write lock between
them). Opening costs a DuckDB instance and an empty buffer pool: on the 10-million-event store
20-60 ms of a 50-150 ms report. While reports of this process run, and LINGER_S after the last,
the Keeper holds one more read-only connection, so every report's own connect joins the open
instance (DuckDB shares one instance per file in a process) and finds the blocks the previous
report read. When the burst is over it lets go, and writers (this process's own sync, which
first calls close(), or another process's) get the file as before.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from analysis import store as query_store

LINGER_S = 1.0  # a page's calls arrive within milliseconds of each other; 10 s apart is a refresh
log = logging.getLogger("logdig.dashboard")


class Keeper:
    def __init__(self, linger_s: float = LINGER_S):
        self.linger_s = linger_s
        self._lock = threading.Lock()
        self._con = None
        self._users = 0
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Keeper:
        return self

    def __exit__(self, *exc) -> None:
        self.leave()

    def enter(self, store: Path) -> Keeper:
        """A report is about to read `store`: keep it open (use as `with keeper.enter(store):`)."""
        with self._lock:
            self._users += 1
            self._cancel()
            if self._con is None and store.exists():
                try:
                    self._con = query_store.connect(store, read_only=True, wait_s=1.0)
                except Exception as exc:  # noqa: BLE001 - the report's own connect says why
                    log.debug("store keeper not opened: %s", exc)
        return self

    def leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._con is not None:
                self._timer = threading.Timer(self.linger_s, self._close_if_idle)
                self._timer.daemon = True
                self._timer.start()

    def close(self) -> None:
        """Let go of the file now (before this process writes it)."""
        with self._lock:
            self._cancel()
            self._drop()

    @property
    def holding(self) -> bool:
        return self._con is not None

    def _close_if_idle(self) -> None:
        with self._lock:
            if self._users == 0:
                self._drop()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _drop(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
