"""A queue that stalls or cannot take a write (issue 12, defects 1 and 4): local mode (`python -m
app`, gunicorn and the timer as real processes) answers 503 + Retry-After within
LOGDIG_QUEUE_RETRY_SECONDS plus a small margin, /readyz says so within its own short bound,
nothing is acknowledged, and both recover when the queue does.

The waits are bounds, not measurements: a request still unanswered at its bound is the failure
(the old collector held requests for 10 s to 33 s and /readyz for the whole outage)."""

from __future__ import annotations

import resource
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.events_factory import click
from tests.moto_process import moto_process

pytestmark = [pytest.mark.process, pytest.mark.wire, pytest.mark.slow]

RETRY_SECONDS = 2.0
# The deadline plus room for a loaded 2-core machine; the old code needed 10-33 s here.
POST_BOUND = RETRY_SECONDS + 3
READY_BOUND = 1 + 2  # /readyz answers within 1 s; the same room


def post(server, event, bound=POST_BOUND) -> requests.Response:
    return requests.post(server.url + "/v1/logs", json=event, timeout=bound)


def ready(server, bound=READY_BOUND) -> requests.Response:
    return requests.get(server.url + "/readyz", timeout=bound)


def until(check, seconds: float = 30) -> None:
    """Poll `check()` until true, failing after `seconds` (a bounded wait for recovery)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{check.__doc__ or check} not true within {seconds}s"
        time.sleep(0.2)


def assert_refused(reply: requests.Response) -> None:
    assert reply.status_code == 503, reply.text
    assert int(reply.headers["Retry-After"]) > 0
    assert "event_ids" not in reply.json()


def test_a_stalled_sqs_gets_503_within_the_deadline_and_recovers(make_local_server):
    with moto_process() as moto:
        # GIVEN local mode sending to SQS on moto's server, working
        server = make_local_server(env={**moto.env(), "LOGDIG_QUEUE_URL": moto.create_queue(),
                                        "LOGDIG_QUEUE_RETRY_SECONDS": str(RETRY_SECONDS)})
        assert post(server, click(0), bound=30).status_code == 202
        assert ready(server, bound=30).status_code == 200

        # WHEN SQS stalls (accepts connections, answers nothing)
        moto.stall()
        try:
            # THEN concurrent requests each get 503 + Retry-After within the deadline and margin,
            # and /readyz says not ready within its own bound
            with ThreadPoolExecutor(6) as pool:
                replies = list(pool.map(lambda n: post(server, click(n)), range(1, 7)))
            for reply in replies:
                assert_refused(reply)
            assert_refused(ready(server))
        finally:
            moto.resume()

        # AND when SQS answers again, so do /readyz and POST
        def recovered():
            """/readyz is 200 again"""
            return ready(server, bound=10).status_code == 200

        until(recovered)
        assert post(server, click(7), bound=30).status_code == 202


def descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for c in children for child in (int(c), *descendants(int(c)))]


def limit_file_size(pids: list[int], soft: int) -> dict[int, tuple[int, int]]:
    """Lower each process's soft file-size limit (no root needed); their old limits."""
    old = {pid: resource.prlimit(pid, resource.RLIMIT_FSIZE) for pid in pids}
    for pid, (_, hard) in old.items():
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
    return old


def test_readyz_fails_when_the_local_queue_cannot_take_a_write(make_local_server):
    # GIVEN local mode, working
    server = make_local_server()
    assert post(server, click(0), bound=30).status_code == 202
    assert ready(server, bound=30).status_code == 200
    processes = descendants(server.process.pid)

    # WHEN its processes can write no byte more to any file (as on a full disk: reads still work)
    old = limit_file_size(processes, 1)
    try:
        # THEN POSTs get 503, and /readyz says so too instead of "ready"
        assert_refused(post(server, click(1)))
        assert_refused(ready(server))
    finally:
        for pid, limits in old.items():
            resource.prlimit(pid, resource.RLIMIT_FSIZE, limits)

    # AND with room again, both recover
    assert ready(server).status_code == 200
    assert post(server, click(2)).status_code == 202
