"""Report answers kept per store state, so the page's calls are answered once per store change.

The store changes only when a sync loads something (or another process rebuilds it), and every
report is a pure function of its options and the store's rows: an answer computed for one state
of the store file is right until the file changes. The key holds the file's identity, size and
modification time (and its write-ahead log's), so a sync by this process, by another worker, or
by `python -m analysis sync` makes every kept answer stale at once. Identical calls arriving
together (a page opened in two tabs, a reload while the first load runs) wait for the one
computation instead of each running it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future

KEEP = 256  # answers kept (a page view asks ~20; each a few thousand rows at most)


class Answers:
    """A bounded map key -> rows with one computation in flight per key. Callers must not
    change the rows they get (they are shared)."""

    def __init__(self, keep: int = KEEP):
        self.keep = keep
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, list] = OrderedDict()
        self._flights: dict[Hashable, Future] = {}

    def get(self, key: Hashable, compute: Callable[[], list]) -> list:
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
            flight = self._flights.get(key)
            owner = flight is None
            if owner:
                flight = self._flights[key] = Future()
        if not owner:
            return flight.result()
        try:
            rows = compute()
        except BaseException as exc:
            with self._lock:
                self._flights.pop(key, None)
            flight.set_exception(exc)  # the waiters get the same error (e.g. a 400)
            raise
        with self._lock:
            self._kept[key] = rows
            self._flights.pop(key, None)
            while len(self._kept) > self.keep:
                self._kept.popitem(last=False)
        flight.set_result(rows)
        return rows
