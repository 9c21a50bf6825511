"""Benchmark: events per second accepted with durable ack, server CPU per request against a trivial
Flask app, RSS per worker, and SQS requests per million events.

Systems, each loaded by wrk on loopback at 1 and at 20 events per request, in one run:
  logdig    this collector (app/), started as it ships: app.server (granian WSGI) with the
            settings' workers and threads, LOGDIG_QUEUE_URL set
  trivial   bench/trivial_app.py, a Flask JSON POST that does nothing, on gunicorn gthread 2x16:
            the per-request cost floor the collector's server CPU is compared with
  original  the original design (bench/original_app.py): one synchronous SendMessage per event
  nginx     a bare `return 204` from nginx: the HTTP ceiling of this machine
Both collectors send to the same moto server, one queue per (system, size, round). Every SQS call
crossing the wire is counted by a WSGI middleware in front of moto, with its payload bytes, so
billed 64 KiB units come from what was sent and received. After each load, logdig.drain empties
that queue into moto's S3 and its calls are counted too; the drained events must cover every
acknowledged event, otherwise the run is reported as a failure, not as throughput. Server CPU is
the sum over the server's processes (/proc) in the measured window; RSS is sampled per process
under load.

The machine may be shared: --repeat N runs every system N times, interleaved, and prints each
ratio's min / median / max over the rounds (each ratio from one round: same minutes, same noise).

    .venv/bin/python bench/collector.py [--duration 10] [--connections 32] [--sizes 1,20] [--repeat 3]
Needs wrk and nginx (Debian packages `wrk`, `nginx-light`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/collector.py` puts only bench/ on the path

import boto3  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import server as collector_server  # noqa: E402
from app.__main__ import child_env, server_command  # noqa: E402
from config import load_settings  # noqa: E402
from logdig.drain import DrainOptions, drain  # noqa: E402
from logdig.lake import S3Lake  # noqa: E402
from logdig.packing import BILLING_UNIT, decode  # noqa: E402
from logdig.queues import SqsQueue  # noqa: E402

SYSTEMS = ("nginx", "trivial", "original", "logdig")
SEND_ACTIONS = ("SendMessage", "SendMessageBatch")
RECEIVE_ACTIONS = ("ReceiveMessage",)
DELETE_ACTIONS = ("DeleteMessage", "DeleteMessageBatch")
SETUP_ACTIONS = ("CreateQueue", "GetQueueUrl")
TARGET_RATIO = 10
TARGET_PER_MILLION = 20_000
# Issue 14: server CPU per request at most these multiples of the trivial Flask app's...
TARGET_CPU_RATIO = {1: 1.5, 20: 2.0}
TARGET_RSS_MB = 80  # ...each worker's RSS under load at most this...
TARGET_BILLED_AT_1 = 97_193  # ...and SQS billed requests per million events at 1 event/request
TRIVIAL_WORKERS, TRIVIAL_THREADS = 2, 16
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


# ---------------------------------------------------------------- the queue endpoint, counted

@dataclass
class SqsTally:
    """SQS calls per queue and action, with the 64 KiB units each one is billed."""

    calls: Counter = field(default_factory=Counter)
    billed: Counter = field(default_factory=Counter)
    events_sent: Counter = field(default_factory=Counter)
    payload: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, queue: str, action: str, payload_bytes: int, events: int) -> None:
        with self.lock:
            self.calls[queue, action] += 1
            self.billed[queue, action] += max(1, math.ceil(payload_bytes / BILLING_UNIT))
            self.events_sent[queue] += events
            self.payload[queue, action] += payload_bytes

    def sent_bytes(self, queue: str) -> int:
        with self.lock:
            return sum(self.payload[queue, action] for action in SEND_ACTIONS)

    def of(self, queue: str, actions: tuple[str, ...] | None = None) -> tuple[int, int]:
        """(calls, billed units) for one queue, for `actions` or for every action."""
        with self.lock:
            keys = [k for k in self.calls if k[0] == queue and (actions is None or k[1] in actions)]
            return sum(self.calls[k] for k in keys), sum(self.billed[k] for k in keys)


def sent_bodies(action: str, request: dict) -> list[str]:
    if action == "SendMessage":
        return [request.get("MessageBody", "")]
    if action == "SendMessageBatch":
        return [entry.get("MessageBody", "") for entry in request.get("Entries", [])]
    return []


def received_bodies(action: str, response: bytes) -> list[str]:
    if action == "ReceiveMessage" and response:
        return [m["Body"] for m in json.loads(response).get("Messages", [])]
    return []


def events_in(bodies: list[str]) -> int:
    """Events in sent bodies: NDJSON lines once unpacked (the original sends one JSON object per body)."""
    return sum(len(decode(body).splitlines()) for body in bodies)


class CountingMiddleware:
    """Counts every SQS JSON-protocol call (the protocol boto3 speaks) on its way into moto."""

    def __init__(self, app, tally: SqsTally):
        self.app = app
        self.tally = tally

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("AmazonSQS."):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        request = json.loads(body or b"{}")
        response = b"".join(self.app(environ, start_response))
        action = target.removeprefix("AmazonSQS.")
        if action in SETUP_ACTIONS:  # the bench's own setup, not the pipeline's traffic
            return [response]
        queue = request.get("QueueUrl", request.get("QueueName", "")).rsplit("/", 1)[-1]
        sent = sent_bodies(action, request)
        # What SQS bills in 64 KiB units: the message bytes a call carried, either way.
        payload = sum(len(b.encode()) for b in sent + received_bodies(action, response))
        self.tally.record(queue, action, payload, events_in(sent))
        return [response]


def fast_moto_clock() -> None:
    """Give moto's SQS model a plain time.time() clock and a direct retention check.

    Its clock goes through naive datetimes, and every SendMessage and ReceiveMessage reads it
    for each message in the queue: at 1,000 queued messages a send costs ~57 ms instead of
    ~4 ms (~3 ms with this clock; the rest is moto counting the queue on each send). Real SQS
    does not slow down with depth, and the original design, one message per event, fills its
    queue ~70 times faster than the collector: without this the bench would measure moto's
    loops, not the designs. Only the speed changes, not the values.
    """
    from moto.sqs import models

    def retained(backend, queue_name: str, message) -> bool:
        # moto's own check computes every queue attribute, counting the queue, per message received
        period = int(backend.get_queue(queue_name).message_retention_period)
        return period + message.sent_timestamp / 1000 > time.time()

    models.unix_time = time.time
    models.unix_time_millis = lambda: time.time() * 1000.0
    models.SQSBackend.is_message_valid_based_on_retention_period = retained


def start_moto(tally: SqsTally):
    """moto's server app behind the counter, on a free loopback port, in a daemon thread."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    class Handler(MotoRequestHandler):
        # Headers and body leave in separate writes; with Nagle on, each answer then waits for
        # the client's delayed ACK (~40 ms), which would make the queue, not the collectors, the
        # bottleneck of every run.
        disable_nagle_algorithm = True

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    fast_moto_clock()
    app = CountingMiddleware(DomainDispatcherApplication(create_backend_app), tally)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Handler)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


