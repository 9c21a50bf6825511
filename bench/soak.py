"""Soak: local mode (and SQS + S3 on moto's server) at a fixed request rate while faults are
injected on a schedule, ending with exact counts.

    .venv/bin/python bench/soak.py                                  # both modes, 10 minutes each
    .venv/bin/python bench/soak.py --mode local --duration 120 --rate 20

Each mode runs the collector as `python -m app` (its own drain timer idled) and a drain timer
process of its own (`python -m lambda_sqs_to_s3.timer`), so the soak can kill and restart it.
Faults, at fractions of the duration (--faults):
  worker_kill  SIGKILL one collector worker process (the server respawns it)
  queue_stall  the queue answers nothing for --stall seconds (local: another process holds the
               SQLite write lock; SQS: moto's server is SIGSTOPped)
  drain_kill   SIGKILL the drain timer mid-run, start a new one a second later
After the load stops, the soak waits for the queue to empty (held messages come back after the
visibility timeout, --visibility) and reads the whole lake. It prints, per mode: requests,
acknowledged events (202), 503s, other failures, latency percentiles of all requests, distinct
acknowledged events found in the lake, lost (acknowledged, not in the lake: must be 0),
duplicates (lines beyond the first per event_id) and events that landed without a 202 (answered
503 or cut off while in flight: the tracker's retry would make them duplicates, never losses).
Exit status 1 if anything acknowledged was lost.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from logdig.events import utc_now_iso  # noqa: E402
from tests.localserver import LocalServer, read_lake_events  # noqa: E402
from tests.moto_process import MotoProcess  # noqa: E402
from tests.motoserver import ndjson_events, s3_objects  # noqa: E402

FAULTS = ("worker_kill", "queue_stall", "drain_kill")
DEFAULT_FAULTS = "worker_kill@0.2,queue_stall@0.4,drain_kill@0.6,worker_kill@0.8"
EVENTS_PER_REQUEST = 5
REQUEST_TIMEOUT = 30


@dataclass
class Tally:
    acked: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    slowest: tuple[float, float, str] = (0.0, 0.0, "")  # seconds, started at (s into the run), status
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float, status: str, ids: list[str], at: float) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.slowest = max(self.slowest, (seconds, at, status))
            self.statuses[status] += 1
            self.acked.extend(ids)


def parse_faults(text: str) -> list[tuple[float, str]]:
    schedule = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, at = item.partition("@")
        if name not in FAULTS:
            raise SystemExit(f"--faults: {name!r} is not one of {', '.join(FAULTS)}")
        try:
            fraction = float(at)
        except ValueError:
            raise SystemExit(f"--faults: {item!r} needs @fraction, e.g. {name}@0.5") from None
        if not 0 < fraction < 1:
            raise SystemExit(f"--faults: {item!r}: the fraction must be between 0 and 1")
        schedule.append((fraction, name))
    return sorted(schedule)


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:  # gone meanwhile
        return []


def descendants(pid: int) -> list[int]:
    return [p for c in children(pid) for p in (c, *descendants(c))]


class Mode:
    """One system under soak: its collector, its drain timer, its queue and lake."""

    def __init__(self, name: str, work: Path, visibility: int):
        self.name, self.work, self.visibility = name, work, visibility
        self.moto: MotoProcess | None = None
        self.env: dict[str, str] = {"LOGDIG_VISIBILITY_TIMEOUT_SECONDS": str(visibility)}
        if name == "sqs":
            self.moto = MotoProcess().start()
            self.queue_url = self.moto.create_queue(visibility_timeout=visibility)
            self.bucket = self.moto.create_bucket()
            self.env |= {**self.moto.env(), "LOGDIG_QUEUE_URL": self.queue_url,
                         "LOGDIG_BUCKET": self.bucket}
        self.server = LocalServer(work / "data", env=self.env).start()
        # The collector logs a line per request: keep reading its stderr pipe, or it fills up
        # and the collector blocks on its next log line.
        self.log = (work / "collector.log").open("wb")
        threading.Thread(target=shutil.copyfileobj, args=(self.server.process.stderr, self.log),
                         daemon=True).start()
        self.timer: subprocess.Popen | None = None
        self.start_timer()

    def start_timer(self) -> None:
        env = {**self.server.env, "LOGDIG_MIN_MESSAGES": "20", "LOGDIG_MAX_WAIT_SECONDS": "2",
               "LOGDIG_DRAIN_INTERVAL_SECONDS": "1"}
        self.timer = subprocess.Popen([sys.executable, "-m", "lambda_sqs_to_s3.timer"], cwd=ROOT,
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # ------------------------------------------------------------------ faults

    def worker_kill(self, stall: float) -> str:
        top = self.server.process.pid  # python -m app: its children are the server and a timer
        workers = [p for p in descendants(top) if p not in children(top)]
        victim = random.choice(workers)
        os.kill(victim, signal.SIGKILL)
        return f"killed collector worker {victim}"

    def queue_stall(self, stall: float) -> str:
        if self.moto is not None:
            self.moto.stall()
            time.sleep(stall)
            self.moto.resume()
            return f"moto's server stopped for {stall:g} s"
        conn = sqlite3.connect(self.work / "data" / "queue.sqlite3", timeout=30, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # every writer now waits for this lock
        time.sleep(stall)
        conn.execute("ROLLBACK")
        conn.close()
        return f"queue write lock held for {stall:g} s"

    def drain_kill(self, stall: float) -> str:
        self.timer.kill()
        self.timer.wait()
        time.sleep(1)
        self.start_timer()
        return "drain timer killed and restarted"

    # ------------------------------------------------------------------ the end

    def queued(self) -> int:
        if self.moto is not None:
            names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            attributes = self.moto.client("sqs").get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
            return sum(int(attributes[n]) for n in names)
        with contextlib.closing(sqlite3.connect(self.work / "data" / "queue.sqlite3")) as conn:
            return conn.execute("SELECT count(*) FROM messages").fetchone()[0]

    def lake_ids(self) -> list[str]:
        if self.moto is not None:
            objects = s3_objects(self.moto.client("s3"), self.bucket, "events/")
            return [e["event_id"] for data in objects.values() for e in ndjson_events(data)]
        return [e["event_id"] for e in read_lake_events(self.server.lake_dir / "events")]

    def stop(self) -> None:
        if self.timer and self.timer.poll() is None:
            self.timer.terminate()
            self.timer.wait(timeout=30)
        self.server.stop()
        self.log.close()
        if self.moto is not None:
            self.moto.stop()


def post(url: str, tally: Tally, run_start: float) -> None:
    events = [{"event_type": "click", "event_id": str(uuid.uuid4()), "x": 1, "y": 2,
               "current_page": "https://soak.example/", "timestamp": utc_now_iso()}
              for _ in range(EVENTS_PER_REQUEST)]
    started = time.perf_counter()
    try:
        reply = requests.post(url, json={"events": events}, timeout=REQUEST_TIMEOUT)
        status = str(reply.status_code)
        ids = reply.json()["event_ids"] if reply.status_code == 202 else []
    except requests.RequestException as exc:
        status, ids = type(exc).__name__, []
    tally.record(time.perf_counter() - started, status, ids, time.monotonic() - run_start)


def load(mode: Mode, args, schedule: list[tuple[float, str]]) -> tuple[Tally, list[str]]:
    """Requests at a fixed rate for the duration; faults fired from their own thread on time."""
    tally, log = Tally(), []
    start = time.monotonic()

    def faults():
        for fraction, name in schedule:
            time.sleep(max(0.0, start + fraction * args.duration - time.monotonic()))
            at = time.monotonic() - start
            log.append(f"{at:7.1f} s  {name}: {getattr(mode, name)(args.stall)}")

    fault_thread = threading.Thread(target=faults, daemon=True)
    fault_thread.start()
    url = mode.server.url + "/v1/logs"
    total = int(args.duration * args.rate)
    with ThreadPoolExecutor(args.connections) as pool, tqdm(total=total, desc=mode.name,
                                                             unit="req", leave=False) as bar:
        for n in range(total):
            time.sleep(max(0.0, start + n / args.rate - time.monotonic()))
            pool.submit(post, url, tally, start).add_done_callback(lambda _: bar.update())
    fault_thread.join()
    return tally, log


def settle(mode: Mode, seconds: float) -> None:
    """Wait for the drain to empty the queue (held messages return after the visibility timeout)."""
    deadline = time.monotonic() + seconds
    while mode.queued() and time.monotonic() < deadline:
        time.sleep(1)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else 0


def report(mode: Mode, tally: Tally, log: list[str], args) -> dict:
    in_lake = Counter(mode.lake_ids())
    acked = set(tally.acked)
    lost = acked - set(in_lake)
    result = {
        "mode": mode.name, "seconds": args.duration, "requests": sum(tally.statuses.values()),
        "acknowledged events": len(tally.acked), "503s": tally.statuses.get("503", 0),
        "other failures": sum(v for k, v in tally.statuses.items() if k not in ("202", "503")),
        "p50 ms": round(percentile(tally.latencies, 50) * 1000, 1),
        "p99 ms": round(percentile(tally.latencies, 99) * 1000, 1),
        "max ms": round(max(tally.latencies, default=0) * 1000, 1),
        "acknowledged in lake": len(acked & set(in_lake)), "lost": len(lost),
        "duplicates": sum(n - 1 for n in in_lake.values()),
        "landed without 202": len(set(in_lake) - acked),
        "still queued": mode.queued(),
    }
    print(f"\n== {mode.name}: {args.rate:g} requests/s x {EVENTS_PER_REQUEST} events, "
          f"{args.duration:g} s; faults:")
    print("\n".join(log) or "  (none)")
    print(f"   statuses: {dict(tally.statuses)}")
    seconds, at, status = tally.slowest
    print(f"   slowest request: {seconds * 1000:.0f} ms, sent {at - seconds:.1f} s into the run, {status}")
    for key, value in result.items():
        print(f"   {key:>22}: {value}")
    return result


def soak(name: str, args, schedule) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"logdig-soak-{name}-") as work:
        mode = Mode(name, Path(work), args.visibility)
        try:
            tally, log = load(mode, args, schedule)
            settle(mode, args.visibility + 60)
            return report(mode, tally, log, args)
        finally:
            mode.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("local", "sqs", "both"), default="both")
    parser.add_argument("--duration", type=float, default=600, help="seconds of load per mode")
    parser.add_argument("--rate", type=float, default=20, help="requests per second")
    parser.add_argument("--connections", type=int, default=16, help="concurrent requests at most")
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help="name@fraction, comma-separated")
    parser.add_argument("--stall", type=float, default=10, help="seconds a queue stall lasts")
    parser.add_argument("--visibility", type=int, default=20,
                        help="queue visibility timeout: how soon a killed drain's messages return")
    args = parser.parse_args(argv)
    for option in ("duration", "rate", "stall"):
        if getattr(args, option) <= 0:
            parser.error(f"--{option}: must be positive, got {getattr(args, option)}")
    if args.connections < 1 or args.visibility < 12:
        parser.error("--connections must be >= 1 and --visibility >= 12 (the drain's 10 s margin)")
    schedule = parse_faults(args.faults)
    results = [soak(name, args, schedule)
               for name in (("local", "sqs") if args.mode == "both" else (args.mode,))]
    return 1 if any(r["lost"] or r["still queued"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
