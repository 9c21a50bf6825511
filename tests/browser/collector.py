"""The shared LocalServer, tolerant of a collector that accepts connections before it answers.

gunicorn binds the port before its worker has imported the app, so the first /healthz can time out
on reading rather than fail to connect; LocalServer.start() treats only the latter as "not yet".
"""

import time

import requests

from tests.localserver import LocalServer


class Collector(LocalServer):
    def start(self, timeout: float = 30) -> "Collector":
        try:
            return super().start(timeout)
        except requests.ReadTimeout:
            pass
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(self.url + "/healthz", timeout=5).ok:
                    return self
            except requests.RequestException:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)
