"""Bench: what the audience enrichment (country, browser, os, device, is_bot) adds per event,
in the collector and, for comparison, in the batcher, on real-world user agents.

    .venv/bin/python bench/audience.py                  # ~1 minute
    .venv/bin/python bench/audience.py --requests 4000 --per-request 20

The user agents are fake-useragent's real-world table (browsers.jsonl: user agents seen on the
web with their share of traffic); each simulated browser is drawn by that share, so popular
agents repeat as they do in real traffic. Every figure is CPU time of this process (the
collector's flush thread included), and every ratio divides by a baseline measured in the same
run: the collector request path with the enrichment switched off, and the batcher's drain of the
same events.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from config import load_settings  # noqa: E402
from logdig import audience  # noqa: E402
from logdig.drain import DrainOptions, drain  # noqa: E402
from logdig.lake import DirLake  # noqa: E402
from logdig.local_queue import LocalQueue  # noqa: E402

# Public addresses of several registries' ranges (documentation ranges have no country).
ADDRESSES = ["81.2.69.160", "8.8.8.8", "1.1.1.1", "2a00:1450:4001::1", "193.0.6.139",
             "2001:4860:4860::8888", "200.160.2.3", "202.12.29.20", "41.0.0.1", "5.255.255.5"]


def corpus() -> tuple[list[str], list[float], list[str]]:
    """(user agents, shares, device labels) from fake-useragent's real-world table."""
    import fake_useragent

    path = Path(fake_useragent.__file__).parent / "data" / "browsers.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return ([r["useragent"] for r in rows], [float(r["percent"]) for r in rows],
            [r.get("type", "") for r in rows])


def _body(rng: random.Random, agent: str, n: int, per_request: int) -> dict:
    key = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                              k=20))
    page = f"https://shop.example.com/p/{n % 50}"
    events = [{"event_type": "click" if i else "page_view", "user_key": key, "session_id": key,
               "timestamp": "2026-11-23T10:00:00.000Z", "current_page": page, "x": i, "y": i * 3,
               "link": page + "#buy", "user_agent": agent, "viewport_width": 1280,
               "viewport_height": 800, "language": "en-GB", "page_title": "Product"}
              for i in range(per_request)]
    return {"events": events}


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def collector_round(bodies: list[tuple[dict, str]], enrich: bool,
                    work: Path) -> tuple[float, float, LocalQueue]:
    """(CPU seconds to accept every body through the collector (test client, local queue),
    CPU seconds spent inside the enrichment, the queue)."""
    queue = LocalQueue(work / f"queue-{enrich}-{time.monotonic_ns()}.sqlite3")
    app = create_app(load_settings({}, data_dir=work, flush_wait_ms=0), queue)
    client = app.test_client()
    real = audience.enrich
    inside = [0.0]

    def timed(event, *args):
        start = time.thread_time()
        try:
            return real(event, *args)
        finally:
            inside[0] += time.thread_time() - start

    def post_all():
        for body, ip in bodies:
            reply = client.post("/v1/logs", json=body, environ_base={"REMOTE_ADDR": ip})
            assert reply.status_code == 202, reply.data

    with mock.patch.object(audience, "enrich", timed if enrich else (lambda event, *args: event)):
        return _cpu(post_all), inside[0], queue


def forget_agents() -> None:
    """A fresh worker: no cache (ours, crawlerdetect's, ua-parser's) has seen any agent."""
    audience.agent.cache_clear()
    audience._crawlers.cache_clear()
    audience._ua_parser.cache_clear()


