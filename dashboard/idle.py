"""Work kept off the page's path: run once no call has been in flight for a while.

The dashboard's page asks ~20 reports in a burst; work that holds every report slot (merging the
query store's row groups, about a second) should run after the burst, not in it. WhenIdle counts
the calls in flight and arms a timer when the last one leaves; the timer's work runs only if no
call arrived meanwhile, and never after stop().
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_WAIT_S = 30.0  # stop() waits this long for work in progress (a sync is crash-safe anyway)


class WhenIdle:
    def __init__(self, work: Callable[[], None], seconds: Callable[[], float]):
        self._work, self._seconds = work, seconds  # seconds: read when armed (tests change it)
        self._lock = threading.Lock()
        self._running = threading.Lock()  # held while the work runs
        self._busy = 0
        self._timer: threading.Timer | None = None
        self._stopped = False

    @contextmanager
    def busy(self) -> Iterator[None]:
        """A call in flight: no work starts meanwhile; the timer is armed when the last leaves."""
        with self._lock:
            self._busy += 1
            self._cancel()
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                if self._busy == 0 and not self._stopped:
                    self._timer = threading.Timer(self._seconds(), self._fire)
                    self._timer.daemon = True
                    self._timer.start()

    def stop(self) -> None:
        """No more work: the timer cancelled, work in progress waited for (up to STOP_WAIT_S)."""
        with self._lock:
            self._stopped = True
            self._cancel()
        if self._running.acquire(timeout=STOP_WAIT_S):
            self._running.release()

    def _fire(self) -> None:
        with self._lock:
            if self._busy or self._stopped:
                return  # a call arrived: its leaving arms the timer again
            self._running.acquire()
        try:
            self._work()
        finally:
            self._running.release()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
