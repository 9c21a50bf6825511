"""Bench: the dashboard in headless Chromium and its API calls, from the query store and, as the
baseline measured in the same run, from the lake directly.

    .venv/bin/python bench/dashboard.py --lake /work/benchdata/lake10m \
        --store /work/benchdata/dashboard/store10m.duckdb      # 10 million events (the target)
    .venv/bin/python bench/dashboard.py --events 200000         # a generated lake (bench/traffic.py)

Runs `python -m dashboard` (gunicorn, as a user would) on a free loopback port and opens the
dashboard for the last 7 days of the lake (compare on, a funnel and a heatmap page chosen, so
every panel is filled): cold (the first load after the server started) and warm (loaded again),
each time reading how long until every panel was painted (the page records it after its last
panel's next animation frame) and, from Chromium, every API request the page made. Then, on a
fresh server, times each of those recorded calls alone (cold, then warm). Prints medians over
--runs fresh servers, the targets (page <= 2 s, each call <= 0.5 s), the calls the paint waited
on longest, and the ratio lake / store.
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
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

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


def record_page(browser, dash: Dashboard, query: str) -> tuple[float, list[dict]]:
    """One load of the dashboard in a new browser context (nothing cached): the time until
    every panel was painted, and each request the page made before that, as Chromium saw it
    (start and end relative to navigation start; the page's own list, so it cannot drift from
    static/dashboard.js)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    finished = []
    page.on("requestfinished", lambda request: finished.append(request))
    page.goto(f"{dash.url}/dashboard?{query}")
    page.wait_for_selector("body[data-loaded]", timeout=600_000)
    painted_ms = int(page.eval_on_selector("body", "b => b.dataset.paintedMs"))
    origin = page.evaluate("performance.timeOrigin")
    page.wait_for_timeout(100)  # lets Playwright deliver the last requestfinished events
    calls = []
    for request in finished:
        path = request.url.removeprefix(dash.url)
        timing = request.timing
        start = timing["startTime"] - origin
        if path.startswith("/api/") and start <= painted_ms:
            calls.append({"path": path, "start_ms": start,
                          "end_ms": start + max(timing["responseEnd"], 0)})
    context.close()
    return painted_ms / 1000, sorted(calls, key=lambda c: c["start_ms"])


def label(path: str, seen: dict[str, int]) -> str:
    """A short name for a call: its endpoint, numbered when the page asks it twice."""
    name = urlsplit(path).path.removeprefix("/api/").removeprefix("reports/")
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name} #{seen[name]}"


def time_calls(dash: Dashboard, paths: list[str]) -> tuple[list[float], list[float]]:
    """Each call alone, one after another: first asked (nothing cached in the server), then
    asked again (the server's answer cache, keyed on the store's state)."""
    def once(path: str) -> float:
        started = time.perf_counter()
        requests.get(dash.url + path, timeout=600).raise_for_status()
        return time.perf_counter() - started

    first = [once(path) for path in paths]
    return first, [once(path) for path in paths]


@dataclass
class Measure:
    cold_page: list[float] = field(default_factory=list)
    warm_page: list[float] = field(default_factory=list)
    in_page: list[dict] = field(default_factory=list)  # the first cold load's requests
    cold_calls: list[list[float]] = field(default_factory=list)
    warm_calls: list[list[float]] = field(default_factory=list)


def measure(lake: Path, store: Path | None, runs: int, browser, query: str) -> Measure:
    """Per run: a fresh server, the page loaded cold (first load after start) then warm; then
    a fresh server answering each of the page's calls alone, cold then warm."""
    result = Measure()
    for _ in range(runs):
        dash = Dashboard(lake, store)
        try:
            cold, calls = record_page(browser, dash, query)
            result.cold_page.append(cold)
            result.in_page = result.in_page or calls
            result.warm_page.append(record_page(browser, dash, query)[0])
        finally:
            dash.stop()
    paths = [c["path"] for c in result.in_page]
    for _ in range(runs):
        dash = Dashboard(lake, store)
        try:
            cold_calls, warm_calls = time_calls(dash, paths)
        finally:
            dash.stop()
        result.cold_calls.append(cold_calls)
        result.warm_calls.append(warm_calls)
    return result


