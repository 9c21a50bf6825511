"""Bench: the dashboard in headless Chromium and its API calls, from the query store and, as the
baseline measured in the same run, from the lake directly.

    .venv/bin/python bench/dashboard.py --lake /work/benchdata/lake10m \
        --store /work/benchdata/dashboard/store10m.duckdb      # 10 million events (the target)
    .venv/bin/python bench/dashboard.py --events 200000         # a generated lake (bench/traffic.py)

Runs `python -m dashboard` (gunicorn, as a user would) on a free loopback port for each mode,
opens the dashboard for the last 7 days of the lake (compare on, a funnel and a heatmap page
chosen, so every panel is filled) and reads the time from navigation start until every panel
has been painted (the page records it after its last panel's next animation frame). Then times
each API call the page makes. Prints medians, the targets (page <= 2 s, each call <= 0.5 s),
and the ratio lake / store.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE_TARGET_S, CALL_TARGET_S = 2.0, 0.5
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def last_day(lake: Path) -> date:
    days = sorted(p.name[3:] for p in (lake / "events").glob("dt=*"))
    if not days:
        sys.exit(f"error: --lake {lake} has no events/dt=* folders")
    return date.fromisoformat(days[-1])


class Dashboard:
    def __init__(self, lake: Path, store: Path | None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "dashboard", "--lake", lake.resolve().as_uri(),
                   "--port", str(self.port)]
        command += ["--store", str(store)] if store else ["--no-store"]
        self.process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL,
                                        env={**os.environ, "LOGDIG_DATA_DIR": tempfile.mkdtemp()})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/status", timeout=5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        sys.exit("error: the dashboard did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def api_calls(first: str, last: str, previous: tuple[str, str], top_page: str) -> dict[str, str]:
    base = {"from": first, "to": last, "tz": "UTC"}
    calls = {"summary": "/api/summary?" + urlencode(base), "realtime": "/api/realtime"}
    for name, extra in (("traffic", {"bucket": "hour"}), ("pages", {}), ("entry_pages", {}),
                        ("exit_pages", {}), ("referrers", {}), ("events", {}), ("sites", {}),
                        ("funnel", {"steps": "/,/pricing,conversion"}),
                        ("heatmap", {"page": top_page}), ("elements", {"page": top_page})):
        calls[name] = f"/api/reports/{name}?" + urlencode({**base, **extra})
    calls["traffic (previous)"] = "/api/reports/traffic?" + urlencode(
        {**base, "from": previous[0], "to": previous[1], "bucket": "hour"})
    return calls


def time_calls(dash: Dashboard, calls: dict[str, str], runs: int) -> dict[str, float]:
    medians = {}
    for name, path in calls.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            reply = requests.get(dash.url + path, timeout=600)
            times.append(time.perf_counter() - started)
            reply.raise_for_status()
        medians[name] = statistics.median(times)
    return medians


def time_page(browser, dash: Dashboard, query: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(f"{dash.url}/dashboard?{query}")
        page.wait_for_selector("body[data-loaded]", timeout=600_000)
        times.append(int(page.eval_on_selector("body", "b => b.dataset.paintedMs")) / 1000)
        context.close()
    return statistics.median(times)


def measure(lake: Path, store: Path | None, runs: int, browser) -> tuple[float, dict[str, float]]:
    dash = Dashboard(lake, store)
    try:
        end = last_day(lake)
        first = (end - timedelta(days=6)).isoformat()
        previous = ((end - timedelta(days=13)).isoformat(), (end - timedelta(days=7)).isoformat())
        pages = requests.get(dash.url + "/api/reports/pages?" + urlencode(
            {"from": first, "to": end.isoformat()}), timeout=3600).json()  # also warms the store
        top_page = pages[0]["page"]
        calls = api_calls(first, end.isoformat(), previous, top_page)
        query = urlencode({"range": "custom", "from": first, "to": end.isoformat(), "compare": "1",
                           "steps": "/,/pricing,conversion", "heatmap": top_page})
        page_s = time_page(browser, dash, query, runs)
        return page_s, time_calls(dash, calls, runs)
    finally:
        dash.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, help="a lake directory (default: generate one)")
    parser.add_argument("--events", type=int, default=200_000, help="events to generate without "
                        "--lake (bench/traffic.py, 30 days)")
    parser.add_argument("--store", type=Path, help="the store file (default: a new one in a "
                        "temporary folder, loaded before timing)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measure (median)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the lake-direct run")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs {args.runs} must be at least 1")
    from playwright.sync_api import sync_playwright

    from analysis import lake_files, store

    work = Path(tempfile.mkdtemp(prefix="logdig-bench-dashboard-"))
    lake = args.lake
    if lake is None:
        from bench.traffic import generate

        lake = work / "lake"
        generate(lake, events=args.events, days=30)
    elif not (lake / "events").is_dir():
        sys.exit(f"error: --lake {lake} has no events/ folder")
    store_path = args.store or work / "store.duckdb"
    started = time.perf_counter()
    store.sync(lake_files.open_lake(lake.resolve().as_uri()), store_path)
    print(f"store {store_path} up to date in {time.perf_counter() - started:.1f} s")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        results = {"store": measure(lake, store_path, args.runs, browser)}
        if not args.no_baseline:
            results["lake"] = measure(lake, None, 1, browser)
        browser.close()
    report(results)


def report(results: dict) -> None:
    page_s, calls = results["store"]
    base = results.get("lake")
    print(f"\n{'':24} {'store s':>9} {'target':>7}" + (f" {'lake s':>9} {'lake/store':>10}" if base
                                                         else ""))
    rows = [("whole dashboard painted", page_s, PAGE_TARGET_S, base and base[0])]
    rows += [(f"GET {name}", s, CALL_TARGET_S, base and base[1][name]) for name, s in calls.items()]
    for name, seconds, target, lake_s in rows:
        mark = "ok" if seconds <= target else "OVER"
        line = f"{name:24} {seconds:9.3f} {mark:>7}"
        if lake_s:
            line += f" {lake_s:9.3f} {lake_s / seconds:9.1f}x"
        print(line)
    print(json.dumps({"page_s": round(page_s, 3), "slowest_call_s": round(max(calls.values()), 3),
                      "calls": {k: round(v, 3) for k, v in calls.items()}}))


if __name__ == "__main__":
    main()
