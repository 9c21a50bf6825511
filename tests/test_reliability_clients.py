"""Slow clients (issue 12, defect 3): connections trickling their headers or their body must not
starve local mode's collector (`python -m app`, a real server process).

Under gunicorn's gthread worker each such connection held one of the 2 x 16 Python threads for
as long as it trickled (gunicorn waits 5 s for a first byte, then reads headers and body with no
total deadline): 40 of them froze the collector, and this test timed out. granian (app/server.py,
chosen by the collector-cost work, issue 14) reads HTTP in Rust and hands Python only complete
requests, so they hold a Rust task instead. In AWS, Beanstalk's nginx buffers whole requests."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
import requests

from tests.events_factory import click

pytestmark = [pytest.mark.process, pytest.mark.wire, pytest.mark.slow]

SLOW_CLIENTS = 40  # more than gunicorn gthread's 2 workers x 16 threads, which they froze
ANSWER_BOUND = 15  # seconds a normal client may wait for its 202 while they trickle


@contextlib.contextmanager
def trickling(port: int, count: int):
    """`count` connections, half trickling header lines, half a body, one byte a second."""
    stop = threading.Event()
    sockets = []
    for n in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        head = b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        if n % 2:  # headers complete, a 1 MB body promised and never sent
            head += b"Content-Length: 1000000\r\n\r\n{"
        sock.sendall(head)
        sockets.append(sock)

    def trickle():
        while not stop.wait(1):
            for n, sock in enumerate(sockets):
                with contextlib.suppress(OSError):  # a server may drop them: that is fine
                    sock.sendall(b" " if n % 2 else b"X")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for sock in sockets:
            sock.close()


def test_slow_clients_do_not_starve_the_collector(make_local_server):
    # GIVEN local mode, answering
    server = make_local_server()
    assert server.post(click(0)).status_code == 202

    # WHEN 40 clients trickle their requests a byte a second
    with trickling(server.port, SLOW_CLIENTS):
        # THEN a normal client still gets its 202 (the old collector left it unanswered)
        reply = requests.post(server.url + "/v1/logs", json=click(1), timeout=ANSWER_BOUND)
        assert reply.status_code == 202
        assert requests.get(server.url + "/readyz", timeout=ANSWER_BOUND).status_code == 200
