"""Local mode (`python -m app`) in a subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from config import load_settings
from logdig.drain import DrainOptions, drain
from logdig.lake import DirLake
from logdig.local_queue import LocalQueue

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """One local-mode LogDig. The drain timer is idle unless `env` lowers its thresholds;
    tests drain on purpose with drain_now()."""

    def __init__(self, data_dir: Path, port: int | None = None, env: dict | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "LOGDIG_DATA_DIR": str(self.data_dir),
            "LOGDIG_PORT": str(self.port),
            "LOGDIG_MIN_MESSAGES": "10000000",
            "LOGDIG_MAX_WAIT_SECONDS": "86400",
            "LOGDIG_DRAIN_INTERVAL_SECONDS": "3600",
            # Two workers (the default is one): group commits and /metrics across processes.
            "LOGDIG_WORKERS": "2",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    def start(self, timeout: float = 30) -> LocalServer:
        self.process = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode()
                self.stop()
                raise RuntimeError(f"local mode exited: {error}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).ok:
                    return self
            except requests.RequestException:  # not listening yet, or busy starting workers
                time.sleep(0.1)
        self.stop()  # never leave a half-started process tree behind
        raise RuntimeError(f"local mode did not answer on {self.url} within {timeout}s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self.process.stderr.close()
        self.process = None

    def post(self, body, path: str = "/v1/logs", **kwargs) -> requests.Response:
        return requests.post(self.url + path, json=body, timeout=30, **kwargs)

    def drain_now(self) -> dict:
        """Drain everything queued now, in this process, as the timer would."""
        settings = load_settings(self.env)
        queue = LocalQueue(settings.queue_path, settings.visibility_timeout_seconds)
        options = DrainOptions.from_settings(settings, min_messages=1, max_wait_seconds=0,
                                             margin_seconds=0, wait_seconds=0)
        return drain(queue, DirLake(settings.lake_dir), options)

    def lake_events(self, prefix: str = "events/") -> list[dict]:
        return read_lake_events(self.lake_dir / prefix)


def read_lake_events(root: Path) -> list[dict]:
    events = []
    for path in sorted(Path(root).rglob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            events.extend(json.loads(line) for line in handle)
    return events
