"""The drain bounded in time (issue 12, defect 2): when receiving takes longer than the queue's
visibility timeout, the timer still lands every event (each round stops receiving before its first
message's visibility runs out, then stores and deletes), and it stops within seconds of SIGTERM.
Real processes: the timer (`python -m lambda_sqs_to_s3.timer`) against moto's server.

The old drain received until the queue came back empty; with messages reappearing faster than it
received them that never happened, so nothing was stored or deleted and SIGTERM went unheard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from logdig.events import utc_now_iso
from logdig.packing import dumps, encode
from tests.localserver import ROOT
from tests.moto_process import moto_process
from tests.motoserver import ndjson_events, running_moto, s3_objects

pytestmark = [pytest.mark.process, pytest.mark.wire, pytest.mark.slow]

VISIBILITY_SECONDS = 5
# As reproduced in the issue: 30 receives of 10 took longer than the visibility timeout on moto.
MESSAGES, EVENTS_PER_MESSAGE = 300, 3
STOP_BOUND = 15  # seconds a timer may take to exit after SIGTERM (it stores what it holds first)


def fill(sqs, url: str) -> set[str]:
    ids = set()
    bodies = []
    for _ in range(MESSAGES):
        events = [{"v": 1, "event_type": "click", "event_id": str(uuid.uuid4()),
                   "received_at": utc_now_iso()} for _ in range(EVENTS_PER_MESSAGE)]
        ids.update(e["event_id"] for e in events)
        bodies.append(encode([dumps(e) for e in events]))
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start:start + 10])])
    return ids


def lake_ids(s3, bucket: str) -> list[str]:
    return [e["event_id"] for data in s3_objects(s3, bucket, "events/").values()
            for e in ndjson_events(data)]


def start_timer(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lambda_sqs_to_s3.timer"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_timer(timer: subprocess.Popen) -> str:
    timer.send_signal(signal.SIGTERM)
    try:
        timer.wait(timeout=STOP_BOUND)
    except subprocess.TimeoutExpired:
        timer.kill()
        timer.wait()
        pytest.fail(f"the timer did not stop within {STOP_BOUND}s of SIGTERM")
    finally:
        errors = timer.stderr.read().decode()
        timer.stderr.close()
    assert timer.returncode == 0, errors
    return errors


def queued(sqs, url: str) -> int:
    """Messages in the queue, visible or not."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def until(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} not within {seconds}s"
        time.sleep(0.5)


def test_a_drain_slower_than_the_visibility_timeout_lands_everything_and_stops_on_sigterm(tmp_path):
    with moto_process() as moto:
        # GIVEN 300 messages (900 events) on a queue whose visibility timeout (5 s) is shorter
        # than receiving them all takes
        url = moto.create_queue(visibility_timeout=VISIBILITY_SECONDS)
        bucket = moto.create_bucket()
        sqs, s3 = moto.client("sqs"), moto.client("s3")
        ids = fill(sqs, url)
        env = {**os.environ, **moto.env(), "LOGDIG_QUEUE_URL": url, "LOGDIG_BUCKET": bucket,
               "LOGDIG_DATA_DIR": str(tmp_path), "LOGDIG_MIN_MESSAGES": "1",
               "LOGDIG_MAX_WAIT_SECONDS": "0", "LOGDIG_DRAIN_INTERVAL_SECONDS": "0.2",
               "LOGDIG_DRAIN_MARGIN_SECONDS": "2",
               # moto on a busy machine can take seconds per call: a slow queue, not a dead one
               "LOGDIG_QUEUE_RETRY_SECONDS": "10"}

        # WHEN the timer runs, and is stopped with SIGTERM as soon as its first objects land
        timer = start_timer(env)
        until(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="events/")["KeyCount"], 60,
              "a first lake object")
        stop_timer(timer)

        # THEN it stopped within seconds; started again it lands every event, and stops again
        timer = start_timer(env)
        until(lambda: queued(sqs, url) == 0, 90, "an empty queue")
        errors = stop_timer(timer)
        assert set(lake_ids(s3, bucket)) == ids, errors


def test_a_visibility_timeout_the_drain_cannot_work_with_stops_the_timer_with_a_clear_error(tmp_path):
    with running_moto() as moto:
        # GIVEN a queue whose visibility timeout (5 s) is shorter than the drain's margin (10 s)
        env = {**os.environ, **moto.env(), "LOGDIG_QUEUE_URL": moto.create_queue(visibility_timeout=5),
               "LOGDIG_BUCKET": moto.create_bucket(), "LOGDIG_DATA_DIR": str(tmp_path),
               "LOGDIG_DRAIN_MARGIN_SECONDS": "10"}

        # WHEN the timer starts, THEN it exits at once naming the settings to change
        done = subprocess.run([sys.executable, "-m", "lambda_sqs_to_s3.timer"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert "visibility timeout of 5 s" in done.stderr
        assert "LOGDIG_DRAIN_MARGIN_SECONDS" in done.stderr and "VisibilityTimeout" in done.stderr
