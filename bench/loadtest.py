"""Load-test a LogDig collector: tracker-shaped events at a fixed rate, a live line each second.

    python -m bench.loadtest URL [--rate 500] [--duration 60] [--events-per-request N]
                             [--verify-lake LAKE] [--verify-wait 120] [--yes]

An open model: request i leaves at start + i / rate whether or not earlier ones were answered, so a
slow server meets the same offered load (a closed loop of N clients would slow down with it and
hide the queueing). Each second prints what was sent and answered in that second; the end (or
Ctrl-C) prints the summary: sent, 2xx, 4xx, 503 and other 5xx, errors (timeouts, refused
connections), latency p50/p95/p99/max of answered requests.

--verify-lake LAKE (a directory, file:///dir or s3://bucket/prefix) then waits, up to
--verify-wait seconds, until every acknowledged event (an event_id in a 2xx answer) is in the
lake's objects of the run's days, and prints how many arrived and which are missing. Events reach
the lake when the batcher drains the queue (LOGDIG_MIN_MESSAGES / LOGDIG_MAX_WAIT_SECONDS).

Safe by default: a URL whose host is not loopback is refused unless --yes is given, since this
sends real traffic to a real deployment (and its AWS bill).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import ipaddress
import json
import random
import signal
import socket
import string
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/loadtest.py` puts only bench/ on the path

import aiohttp  # noqa: E402

from config import ConfigError, load_settings  # noqa: E402
from logdig import lake_layout  # noqa: E402
from logdig.events import random_uuid  # noqa: E402
from logdig.lake import LakeError, lake_at  # noqa: E402

MAX_EVENTS_PER_REQUEST = 500  # the collector's default LOGDIG_MAX_EVENTS_PER_REQUEST
PAGES = ("/", "/products/widget-3000", "/cart", "/blog/best-widgets", "/checkout")
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
          "Safari/537.36",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
          "Gecko) Version/18.1 Mobile/15E148 Safari/604.1")


# ---------------------------------------------------------------- what is sent

def tracker_event(site: str, visitor: str, session: str) -> dict:
    """One event as static/clickTracker.js sends it (a fresh event_id each)."""
    kind = random.choices(("page_view", "click", "heartbeat", "page_leave"), (3, 5, 2, 1))[0]
    event = {
        "v": 1, "event_id": random_uuid(), "event_type": kind,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user_key": visitor, "session_id": session,
        "current_page": f"https://{site}{random.choice(PAGES)}",
        "referrer": "https://www.example.org/search?q=widgets", "user_agent": random.choice(AGENTS),
        "viewport_width": 1280, "viewport_height": 720, "document_width": 1280,
        "document_height": 5400, "screen_width": 1920, "screen_height": 1080, "language": "en-US",
        "page_title": "Widget 3000 | Example Shop", "load_count": 1,
    }
    if kind == "click":
        event.update(x=random.randint(0, 1280), y=random.randint(0, 5400), target_tag="a",
                     link=f"https://{site}/cart", target_text="Add to cart")
    if kind in ("heartbeat", "page_leave"):
        event.update(spent_milli_sec=random.randint(1000, 600_000), engaged_milli_sec=5000)
    return event


def request_body(events_per_request: int, site: str = "loadtest.example") -> tuple[bytes, list[str]]:
    """A body of one visitor's events, the way the tracker batches them, and their event_ids."""
    visitor = "".join(random.choices(string.ascii_letters + string.digits, k=20))
    session = random_uuid().replace("-", "")[:16]
    events = [tracker_event(site, visitor, session) for _ in range(events_per_request)]
    return json.dumps({"events": events}).encode(), [e["event_id"] for e in events]


# ---------------------------------------------------------------- what came back

@dataclass
class Tally:
    sent: int = 0
    ok: int = 0
    client_errors: int = 0
    unavailable: int = 0  # 503: the queue was unreachable; the tracker retries these
    server_errors: int = 0  # other 5xx
    errors: int = 0  # no HTTP answer: timeout, refused, reset
    latencies: list[float] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return self.ok + self.client_errors + self.unavailable + self.server_errors

    def record(self, status: int | None, seconds: float, ids: list[str], error: str = "") -> None:
        if status is None:
            self.errors += 1
            self.error_kinds[error] = self.error_kinds.get(error, 0) + 1
            return
        self.latencies.append(seconds)
        if 200 <= status < 300:
            self.ok += 1
            self.acked += ids
        elif status == 503:
            self.unavailable += 1
        elif status >= 500:
            self.server_errors += 1
        else:
            self.client_errors += 1


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 when there is nothing)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered))) - 1))]