# ---------------------------------------------------------------- load generation

SAMPLE_EVENT = {
    "v": 1, "event_type": "click", "timestamp": "2026-11-23T10:15:30.123Z",
    "token": "bench-token", "user_key": "Ab3dE6gH9jK2mN5pQ8sT", "session_id": "s-5f2c1a9e7b3d",
    "current_page": "https://shop.example.com/products/widget-3000?utm_source=news",
    "referrer": "https://www.example.org/blog/best-widgets", "link": "https://shop.example.com/cart",
    "x": 812, "y": 1433, "spent_milli_sec": 48210, "engaged_milli_sec": 30125, "load_count": 3,
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Safari/537.36",
    "viewport_width": 1280, "viewport_height": 720, "document_width": 1280, "document_height": 5400,
    "screen_width": 1920, "screen_height": 1080, "utm_source": "news", "target_tag": "a",
    "target_classes": "btn btn-primary add-to-cart", "target_text": "Add to cart",
    "page_title": "Widget 3000 | Example Shop", "language": "en-US",
}


def request_body(events_per_request: int) -> str:
    # No event_id: the same body is posted over and over, and the drain drops repeated ids; the
    # collector fills a fresh one per event, the original design had none.
    events = [SAMPLE_EVENT] * events_per_request
    return json.dumps(events[0] if events_per_request == 1 else events, separators=(",", ":"))


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,'
    .. '"timeout":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Load:
    requests: int
    seconds: float
    errors: dict
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def run_wrk(url: str, body: str, seconds: int, connections: int, threads: int, workdir: Path) -> Load:
    script = workdir / "post.lua"
    script.write_text(WRK_SCRIPT % body)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", "10s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    raw = json.loads(line[4:])
    errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    return Load(raw["requests"], raw["duration_us"] / 1e6, errors, raw["p50_us"] / 1000,
                raw["p99_us"] / 1000)


