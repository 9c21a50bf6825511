"""moto's server as its own process on a free loopback port, so a test (or bench/soak.py) can stall
it (SIGSTOP: connections are still accepted by the kernel, nothing answers) and resume it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import requests

from tests.localserver import free_port
from tests.motoserver import FAKE_AWS_ENV, MotoServer


class MotoProcess(MotoServer):
    """The same helpers as tests.motoserver.MotoServer, on `python -m moto.server` in a child."""

    def __init__(self):  # noqa: D107 - no thread server: the process is started by start()
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> MotoProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env={**os.environ, **FAKE_AWS_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.endpoint + "/moto-api/", timeout=2).ok:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto's server did not answer on {self.endpoint} within {timeout}s")

    def stall(self) -> None:
        """Freeze the server: requests are accepted by the kernel and never answered."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextlib.contextmanager
def moto_process() -> Iterator[MotoProcess]:
    server = MotoProcess().start()
    try:
        yield server
    finally:
        server.stop()
