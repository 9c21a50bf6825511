"""Benchmark: events per second accepted with durable ack, and SQS requests per million events.

Systems, each loaded by wrk on loopback at 1 and at 20 events per request, in one run:
  logdig    this collector (app/), started as in production: gunicorn gthread, LOGDIG_QUEUE_URL set
  original  the original design (bench/original_app.py): one synchronous SendMessage per event
  nginx     a bare `return 204` from nginx: the HTTP ceiling of this machine
Both collectors send to the same moto server, one queue per (system, size). Every SQS call crossing
the wire is counted by a WSGI middleware in front of moto, with its payload bytes, so billed 64 KiB
units come from what was sent and received. After each load, logdig.drain empties that queue into
moto's S3 and its calls are counted too; the drained events must cover every acknowledged event,
otherwise the run is reported as a failure, not as throughput.

    .venv/bin/python bench/collector.py [--duration 10] [--connections 32] [--sizes 1,20]
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

from app.__main__ import child_env, gunicorn_command  # noqa: E402
from config import load_settings  # noqa: E402
from logdig.drain import DrainOptions, drain  # noqa: E402
from logdig.lake import S3Lake  # noqa: E402
from logdig.packing import BILLING_UNIT, decode  # noqa: E402
from logdig.queues import SqsQueue  # noqa: E402

SYSTEMS = ("nginx", "original", "logdig")
SEND_ACTIONS = ("SendMessage", "SendMessageBatch")
RECEIVE_ACTIONS = ("ReceiveMessage",)
DELETE_ACTIONS = ("DeleteMessage", "DeleteMessageBatch")
SETUP_ACTIONS = ("CreateQueue", "GetQueueUrl")
TARGET_RATIO = 10
TARGET_PER_MILLION = 20_000
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

    def aws_env(self) -> dict[str, str]:
        return {**FAKE_AWS, "AWS_ENDPOINT_URL_SQS": self.moto_url, "AWS_ENDPOINT_URL_S3": self.moto_url}

    def client(self, service: str):
        env = self.aws_env()
        return boto3.client(service, region_name=env["AWS_DEFAULT_REGION"],
                            endpoint_url=self.moto_url, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=env["AWS_SESSION_TOKEN"])

    def collector_command(self, system: str, queue_url: str, port: int) -> tuple[list[str], dict]:
        """The collector's own gunicorn command and environment; the original swaps in its app."""
        data_dir = self.workdir / f"data-{system}-{port}"
        env = {**os.environ, **self.aws_env(), "LOGDIG_QUEUE_URL": queue_url, "LOGDIG_PORT": str(port),
               "LOGDIG_DATA_DIR": str(data_dir), "LOGDIG_WORKERS": str(self.args.workers),
               "LOGDIG_THREADS": str(self.args.gunicorn_threads), "PYTHONPATH": str(ROOT)}
        if self.args.flush_wait_ms is not None:
            env["LOGDIG_FLUSH_WAIT_MS"] = str(self.args.flush_wait_ms)
        settings = load_settings(env)
        command = gunicorn_command(settings)
        if system == "original":
            command[-1] = "bench.original_app:create_app()"
        return command, {**env, **child_env(settings)}

    def start(self, system: str, size: int, port: int) -> subprocess.Popen:
        log = self.workdir / f"{system}-{size}.log"
        if system == "nginx":
            command, env = nginx_command(port, self.args.workers, self.workdir), dict(os.environ)
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
        name = f"bench-{system}-{size}"
        # Long enough that a drain holding every message while it builds an object keeps them.
        reply = self.client("sqs").create_queue(QueueName=name,
                                                Attributes={"VisibilityTimeout": "900"})
        return reply["QueueUrl"]

    def measure(self, system: str, size: int) -> dict:
        port = free_port()
        url = f"http://127.0.0.1:{port}/v1/logs"
        body = request_body(size)
        queue = f"bench-{system}-{size}"
        process = self.start(system, size, port)
        try:
            warm = self.wrk(url, body, self.args.warmup)
            before, cpu_before = self.tally.events_sent[queue], cpu_now(process.pid)
            load = self.wrk(url, body, self.args.duration)
            queued = self.tally.events_sent[queue] - before
            cpu = {k: v - cpu_before[k] for k, v in cpu_now(process.pid).items()}
        finally:
            stop(process)
        row = {"system": system, "size": size, "load": load, "cpu": cpu}
        if system != "nginx":
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
        bucket = f"bench-lake-{system}-{size}"
        s3.create_bucket(Bucket=bucket)
        queue = SqsQueue(self.queue_url(system, size), self.client("sqs"))
        return drain(queue, S3Lake(bucket, s3), DrainOptions(min_messages=1, margin_seconds=0))


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its live descendants (Linux /proc)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):  # a process may end while we look
            stat = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(stat[11]) + int(stat[12])) / CLOCK_TICKS  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return total


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
    queue = f"bench-{row['system']}-{row['size']}"
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
        queue = f"bench-{r['system']}-{r['size']}"
        per_event = tally.sent_bytes(queue) / max(1, tally.events_sent[queue])
        cells = " ".join(f"{f'{calls:.0f} / {billed:.0f}':>17}" for calls, billed in figures.values())
        print(f"{r['system']:<9} {r['size']:>6} {r['acked']:>7} {r['drain']['events']:>7} "
              f"{per_event:>7.0f}  {cells}")