# ---------------------------------------------------------------- the systems under load

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, body: bytes, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """Until one POST is answered 2xx; the server's log on failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=5) as reply:
            if 200 <= reply.status < 300:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up; its log {log}:\n{log.read_text()[-3000:]}")


def trivial_command(port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread",
            "--workers", str(TRIVIAL_WORKERS), "--threads", str(TRIVIAL_THREADS), "--log-level", "warning",
            "bench.trivial_app:create_app()"]


def nginx_command(port: int, workers: int, workdir: Path) -> list[str]:
    conf = workdir / "nginx.conf"
    conf.write_text(f"""
worker_processes {workers};
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/nginx-body;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 204; }}
    }}
}}
""")
    return ["nginx", "-p", str(workdir), "-e", str(workdir / "nginx-error.log"), "-c", str(conf)]


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    moto_url: str
    tally: SqsTally
    round: int = 0

    def aws_env(self) -> dict[str, str]:
        return {**FAKE_AWS, "AWS_ENDPOINT_URL_SQS": self.moto_url, "AWS_ENDPOINT_URL_S3": self.moto_url}

    def client(self, service: str):
        env = self.aws_env()
        return boto3.client(service, region_name=env["AWS_DEFAULT_REGION"],
                            endpoint_url=self.moto_url, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=env["AWS_SESSION_TOKEN"])

    def collector_command(self, system: str, queue_url: str, port: int) -> tuple[list[str], dict]:
        """The collector's own server command and environment (local mode's and the Procfile's);
        the original runs its app under the same server; the trivial app under gunicorn gthread."""
        data_dir = self.workdir / f"data-{system}-{port}"
        env = {**os.environ, **self.aws_env(), "LOGDIG_QUEUE_URL": queue_url, "LOGDIG_PORT": str(port),
               "LOGDIG_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
        for option, name in (("workers", "LOGDIG_WORKERS"), ("threads", "LOGDIG_THREADS"),
                             ("flush_wait_ms", "LOGDIG_FLUSH_WAIT_MS")):
            if getattr(self.args, option) is not None:  # default: as LogDig ships
                env[name] = str(getattr(self.args, option))
        settings = load_settings(env)
        if system == "trivial":
            return trivial_command(port), env
        if system == "original":
            command = collector_server.command(settings, "bench.original_app:create_app")
        else:
            command = server_command(settings)
        return command, {**env, **child_env(settings)}

    def queue_name(self, system: str, size: int) -> str:
        return f"bench-{system}-{size}-{self.round}"

    def start(self, system: str, size: int, port: int) -> subprocess.Popen:
        log = self.workdir / f"{system}-{size}-{self.round}.log"
        if system == "nginx":
            command, env = nginx_command(port, TRIVIAL_WORKERS, self.workdir), dict(os.environ)
        else:
            command, env = self.collector_command(system, self.queue_url(system, size), port)
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
        try:
            wait_ready(f"http://127.0.0.1:{port}/v1/logs", request_body(size).encode(), process, log)
        except BaseException:
            stop(process)
            raise
        return process

    def queue_url(self, system: str, size: int) -> str:
        name = self.queue_name(system, size)
        # Long enough that a drain holding every message while it builds an object keeps them.
        reply = self.client("sqs").create_queue(QueueName=name,
                                                Attributes={"VisibilityTimeout": "900"})
        return reply["QueueUrl"]

    def measure(self, system: str, size: int) -> dict:
        port = free_port()
        url = f"http://127.0.0.1:{port}/v1/logs"
        body = request_body(size)
        queue = self.queue_name(system, size)
        process = self.start(system, size, port)
        try:
            warm = self.wrk(url, body, self.args.warmup)
            before, cpu_before = self.tally.events_sent[queue], cpu_now(process.pid)
            with RssSampler(process.pid) as rss:
                load = self.wrk(url, body, self.args.duration)
            queued = self.tally.events_sent[queue] - before
            cpu = {k: v - cpu_before[k] for k, v in cpu_now(process.pid).items()}
        finally:
            stop(process)
        row = {"system": system, "size": size, "round": self.round, "queue": queue, "load": load,
               "cpu": cpu, "rss_mb": rss.largest_mb()}
        if system not in ("nginx", "trivial"):
            # +1: the POST that found the server ready
            started = time.monotonic()
            row.update(acked=(warm.requests + load.requests + 1) * size,
                       queued_per_second=queued / load.seconds, drain=self.drain(system, size),
                       drain_seconds=time.monotonic() - started)
        return row

    def wrk(self, url: str, body: str, seconds: int) -> Load:
        return run_wrk(url, body, seconds, self.args.connections, self.args.wrk_threads, self.workdir)

    def drain(self, system: str, size: int) -> dict:
        """Empty the queue into S3 with the project's drain; its SQS calls are counted too."""
        s3 = self.client("s3")
        bucket = f"bench-lake-{system}-{size}-{self.round}"
        s3.create_bucket(Bucket=bucket)
        queue = SqsQueue(self.queue_url(system, size), self.client("sqs"))
        return drain(queue, S3Lake(bucket, s3), DrainOptions(min_messages=1, margin_seconds=0))


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def tree_pids(pid: int) -> list[int]:
    """A process and its live descendants (Linux /proc)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):  # a process may end while we look
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
            found.append(current)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its live descendants."""
    total = 0.0
    for current in tree_pids(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(stat[11]) + int(stat[12])) / CLOCK_TICKS  # utime, stime
    return total


