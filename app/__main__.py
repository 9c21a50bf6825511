"""Local mode: `python -m app` runs the collector's server (app.server) and the drain timer beside it.

Queue and lake live under LOGDIG_DATA_DIR. Ctrl-C (or SIGTERM) stops both gracefully;
acknowledged events wait in the durable queue and are drained on the next start.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

from app import server
from config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def server_command(settings: Settings) -> list[str]:
    """The collector's server as the Beanstalk Procfile runs it, on the settings' address."""
    return server.command(settings)


def child_env(settings: Settings) -> dict[str, str]:
    # app.server empties and uses this directory for the workers' Prometheus counters.
    metrics_dir = (settings.data_dir / ".prometheus").resolve()
    return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}


def banner(settings: Settings) -> str:
    queue = settings.queue_url or settings.queue_path
    lake = f"s3://{settings.bucket}/{settings.lake_prefix}" if settings.bucket else settings.lake_dir
    url = f"http://{settings.host}:{settings.port}"
    return (f"LogDig collector on {url}/  (demo page: /demo)\n"
            f"dashboard: {url}/dashboard\n"
            f"queue: {queue}\nlake:  {lake}\nCtrl-C to stop.")


def check_drain(settings: Settings) -> None:
    """The local queue's visibility timeout against the timer's budget and margin, before
    anything starts (the timer checks an SQS queue's own timeout when it starts)."""
    if settings.local_queue:
        from logdig.drain import DrainOptions, check_timing

        check_timing(settings.visibility_timeout_seconds, settings.drain_budget_seconds,
                     DrainOptions.from_settings(settings, wait_seconds=0))


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def stop_with_parent(parent: int) -> None:
    """Run in each child before exec: if this process dies without stopping its children
    (SIGKILL, the OOM killer), Linux sends them SIGTERM, so no orphan keeps serving the port."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def main() -> int:
    try:
        settings = load_settings()
        check_drain(settings)
    except ConfigError as exc:
        print(f"logdig: configuration error: {exc}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.local_lake:  # the dashboard and reports read an empty lake before the first drain
        settings.lake_dir.mkdir(parents=True, exist_ok=True)
    env = child_env(settings)
    print(banner(settings), file=sys.stderr, flush=True)
    # Own sessions: the terminal's Ctrl-C reaches only this process, which then asks both
    # children for a graceful stop (SIGTERM).
    children = [subprocess.Popen(cmd, env=env, start_new_session=True,
                                 preexec_fn=functools.partial(stop_with_parent, os.getpid()))
                for cmd in (server_command(settings),
                            [sys.executable, "-m", "lambda_sqs_to_s3.timer"])]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        children[0].wait()
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=30)
    return children[0].returncode or 0


if __name__ == "__main__":
    sys.exit(main())
