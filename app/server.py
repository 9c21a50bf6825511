"""The HTTP server the collector runs under, in local mode and on Elastic Beanstalk alike.

granian in WSGI mode: it reads, parses and answers HTTP in Rust (tokio), so a request costs the
Python side only the app itself (bench/collector.py: ~125 µs of server CPU a request for a trivial
Flask app, ~330 under gunicorn gthread), and a slow client (slowloris) holds a Rust task with a
header deadline, not one of the Python threads. Workers (processes) and threads per worker come
from the settings (LOGDIG_WORKERS, LOGDIG_THREADS): the threads of a worker are what its group
commit batches across.

    python -m app.server [--host HOST] [--port PORT]     # defaults: LOGDIG_HOST, LOGDIG_PORT

The Beanstalk Procfile runs this with --host 0.0.0.0 --port 8000 (deploy/bundles.py); local mode
(`python -m app`) runs it with the settings' address. The app's modules are imported before the
workers fork, so a worker is serving within milliseconds of its start (and a stop asked for while
it starts is not left waiting on imports).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # config.py sits beside app/ (Beanstalk runs from the bundle root)

from config import ConfigError, Settings, load_settings  # noqa: E402

APP = "app:create_app"
GRACEFUL_SECONDS = 10  # a stop waits this long for requests in flight, as gunicorn's did
_app = APP  # set by serve() before the workers fork: what _worker_app builds
M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
MALLOC_ARENAS = 2
# granian's Rust side (connections, request and answer bodies) allocates with the jemalloc linked
# into its extension (prefixed: it reads _RJEM_MALLOC_CONF, not MALLOC_CONF) and reads its
# settings once, at its first allocation. By default it keeps a cache per thread (granian's 32
# blocking threads and tokio's), 4 arenas per core, and freed pages for 10 s: at 20 events per
# request a worker's RSS under load was 80.8 MB with them, 70.8 with one arena, no thread caches
# and freed pages returned after 1 s (server CPU per request within the noise; returned at once,
# 68.8 MB but ~6% more CPU). The workers fork from this process, so the setting made here before
# granian is imported is theirs too. One in the environment wins.
JEMALLOC_ENV = "_RJEM_MALLOC_CONF"
JEMALLOC_CONF = "narenas:1,tcache:false,dirty_decay_ms:1000,muzzy_decay_ms:0"


def command(settings: Settings, app: str = APP) -> list[str]:
    """This server on the settings' address, as a command (local mode; the bench's baselines)."""
    return [sys.executable, str(Path(__file__).resolve()), "--host", settings.host,
            "--port", str(settings.port), "--app", app]


def prometheus_dir() -> str:
    """An empty directory for the workers' counters, so /metrics sums every worker: the one in
    PROMETHEUS_MULTIPROC_DIR (local mode passes one), else a fresh one per server."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
        tempfile.gettempdir(), f"logdig-metrics-{os.getpid()}")
    shutil.rmtree(path, ignore_errors=True)  # stale files from an earlier run would add up
    os.makedirs(path)
    return path


def _worker_app():
    """The app, as each worker builds it. A worker starts with its parent's signal handlers,
    which only note a stop, and granian installs its own once the app is built: a stop asked for
    while the app builds (local mode loads the dashboard and DuckDB then) would wait for the kill
    timeout. With the default handlers back, it ends the worker at once, as under gunicorn."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    limit_malloc_arenas()
    module, _, factory = _app.partition(":")
    return getattr(importlib.import_module(module), factory)()


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas in this worker (what MALLOC_ARENA_MAX does, which would have to
    be set before the server starts). By default glibc gives threads up to 8 per core; a worker's
    threads take turns on the GIL anyway, and with 2 arenas its RSS under load was 3-4 MB lower
    (bench/collector.py, 20 events per request). False where malloc is not glibc's."""
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def configure_jemalloc() -> str:
    """granian's allocator settings, before granian is imported (JEMALLOC_CONF unless the
    environment has its own): what the server and its workers run with."""
    return os.environ.setdefault(JEMALLOC_ENV, JEMALLOC_CONF)


def serve(settings: Settings, host: str, port: int, app: str = APP) -> None:
    configure_jemalloc()
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    global _app
    _app = app
    # Before any import of prometheus_client, which reads it at import time.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = prometheus_dir()
    importlib.import_module(app.split(":")[0])  # the workers fork with it loaded
    Granian(f"{__name__}:_worker_app", address=host, port=port, interface=Interfaces.WSGI, factory=True,
            workers=settings.workers, blocking_threads=settings.threads,
            # As gunicorn did: a worker that dies is replaced, a stop waits for requests in flight.
            respawn_failed_workers=True, workers_kill_timeout=GRACEFUL_SECONDS,
            log_level=LogLevels.error,  # not its warning about 16 threads per worker
            working_dir=ROOT).serve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="address to listen on (default: LOGDIG_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default: LOGDIG_PORT)")
    parser.add_argument("--app", default=APP, help=f"WSGI app factory, module:function ({APP})")
    args = parser.parse_args(argv)
    if args.port is not None and not 0 < args.port < 65536:
        parser.error(f"--port: {args.port} is not a port number (1-65535)")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"logdig: configuration error: {exc}", file=sys.stderr)
        return 2
    serve(settings, args.host or settings.host, args.port or settings.port, args.app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