def latency_cells(latencies: list[float]) -> str:
    ms = [v * 1000 for v in latencies]
    return (f"p50 {percentile(ms, .5):.1f} ms  p95 {percentile(ms, .95):.1f}  "
            f"p99 {percentile(ms, .99):.1f}  max {max(ms, default=0):.1f}")


def summary(tally: Tally, seconds: float, events_per_request: int, stopped: bool) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(tally.error_kinds.items()))
    lines = [
        f"{'stopped (Ctrl-C) after' if stopped else 'ran'} {seconds:.1f} s: sent {tally.sent} requests "
        f"({tally.sent / seconds if seconds else 0:.0f}/s, {events_per_request} event(s) each)",
        f"answers: 2xx {tally.ok}  4xx {tally.client_errors}  503 {tally.unavailable}  "
        f"other 5xx {tally.server_errors}  errors {tally.errors}{f' ({kinds})' if kinds else ''}",
        f"latency of answered requests: {latency_cells(tally.latencies)}",
        f"acknowledged events: {len(tally.acked)}",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- the load

async def post(session: aiohttp.ClientSession, url: str, events_per_request: int, tally: Tally,
               live: dict[str, Tally]) -> None:
    body, ids = request_body(events_per_request)
    started = time.perf_counter()
    status, error = None, ""
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as reply:
            status = reply.status
            answer = await reply.read()
        if 200 <= status < 300:
            with contextlib.suppress(ValueError, AttributeError):
                ids = json.loads(answer).get("event_ids", ids)  # the ids the collector kept
    except TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as exc:
        error = type(exc).__name__
    seconds = time.perf_counter() - started
    for each in (tally, live["window"]):  # the second it was answered in
        each.record(status, seconds, ids, error)


async def run_load(url: str, rate: float, duration: float, events_per_request: int, timeout: float,
                   out=None) -> tuple[Tally, float, bool]:
    """(tally, seconds, stopped by Ctrl-C). Request i leaves at start + i / rate."""
    out = out or sys.stdout
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not in the main thread
        loop.add_signal_handler(signal.SIGINT, stop.set)
    tally, live = Tally(), {"window": Tally()}
    tasks: set[asyncio.Task] = set()
    connector = aiohttp.TCPConnector(limit=0)  # open model: no cap on requests in flight
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        start = loop.time()
        next_report, total = start + 1, int(rate * duration)
        for i in range(total):
            due = start + i / rate
            while not stop.is_set() and loop.time() < due:
                if loop.time() >= next_report:
                    report_second(out, next_report - start, live["window"], tally, len(tasks))
                    live["window"], next_report = Tally(), next_report + 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(due, next_report) - loop.time())
            if stop.is_set():
                break
            tally.sent += 1
            live["window"].sent += 1
            task = asyncio.create_task(post(session, url, events_per_request, tally, live))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if stop.is_set():
            for task in tasks:
                task.cancel()
        pending = list(tasks)
        if pending:  # the last requests' answers (they left within the run)
            done_or_stop = asyncio.ensure_future(asyncio.wait(pending))
            await asyncio.wait([done_or_stop, asyncio.ensure_future(stop.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        window = live["window"]
        if window.sent or window.answered or window.errors:
            report_second(out, loop.time() - start, window, tally, 0)
        return tally, loop.time() - start, stop.is_set()


def report_second(out, elapsed: float, window: Tally, tally: Tally, in_flight: int) -> None:
    print(f"{elapsed:6.0f}s  sent {window.sent:>6}  2xx {window.ok:>6}  4xx {window.client_errors:>4}  "
          f"503 {window.unavailable:>4}  err {window.errors + window.server_errors:>4}  "
          f"in flight {in_flight:>5}  {latency_cells(window.latencies)}  "
          f"(total 2xx {tally.ok})", file=out, flush=True)


# ---------------------------------------------------------------- the lake

def lake_event_ids(lake, prefix: str, days: list[str]) -> set[str]:
    found = set()
    for dt in days:
        for key in lake.keys(lake_layout.day_prefix(prefix, dt)):
            if not key.endswith(".jsonl.gz"):
                continue
            for line in gzip.decompress(lake.get(key)).decode("utf-8").splitlines():
                with contextlib.suppress(ValueError, AttributeError):
                    found.add(json.loads(line).get("event_id"))
    return found


def verify_lake(lake, prefix: str, acked: list[str], days: list[str], wait: float, out=None,
                sleep=time.sleep) -> list[str]:
    """The acknowledged event_ids not in the lake after waiting up to `wait` seconds."""
    out = out or sys.stdout
    wanted = set(acked)
    deadline = time.monotonic() + wait
    while True:
        missing = wanted - lake_event_ids(lake, prefix, days)
        print(f"lake: {len(wanted) - len(missing)} of {len(wanted)} acknowledged events arrived, "
              f"{len(missing)} missing", file=out, flush=True)
        if not missing or time.monotonic() >= deadline:
            return sorted(missing)
        sleep(min(5.0, max(0.0, deadline - time.monotonic())))


# ---------------------------------------------------------------- command line

def positive(kind):
    def parse(raw: str):
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{raw!r} must be more than 0")
        return value

    return parse


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:  # a name: loopback only if every address it has is
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback
                               for info in infos)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the collector's endpoint, e.g. http://127.0.0.1:8000/v1/logs "
                                    "(a bare origin gets /v1/logs)")
    parser.add_argument("--rate", type=positive(float), default=500.0, help="requests per second (500)")
    parser.add_argument("--duration", type=positive(float), default=60.0, help="seconds of load (60)")
    parser.add_argument("--events-per-request", type=positive(int), default=1, metavar="N",
                        help=f"events in each request body, 1-{MAX_EVENTS_PER_REQUEST} (1)")
    parser.add_argument("--timeout", type=positive(float), default=10.0,
                        help="seconds before an unanswered request counts as an error (10)")
    parser.add_argument("--verify-lake", metavar="LAKE",
                        help="a lake directory, file:///dir or s3://bucket/prefix to check afterwards")
    parser.add_argument("--verify-wait", type=positive(float), default=120.0,
                        help="seconds to wait for the batcher to bring every event to the lake (120)")
    parser.add_argument("--yes", action="store_true", help="allow a URL whose host is not loopback")
    args = parser.parse_args(argv)
    parsed = urlparse(args.url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        parser.error(f"URL: {args.url!r} is not an http:// or https:// URL")
    if parsed.path in ("", "/"):
        args.url = args.url.rstrip("/") + "/v1/logs"
    if args.events_per_request > MAX_EVENTS_PER_REQUEST:
        parser.error(f"--events-per-request: {args.events_per_request} is more than the collector "
                     f"takes in one request ({MAX_EVENTS_PER_REQUEST})")
    if not args.yes and not is_loopback(parsed.hostname):
        parser.error(f"URL: host {parsed.hostname!r} is not loopback; this sends real traffic there "
                     "(pass --yes to load it anyway)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lake = None
    if args.verify_lake:  # checked before any load is sent
        try:
            settings = load_settings()
            lake = lake_at(args.verify_lake, settings)
        except (ConfigError, LakeError) as exc:
            print(f"--verify-lake: {exc}", file=sys.stderr)
            return 2
    print(f"loadtest: {args.url} at {args.rate:g} requests/s for {args.duration:g} s, "
          f"{args.events_per_request} event(s) per request (Ctrl-C stops with the summary so far)",
          flush=True)
    first_day = lake_layout.utc_day(time.time())
    tally, seconds, stopped = asyncio.run(run_load(args.url, args.rate, args.duration,
                                                   args.events_per_request, args.timeout))
    print("\n" + summary(tally, seconds, args.events_per_request, stopped), flush=True)
    if lake is None or stopped:
        return 0
    days = lake_layout.dates(first_day, lake_layout.utc_day(time.time()))
    try:
        missing = verify_lake(lake, settings.lake_prefix, tally.acked, days, args.verify_wait)
    except LakeError as exc:
        print(f"--verify-lake: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the last line printed says how many had arrived
        return 130
    if missing:
        print(f"missing from the lake ({len(missing)}): {', '.join(missing[:10])}"
              f"{' ...' if len(missing) > 10 else ''}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