class RssSampler:
    """The largest resident set of any one process of a server, sampled every 0.5 s under load
    (the workers: the server's own supervisor process is smaller)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.largest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for current in tree_pids(self.pid):
                with contextlib.suppress(OSError, IndexError, ValueError):
                    pages = int(Path(f"/proc/{current}/statm").read_text().split()[1])
                    self.largest = max(self.largest, pages * PAGE_BYTES)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def largest_mb(self) -> float:
        return self.largest / 2**20


def cpu_now(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the server's processes, of this process (moto and its counter),
    and of the finished children (wrk: the only ones that end while a server runs)."""
    return {"server": tree_cpu_seconds(server_pid), "queue": time.process_time(),
            "wrk": sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])}


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------- report

def acked_per_second(row: dict) -> float:
    return row["load"].per_second * row["size"]


def original_per_second(by: dict, size: int) -> float | None:
    """The original's events/s: the larger of acknowledged and queue-side, so ratios err its way.

    Its requests take 20 sequential SendMessage calls at 20 events each; with latencies near the
    run's length, completed responses undercount what it pushed through in the window.
    """
    row = by.get(("original", size))
    if not row or row["load"].failed:
        return None
    return max(acked_per_second(row), row["queued_per_second"]) or None


def ratio_cells(by: dict, row: dict) -> list[str]:
    nginx = by.get(("nginx", row["size"]))
    bases = [original_per_second(by, row["size"]),
             acked_per_second(nginx) if nginx and not nginx["load"].failed else None]
    return [f"{acked_per_second(row) / base:.3g}" if base else "-" for base in bases]


