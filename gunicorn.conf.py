"""gunicorn settings shared by local mode and the Elastic Beanstalk Procfile.

gunicorn reads ./gunicorn.conf.py by itself (the Procfile), or gets it through --config (local
mode), so both run with the workers and threads of config.Settings (LOGDIG_WORKERS,
LOGDIG_THREADS); only the address differs (the platform's :8000, or LOGDIG_HOST:LOGDIG_PORT).
It also gives every worker one Prometheus directory, so /metrics sums all workers instead of
showing whichever one answered.
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # config.py sits beside this file
from config import load_settings  # noqa: E402

_settings = load_settings()
workers = _settings.workers
threads = _settings.threads
worker_class = "gthread"  # many waiting requests per worker share one group-commit flush
accesslog = None  # the app writes one JSON line per request itself


def on_starting(server):
    # Set before any worker imports prometheus_client, which reads it at import time.
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
        tempfile.gettempdir(), f"logdig-metrics-{os.getpid()}")
    shutil.rmtree(path, ignore_errors=True)  # stale files from an earlier run would add up
    os.makedirs(path)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
