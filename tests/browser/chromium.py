"""Debian's Chromium driven by Playwright (never a downloaded browser), and lake polling helpers."""

import os
import time

CHROMIUM = os.environ.get("LOGDIG_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1000, "height": 700}


def launch(playwright, bfcache=False):
    # Playwright turns the back/forward cache off by default; real browsers have it on.
    ignore = ["--disable-back-forward-cache"] if bfcache else None
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, ignore_default_args=ignore)


def wait_for_lake(page, server, token, done, timeout=30.0):
    """Drain and read the lake until `done(events of this token)` holds; returns those events.

    Waiting for an outcome with a deadline, not asserting on time: on timeout the last events are
    returned and the caller's assertions say what is missing. Pausing through `page` lets
    Playwright dispatch its events meanwhile (route handlers run only inside Playwright calls).
    """
    deadline = time.monotonic() + timeout
    while True:
        server.drain_now()
        events = [e for e in server.lake_events() if e.get("token") == token]
        if done(events) or time.monotonic() > deadline:
            return events
        page.wait_for_timeout(200)


def of_type(events, event_type):
    return [e for e in events if e["event_type"] == event_type]