def lookups(agents: list[str]) -> dict[str, float]:
    """µs per lookup: country, an agent seen before, and a new agent split into its parts."""
    sample = agents[:2000]
    crawlers = audience._crawlers()
    out = {"country": _cpu(lambda: [audience.country(ip) for ip in ADDRESSES * 5000])
           / (len(ADDRESSES) * 5000)}
    # Strings no cache (ours, ua-parser's, crawlerdetect's) has seen: a real first parse.
    fresh = [[f"{a} bench/{n}" for a in sample] for n in range(3)]
    out["agent, new"] = _cpu(lambda: [audience.agent(a) for a in fresh[0]]) / len(sample)
    out["agent, seen before"] = _cpu(lambda: [audience.agent(a) for a in fresh[0] * 20]) \
        / (len(sample) * 20)
    out["  ua-parser parse"] = _cpu(lambda: [audience._ua_parser().parse(a) for a in fresh[1]]) / len(sample)
    out["  crawlerdetect"] = _cpu(lambda: [crawlers.is_crawler(a) for a in fresh[2]]) / len(sample)
    return {k: v * 1e6 for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per round (3000)")
    parser.add_argument("--per-request", type=int, default=20, help="events per request (20)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # no request log lines in the measurement
    for name in ("requests", "per_request"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)} must be at least 1")

    agents, shares, labels = corpus()
    rng = random.Random(args.seed)
    drawn = rng.choices(range(len(agents)), weights=shares, k=args.requests)
    bodies = [(_body(rng, agents[i], n, args.per_request), rng.choice(ADDRESSES))
              for n, i in enumerate(drawn)]
    events = args.requests * args.per_request
    distinct = len(set(drawn))
    print(f"corpus: {len(agents):,} real-world user agents (fake-useragent browsers.jsonl); "
          f"{args.requests:,} browsers drawn by share ({distinct:,} distinct agents), "
          f"{args.per_request} events per request, {events:,} events per round")

    labelled = [(a, t) for a, t in zip(agents, labels, strict=True) if t]
    agree = sum(audience.agent(a).device == t for a, t in labelled)
    print(f"device class agrees with the corpus's own label (mobile/desktop/tablet) for "
          f"{agree:,} of its {len(labelled):,} labelled agents")
    print("\nper lookup (µs of CPU):")
    for name, us in lookups(agents).items():
        print(f"  {name:<20} {us:8.2f}")

    with tempfile.TemporaryDirectory(prefix="logdig-bench-audience-") as tmp:
        work = Path(tmp)
        collector_round(bodies[:200], True, work)  # warm-up: imports, Flask, SQLite
        forget_agents()
        _, cold_in, _ = collector_round(bodies, True, work)  # a fresh worker: agents new once
        rounds = [collector_round(bodies, enrich, work) for _ in range(3) for enrich in (False, True)]
        base_s = min(r[0] for r in rounds[0::2])  # the least disturbed round of each
        with_s = min(r[0] for r in rounds[1::2])
        warm_in = min(r[1] for r in rounds[1::2])
        queue = rounds[0][2]
        base_drain = _cpu(lambda: drain(queue, DirLake(work / "lake"),
                                        DrainOptions(min_messages=1, max_wait_seconds=0,
                                                     wait_seconds=0)))
    forget_agents()
    stream = [b["events"][0]["user_agent"] for b, _ in bodies for _ in range(args.per_request)]
    batch_cold = _cpu(lambda: [audience.agent(a) for a in stream])
    batch_warm = _cpu(lambda: [audience.agent(a) for a in stream])

    def per(seconds: float) -> float:
        return seconds / events * 1e6

    print("\nper event (µs of CPU); ratio = (path + enrichment) / path, measured in this run:")
    print(f"  collector request path, without enrichment  {per(base_s):8.2f}")
    print(f"  collector request path, with it (check)     {per(with_s):8.2f}   "
          f"{with_s / base_s:.3f}")
    for label, seconds in (("fresh cache", cold_in), ("warm cache", warm_in)):
        print(f"  + enrichment in the collector, {label:<12} {per(seconds):8.2f}   "
              f"{(base_s + seconds) / base_s:.3f}")
    print(f"  batcher (drain) path, without enrichment    {per(base_drain):8.2f}")
    for label, seconds in (("fresh cache", batch_cold), ("warm cache", batch_warm)):
        print(f"  + agent fields in the batcher, {label:<12} {per(seconds):8.2f}   "
              f"{(base_drain + seconds) / base_drain:.3f}")


if __name__ == "__main__":
    main()