def print_throughput(rows: list[dict]) -> None:
    by = {(r["system"], r["size"]): r for r in rows}
    print(f"\n{'system':<9} {'ev/req':>6} {'req/s':>8} {'events/s':>9} {'queued/s':>9} {'x original':>10} "
          f"{'x nginx':>8} {'p50 ms':>8} {'p99 ms':>8}  errors")
    for r in rows:
        load = r["load"]
        queued = f"{r['queued_per_second']:.0f}" if "queued_per_second" in r else "-"
        errors = ", ".join(f"{k}={v}" for k, v in load.errors.items()) or "none"
        x_original, x_nginx = ratio_cells(by, r)
        latency = f"{load.p50_ms:>8.1f} {load.p99_ms:>8.1f}" if load.requests else f"{'-':>8} {'-':>8}"
        print(f"{r['system']:<9} {r['size']:>6} {load.per_second:>8.0f} {acked_per_second(r):>9.0f} "
              f"{queued:>9} {x_original:>10} {x_nginx:>8} {latency}  {errors}")
    print("events/s: acknowledged (2xx) x events per request; queued/s: events the queue took in the "
          "same window;\nx original divides by the larger of the original's two figures")


def sqs_figures(tally: SqsTally, row: dict) -> dict[str, tuple[float, float]]:
    """Per million drained events: (calls, billed 64 KiB units) for each kind of call and in total."""
    queue = row["queue"]
    events = row["drain"]["events"] or math.nan
    parts = {"send": SEND_ACTIONS, "receive": RECEIVE_ACTIONS, "delete": DELETE_ACTIONS, "total": None}
    figures = {}
    for name, actions in parts.items():
        calls, billed = tally.of(queue, actions)
        figures[name] = (calls * 1e6 / events, billed * 1e6 / events)
    return figures


def print_sqs(tally: SqsTally, rows: list[dict]) -> None:
    print("\nSQS requests per million events: calls / billed 64 KiB units, counted at the queue endpoint"
          "\n(send: the collector under load; receive, delete: logdig.drain into S3 afterwards; "
          "total: every SQS call)")
    print(f"{'system':<9} {'ev/req':>6} {'acked':>7} {'drained':>7} {'B/event':>7}  "
          + " ".join(f"{p:>17}" for p in ("send", "receive", "delete", "total")))
    for r in (r for r in rows if "drain" in r):
        figures = sqs_figures(tally, r)
        queue = r["queue"]
        per_event = tally.sent_bytes(queue) / max(1, tally.events_sent[queue])
        cells = " ".join(f"{f'{calls:.0f} / {billed:.0f}':>17}" for calls, billed in figures.values())
        print(f"{r['system']:<9} {r['size']:>6} {r['acked']:>7} {r['drain']['events']:>7} "
              f"{per_event:>7.0f}  {cells}")


def server_us_per_request(row: dict) -> float | None:
    return row["cpu"]["server"] * 1e6 / row["load"].requests if row["load"].requests else None


def cpu_ratio(rows: list[dict], row: dict) -> float | None:
    """The row's server CPU per request over the trivial app's at the same size, same round."""
    base = next((r for r in rows if r["system"] == "trivial" and r["size"] == row["size"]
                 and r["round"] == row["round"]), None)
    ours, floor = server_us_per_request(row), base and server_us_per_request(base)
    return ours / floor if ours and floor else None


def print_cpu(rows: list[dict]) -> None:
    """Where the machine's CPU went in each measured window: the share the server got is its
    real limit when the queue endpoint and the load generator run on the same cores."""
    print(f"\nCPU seconds in the measured window ({os.cpu_count()} CPUs; other load on the machine "
          "is not shown); server CPU per request and its ratio to the trivial app's")
    print(f"{'system':<9} {'ev/req':>6} {'window':>7} {'server':>7} {'queue':>7} {'wrk':>7} "
          f"{'us/request':>10} {'x trivial':>9} {'us/event':>8} {'RSS MB':>7}")
    for r in rows:
        cpu, load = r["cpu"], r["load"]
        per_request = server_us_per_request(r)
        ratio = cpu_ratio(rows, r)
        ratio_cell = f"{ratio:>9.2f}" if ratio else f"{'-':>9}"
        cells = (f"{per_request:>10.0f} {ratio_cell} {per_request / r['size']:>8.0f}"
                 if per_request else f"{'-':>10} {'-':>9} {'-':>8}")
        print(f"{r['system']:<9} {r['size']:>6} {load.seconds:>7.1f} {cpu['server']:>7.1f} "
              f"{cpu['queue']:>7.1f} {cpu['wrk']:>7.1f} {cells} {r['rss_mb']:>7.0f}")