def view_query(lake: Path, store: Path) -> str:
    """The dashboard's URL state for the lake's last 7 days with every panel filled: compare
    on, a funnel, and the top page (asked of the store before any server runs) as heatmap."""
    from analysis import query

    end = last_day(lake)
    first = (end - timedelta(days=6)).isoformat()
    pages = query.run_report("pages", {"from": first, "to": end.isoformat()},
                             lake.resolve().as_uri(), store=store, refresh=False).records()
    return urlencode({"range": "custom", "from": first, "to": end.isoformat(), "compare": "1",
                      "steps": "/,/pricing,conversion", "heatmap": pages[0]["page"]})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, help="a lake directory (default: generate one)")
    parser.add_argument("--events", type=int, default=200_000, help="events to generate without "
                        "--lake (bench/traffic.py, 30 days)")
    parser.add_argument("--store", type=Path, help="the store file (default: a new one in a "
                        "temporary folder, loaded before timing)")
    parser.add_argument("--runs", type=int, default=3, help="fresh servers per measure (median)")
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
    query = view_query(lake, store_path)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        results = {"store": measure(lake, store_path, args.runs, browser, query)}
        if not args.no_baseline:
            results["lake"] = measure(lake, None, 1, browser, query)
        browser.close()
    report(results)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def mark(seconds: float, target: float) -> str:
    return "ok" if seconds <= target else "OVER"


def report(results: dict[str, Measure]) -> None:
    run, base = results["store"], results.get("lake")
    print(f"\nthe page's {len(run.in_page)} API calls (as recorded from Chromium); seconds, median "
          f"of {len(run.cold_calls)} fresh servers; 'in page' = the first cold load, concurrent")
    print(f"{'call':26} {'alone cold':>10} {'warm':>7} {'target':>6} {'in page':>8} {'ended at':>9}"
          + (f" {'lake cold':>9} {'lake/store':>10}" if base else ""))
    seen: dict[str, int] = {}
    calls = {}
    for n, call in enumerate(run.in_page):
        name = label(call["path"], seen)
        cold = median([r[n] for r in run.cold_calls])
        warm = median([r[n] for r in run.warm_calls])
        calls[name] = cold
        line = (f"{name:26} {cold:10.3f} {warm:7.3f} {mark(cold, CALL_TARGET_S):>6} "
                f"{(call['end_ms'] - call['start_ms']) / 1000:8.3f} {call['end_ms'] / 1000:9.3f}")
        if base and n < len(base.in_page) and base.in_page[n]["path"] == call["path"]:
            lake_s = base.cold_calls[0][n]
            line += f" {lake_s:9.3f} {lake_s / cold:9.1f}x"
        print(line)
    last = sorted(run.in_page, key=lambda c: -c["end_ms"])[:5]
    seen = {}
    names = {id(c): label(c["path"], seen) for c in run.in_page}
    print("the paint waited longest on: " + ", ".join(
        f"{names[id(c)]} (ended {c['end_ms'] / 1000:.2f} s)" for c in last))
    cold_page, warm_page = median(run.cold_page), median(run.warm_page)
    print(f"\nwhole dashboard painted, cold (first load after the server started): {cold_page:.3f} s "
          f"{mark(cold_page, PAGE_TARGET_S)}  (runs: {', '.join(f'{x:.2f}' for x in run.cold_page)})")
    print(f"whole dashboard painted, warm (loaded again):                       {warm_page:.3f} s "
          f"{mark(warm_page, PAGE_TARGET_S)}  (runs: {', '.join(f'{x:.2f}' for x in run.warm_page)})")
    if base:
        print(f"lake directly (no store), cold: {base.cold_page[0]:.3f} s "
              f"({base.cold_page[0] / cold_page:.1f}x the store's)")
    print(json.dumps({"page_cold_s": round(cold_page, 3), "page_warm_s": round(warm_page, 3),
                      "slowest_call_s": round(max(calls.values()), 3),
                      "calls_cold_s": {k: round(v, 3) for k, v in calls.items()}}))


if __name__ == "__main__":
    main()
