"""dashboard/idle.py: work kept off the page's path runs once no call has been in flight for a
while, never during a call, and never after stop()."""

import threading
import time

from dashboard.idle import WhenIdle


def _wait_for(condition, seconds=10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_work_runs_once_the_last_call_has_left_and_not_while_one_is_in_flight():
    ran = []
    idle = WhenIdle(lambda: ran.append(time.monotonic()), lambda: 0.05)
    # GIVEN two overlapping calls, the first leaving long before the second
    first, second = idle.busy(), idle.busy()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    time.sleep(0.3)
    # THEN nothing ran while the second was in flight
    assert ran == []
    left = time.monotonic()
    second.__exit__(None, None, None)
    # WHEN the last leaves, THEN the work runs once, after the idle time
    assert _wait_for(lambda: ran)
    assert ran[0] - left >= 0.05
    time.sleep(0.2)
    assert len(ran) == 1
    idle.stop()


def test_a_call_arriving_before_the_timer_fires_puts_the_work_off():
    ran = []
    idle = WhenIdle(lambda: ran.append(1), lambda: 0.3)
    with idle.busy():
        pass
    time.sleep(0.1)
    with idle.busy():  # within the idle time: the timer starts again when this one leaves
        time.sleep(0.3)
        assert ran == []
    assert _wait_for(lambda: ran)
    assert ran == [1]
    idle.stop()


def test_stop_cancels_the_timer_waits_for_work_in_progress_and_nothing_runs_after():
    started, release, ran = threading.Event(), threading.Event(), []

    def work():
        started.set()
        release.wait(10)
        ran.append(1)

    idle = WhenIdle(work, lambda: 0.01)
    with idle.busy():
        pass
    assert started.wait(10)
    # WHEN stop() is called while the work runs, THEN it returns once the work is done
    threading.Timer(0.2, release.set).start()
    idle.stop()
    assert ran == [1]
    # AND calls after stop() arm nothing
    with idle.busy():
        pass
    time.sleep(0.2)
    assert ran == [1]
