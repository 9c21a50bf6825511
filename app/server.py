"""The HTTP server the collector runs under, in local mode and on Elastic Beanstalk alike.

granian in WSGI mode: it reads, parses and answers HTTP in Rust (tokio), so a request costs the
Python side only the app itself (bench/collector.py: ~125 µs of server CPU a request for a trivial
Flask app, ~330 under gunicorn gthread), and a slow client (slowloris) holds a Rust task, not one
of the Python threads. Workers (processes) and threads per worker come from the settings
(LOGDIG_WORKERS, LOGDIG_THREADS): the threads are what the group commit batches across.

    python -m app.server [--host HOST] [--port PORT]     # defaults: LOGDIG_HOST, LOGDIG_PORT

The Beanstalk Procfile runs this with --host 0.0.0.0 --port 8000 (deploy/bundles.py); local mode
(`python -m app`) runs it with the settings' address. It prepares the workers' Prometheus
directory, then becomes granian (exec: same process, so signals reach the server directly).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # config.py sits beside app/ (Beanstalk runs from the bundle root)

from config import ConfigError, Settings, load_settings  # noqa: E402

GRACEFUL_SECONDS = 10


def command(settings: Settings, host: str, port: int, target: str = "app:create_app") -> list[str]:
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--factory",
        "--host", host, "--port", str(port),
        "--workers", str(settings.workers), "--blocking-threads", str(settings.threads),
        # As gunicorn did: a worker that dies is replaced, and a stop waits for requests in flight.
        "--respawn-failed-workers", "--workers-kill-timeout", str(GRACEFUL_SECONDS),
        "--log-level", "warning", "--working-dir", str(ROOT),
        target,
    ]


def prometheus_dir() -> str:
    """An empty directory for the workers' counters, so /metrics sums every worker: the one in
    PROMETHEUS_MULTIPROC_DIR (local mode passes one), else a fresh one per server."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
        tempfile.gettempdir(), f"logdig-metrics-{os.getpid()}")
    shutil.rmtree(path, ignore_errors=True)  # stale files from an earlier run would add up
    os.makedirs(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="address to listen on (default: LOGDIG_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default: LOGDIG_PORT)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"logdig: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.port is not None and not 0 < args.port < 65536:
        parser.error(f"--port: {args.port} is not a port number (1-65535)")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": prometheus_dir()}
    argv_ = command(settings, args.host or settings.host, args.port or settings.port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv_[0], argv_, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