def print_cpu(rows: list[dict]) -> None:
    """Where the machine's CPU went in each measured window: the share the server got is its
    real limit when the queue endpoint and the load generator run on the same cores."""
    print(f"\nCPU seconds in the measured window ({os.cpu_count()} CPUs; other load on the machine "
          "is not shown)")
    print(f"{'system':<9} {'ev/req':>6} {'window':>7} {'server':>7} {'queue':>7} {'wrk':>7} "
          f"{'server us/event':>16}")
    for r in rows:
        cpu, load = r["cpu"], r["load"]
        events = load.requests * r["size"]
        per_event = f"{cpu['server'] * 1e6 / events:.0f}" if events else "-"
        print(f"{r['system']:<9} {r['size']:>6} {load.seconds:>7.1f} {cpu['server']:>7.1f} "
              f"{cpu['queue']:>7.1f} {cpu['wrk']:>7.1f} {per_event:>16}")


def verdicts(tally: SqsTally, rows: list[dict]) -> list[str]:
    """Each run's errors and durability, then the issue's two done-when targets."""
    lines = []
    for r in rows:
        where = f"{r['system']} at {r['size']} events/request"
        if r["load"].failed:
            lines.append(f"FAIL {where}: {r['load'].failed} requests failed; its throughput is no result")
        if "drain" in r and r["drain"]["events"] < r["acked"]:
            lines.append(f"FAIL {where}: {r['acked']} events acknowledged, only {r['drain']['events']} "
                         "reached the lake")
    by = {(r["system"], r["size"]): r for r in rows}
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
    parser.add_argument("--workers", type=positive, default=2, help="gunicorn workers / nginx workers (2)")
    parser.add_argument("--gunicorn-threads", type=positive, default=16,
                        help="gthread threads per worker (16)")
    parser.add_argument("--flush-wait-ms", type=int, default=None,
                        help="LOGDIG_FLUSH_WAIT_MS for the collector (default: its own default)")
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
    print(f"bench: {args.duration:g} s per run, {args.connections} connections, {os.cpu_count()} CPUs, "
          f"{args.workers} workers x {args.gunicorn_threads} threads; work dir {workdir}", flush=True)
    rows = []
    try:
        for size in args.sizes:
            for system in args.systems:
                started = time.monotonic()
                rows.append(bench.measure(system, size))
                drained = rows[-1].get("drain_seconds")
                print(f"  {system} at {size} events/request: {time.monotonic() - started:.0f} s"
                      + (f" (drain {drained:.0f} s)" if drained is not None else ""), flush=True)
    finally:
        server.shutdown()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_throughput(rows)
    print_sqs(tally, rows)
    print_cpu(rows)
    lines = verdicts(tally, rows)
    print("\n" + "\n".join(lines))
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