def spread(values: list[float], digits: int) -> str:
    return (f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / "
            f"{max(values):.{digits}f}" if values else "-")


def print_rounds(rows: list[dict]) -> None:
    """Each figure's min / median / max over the rounds."""
    rounds = len({r["round"] for r in rows})
    print(f"\nOver {rounds} round(s): min / median / max")
    print(f"{'system':<9} {'ev/req':>6} {'us/request':>22} {'x trivial':>22} {'req/s':>22} "
          f"{'p50 ms':>22} {'p99 ms':>22}")
    for key in dict.fromkeys((r["system"], r["size"]) for r in rows):
        mine = [r for r in rows if (r["system"], r["size"]) == key]
        figures = [
            [v for v in map(server_us_per_request, mine) if v],
            [v for v in (cpu_ratio(rows, r) for r in mine) if v],
            [r["load"].per_second for r in mine],
            [r["load"].p50_ms for r in mine if r["load"].requests],
            [r["load"].p99_ms for r in mine if r["load"].requests],
        ]
        cells = (spread(f, d) for f, d in zip(figures, (0, 2, 0, 1, 1), strict=True))
        print(f"{key[0]:<9} {key[1]:>6} " + " ".join(f"{cell:>22}" for cell in cells))


def verdicts(tally: SqsTally, rows: list[dict]) -> list[str]:
    """Each run's errors and durability, then the done-when targets (issues 1 and 14); a ratio's
    verdict is its median over the rounds."""
    lines = []
    for r in rows:
        where = f"{r['system']} at {r['size']} events/request (round {r['round'] + 1})"
        if r["load"].failed:
            lines.append(f"FAIL {where}: {r['load'].failed} requests failed; its throughput is no result")
        if "drain" in r and r["drain"]["events"] < r["acked"]:
            lines.append(f"FAIL {where}: {r['acked']} events acknowledged, only {r['drain']['events']} "
                         "reached the lake")
    last = max(r["round"] for r in rows)
    by = {(r["system"], r["size"]): r for r in rows if r["round"] == last}
    ours, original = by.get(("logdig", 20)), original_per_second(by, 20)
    if ours and original:
        ratio = acked_per_second(ours) / original
        lines.append(f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'} at 20 events/request: "
                     f"{ratio:.1f}x the original design's events/s (target >= {TARGET_RATIO}x)")
    if ours:
        calls, billed = sqs_figures(tally, ours)["total"]
        lines.append(f"{'PASS' if calls <= TARGET_PER_MILLION else 'FAIL'} at 20 events/request: "
                     f"{calls:.0f} SQS requests per million events (target <= {TARGET_PER_MILLION}); "
                     f"billed 64 KiB units: {billed:.0f}")
    return lines + cost_verdicts(tally, rows)


def cost_verdicts(tally: SqsTally, rows: list[dict]) -> list[str]:
    lines = []
    logdig = [r for r in rows if r["system"] == "logdig"]
    for size, target in TARGET_CPU_RATIO.items():
        ratios = [v for v in (cpu_ratio(rows, r) for r in logdig if r["size"] == size) if v]
        if ratios:
            median = statistics.median(ratios)
            lines.append(f"{'PASS' if median <= target else 'FAIL'} at {size} event(s)/request: server CPU "
                         f"per request {median:.2f}x the trivial Flask app's (median of {len(ratios)}; "
                         f"min {min(ratios):.2f}, max {max(ratios):.2f}; target <= {target}x)")
    if logdig:
        rss = max(r["rss_mb"] for r in logdig)
        lines.append(f"{'PASS' if rss <= TARGET_RSS_MB else 'FAIL'} RSS per worker under load: at most "
                     f"{rss:.0f} MB (target <= {TARGET_RSS_MB} MB)")
    billed = [sqs_figures(tally, r)["total"][1] for r in logdig if r["size"] == 1]
    if billed:
        lines.append(f"{'PASS' if max(billed) <= TARGET_BILLED_AT_1 else 'FAIL'} at 1 event/request: "
                     f"{max(billed):.0f} SQS billed requests per million events at most "
                     f"(target <= {TARGET_BILLED_AT_1})")
    return lines


# ---------------------------------------------------------------- main

def positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be at least 1")
    return value


def sizes(raw: str) -> list[int]:
    return [positive(item) for item in raw.split(",")]


def systems(raw: str) -> list[str]:
    names = raw.split(",")
    unknown = sorted(set(names) - set(SYSTEMS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown system {', '.join(unknown)}; choose from "
                                         f"{', '.join(SYSTEMS)}")
    return [name for name in SYSTEMS if name in names]  # baselines first: ratios need them


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=positive, default=10, help="seconds of load per run (default 10)")
    parser.add_argument("--warmup", type=positive, default=2, help="seconds of unmeasured load first (2)")
    parser.add_argument("--connections", type=positive, default=32, help="wrk connections (32)")
    parser.add_argument("--wrk-threads", type=positive, default=2, help="wrk threads (2)")
    parser.add_argument("--sizes", type=sizes, default="1,20", help="events per request, comma list (1,20)")
    parser.add_argument("--systems", type=systems, default=",".join(SYSTEMS), help="which systems (all)")
    parser.add_argument("--repeat", type=positive, default=1,
                        help="rounds of every system, interleaved; figures as min/median/max (1)")
    parser.add_argument("--workers", type=positive, default=None,
                        help="LOGDIG_WORKERS for the collectors (default: as LogDig ships)")
    parser.add_argument("--threads", type=positive, default=None,
                        help="LOGDIG_THREADS for the collectors (default: as LogDig ships)")
    parser.add_argument("--flush-wait-ms", type=int, default=None,
                        help="LOGDIG_FLUSH_WAIT_MS for the collector (default: as LogDig ships)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir with the servers' logs")
    args = parser.parse_args(argv)
    for tool in ("wrk", *(["nginx"] if "nginx" in args.systems else [])):
        if not shutil.which(tool):
            parser.error(f"{tool} is not installed (Debian: apt-get install -y {tool}"
                         f"{'-light' if tool == 'nginx' else ''})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="logdig-bench-"))
    tally = SqsTally()
    server, moto_url = start_moto(tally)
    bench = Bench(args, workdir, moto_url, tally)
    shipped = load_settings({k: str(getattr(args, o)) for k, o in (("LOGDIG_WORKERS", "workers"),
                             ("LOGDIG_THREADS", "threads")) if getattr(args, o) is not None})
    print(f"bench: {args.duration:g} s per run, {args.connections} connections, {os.cpu_count()} CPUs, "
          f"collectors {shipped.workers} workers x {shipped.threads} threads, trivial gunicorn gthread "
          f"{TRIVIAL_WORKERS}x{TRIVIAL_THREADS}; {args.repeat} round(s); work dir {workdir}", flush=True)
    rows = []
    try:
        for bench.round in range(args.repeat):
            for size in args.sizes:
                for system in args.systems:
                    started = time.monotonic()
                    rows.append(bench.measure(system, size))
                    drained = rows[-1].get("drain_seconds")
                    print(f"  round {bench.round + 1}: {system} at {size} events/request: "
                          f"{time.monotonic() - started:.0f} s"
                          + (f" (drain {drained:.0f} s)" if drained is not None else ""), flush=True)
    finally:
        server.shutdown()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    for number in range(args.repeat):
        this_round = [r for r in rows if r["round"] == number]
        print(f"\n======== round {number + 1} of {args.repeat}")
        print_throughput(this_round)
        print_sqs(tally, this_round)
        print_cpu(this_round)
    print_rounds(rows)
    lines = verdicts(tally, rows)
    print("\n" + "\n".join(lines))
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
