"""A lake shaped like real traffic, generated fast enough for 10 million events on 2 cores.

Several sites, each with its own visitors (a user_key lives in one origin's localStorage) and
hundreds of pages of skewed popularity; tens of thousands of visitors of whom a few return
often; sessions of several page views (geometric, a third bounce) at daytime-heavy hours, some
running across midnight UTC; hundreds of referrer hosts (skewed, and direct visits), UTM-tagged
landings, dozens of user agents (and a few crawlers), the collector's audience fields (country,
browser, os, device, is_bot; members signed in after their first page), clicks, heartbeats,
page_leave with engaged time and scroll depth, custom events and conversions with props, and
about 0.3 % duplicate deliveries (SQS redelivery seconds to minutes later, sometimes on the
next day). tests/lakegen.py stays the small seeded
lake the unit tests reason about; this one is for benchmarks (bench/store.py, the dashboard's).

Rows are built by DuckDB (vectorised) and written by one partitioned COPY, each object then
named by the SHA-256 of its bytes like the batcher's:

    python bench/traffic.py --lake /work/benchdata/lake10m --events 10000000 --days 30 --compact
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logdig.lake_layout import day_of_folder, listed_days, object_key  # noqa: E402

SITES = ["shop.example.com", "blog.example.com", "docs.example.org", "www.example.net",
         "app.example.io"]
SITE_WEIGHTS = [0.4, 0.2, 0.2, 0.12, 0.08]
PAGES_PER_SITE = 700
VISITORS_PER_MILLION = 6000  # 60,000 visitors at 10 million events
REFERRER_HOSTS = 300
OS_NAMES = ["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64",
            "iPhone; CPU iPhone OS 17_5 like Mac OS X", "Linux; Android 14; Pixel 8",
            "iPad; CPU OS 17_5 like Mac OS X", "Linux; Android 13; SM-S911B", "X11; CrOS x86_64 14541.0.0"]
CUSTOM = ["add_to_cart", "search", "video_play", "signup_start", "download", "share"]
CRAWLERS = ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
            "+https://openai.com/gptbot)"]
BOT_SHARE = 0.03  # of visitors
MEMBER_SHARE = 0.05  # of visitors: signed in after their first page view
COUNTRIES = ["US", "DE", "GB", "FR", "IN", "BR", "CA", "NL", "JP", "ES", "IT", "PL", "SE", "AU",
             "MX", "KR", "TR", "ZA", "AR", "CH"]
EVENTS_PER_SESSION = 12.7  # measured mean of the shapes below, to size the session count


def user_agents() -> list[str]:
    """Dozens of user agents: Chrome, Firefox and Safari versions on eight platforms."""
    agents = []
    for n, os_name in enumerate(OS_NAMES):
        for version in (126 + n % 3, 128):
            agents.append(f"Mozilla/5.0 ({os_name}) AppleWebKit/537.36 (KHTML, like Gecko) "
                          f"Chrome/{version}.0.0.0 Safari/537.36")
        agents.append(f"Mozilla/5.0 ({os_name}; rv:12{n}.0) Gecko/20100101 Firefox/12{n}.0")
        agents.append(f"Mozilla/5.0 ({os_name}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                      f"Version/17.{n} Safari/605.1.15")
        agents.append(f"Mozilla/5.0 ({os_name}) AppleWebKit/537.36 (KHTML, like Gecko) "
                      f"Chrome/127.0.0.0 Safari/537.36 Edg/127.0.{n}.0")
    return agents


# Indexes are floor(u * n) (a CAST would round past the end). Skewed picks: floor(n * u^k)
# for a uniform u favours low numbers (k > 1), a Zipf-like shape without a table.
# hash(hash(seed, a, b) + c) / 2^64 is a uniform u in [0, 1).
SQL = """
CREATE OR REPLACE TEMP MACRO u(a, b, c) AS
  CAST(hash(hash({seed}, a, b) + c) AS DOUBLE) / 18446744073709551616.0;
CREATE OR REPLACE TEMP TABLE t_visitors AS
SELECT v,
  substr(md5('visitor' || $seed || v), 1, 20) AS user_key,
  CASE WHEN u(v, 0, 1) < $w1 THEN 0 WHEN u(v, 0, 1) < $w2 THEN 1 WHEN u(v, 0, 1) < $w3 THEN 2
    WHEN u(v, 0, 1) < $w4 THEN 3 ELSE 4 END AS site_no,
  CASE WHEN u(v, 0, 4) < $bot_share
    THEN len($agents) - $crawlers + CAST(floor(u(v, 0, 5) * $crawlers) AS INTEGER)
    ELSE CAST(floor(pow(u(v, 0, 2), 1.6) * (len($agents) - $crawlers)) AS INTEGER) END
    AS agent_no,
  list_extract($countries, 1 + CAST(floor(pow(u(v, 0, 6), 1.8) * len($countries)) AS INTEGER))
    AS country,
  CASE WHEN u(v, 0, 7) < $member_share THEN 'member-' || v END AS member,
  (ARRAY[390, 412, 768, 1280, 1440, 1536, 1920, 2560])[1 + CAST(floor(u(v, 0, 3) * 8) AS INTEGER)] AS width
FROM range($visitors) t(v);

CREATE OR REPLACE TEMP TABLE t_sessions AS
SELECT s, vis.*,
  TIMESTAMP '{start}' + to_days(CAST(floor(u(s, 1, 1) * $days) AS INTEGER))
    -- hours weighted toward the (UTC) afternoon: a day-shaped curve, not flat
    + to_seconds(CAST(86400 * (0.5 + 0.49 * sin(2 * pi() * (u(s, 1, 2) - 0.25)) * pow(u(s, 1, 3), 0.3))
      AS BIGINT)) AS start_ts,
  LEAST(1 + CAST(floor(-ln(1 - u(s, 1, 4)) * 2.6) AS INTEGER), 40) AS n_pages,
  CASE WHEN u(s, 1, 5) < 0.45 THEN NULL ELSE CAST(floor(pow(u(s, 1, 6), 2.5) * $ref_hosts) AS INTEGER)
    END AS ref_no,
  CASE WHEN u(s, 1, 7) < 0.15 THEN CAST(floor(u(s, 1, 8) * 360) AS INTEGER) END AS utm_no,
  u(s, 1, 9) < 0.04 AS converts
FROM range($sessions) t(s)
JOIN t_visitors vis ON vis.v = CAST(floor(pow(u(s, 1, 10), 1.6) * $visitors) AS BIGINT);

CREATE OR REPLACE TEMP TABLE t_pages AS
SELECT *, start_ts + to_milliseconds(CAST(sum(dwell_ms) OVER (PARTITION BY s ORDER BY k) - dwell_ms
    AS BIGINT)) AS page_ts
FROM (
  SELECT *, 4000 + CAST(pow(u(s, k, 11), 2) * 280000 AS BIGINT) AS dwell_ms,
    CAST(floor(pow(u(s, k, 12), 2.4) * $pages_per_site) AS INTEGER) AS page_no
  FROM (SELECT *, UNNEST(range(n_pages)) AS k FROM t_sessions)
);

CREATE OR REPLACE TEMP TABLE t_events AS
WITH slots AS (
  -- j: 0 page_view, 1 page_leave, 2 heartbeat, 3 custom, 4.. clicks
  SELECT *, UNNEST(range(4 + CAST(floor(pow(u(s, k, 13), 1.5) * 4) AS INTEGER))) AS j FROM t_pages
), kept AS (
  SELECT * FROM slots
  WHERE j < 2 OR (j = 2 AND dwell_ms > 30000) OR (j = 3 AND u(s, k, 14) < 0.08) OR j >= 4
), shaped AS (
  SELECT *,
    CASE j WHEN 0 THEN 'page_view' WHEN 1 THEN 'page_leave' WHEN 2 THEN 'heartbeat'
      WHEN 3 THEN list_extract($custom, 1 + CAST(floor(u(s, k, 15) * len($custom)) AS INTEGER))
      ELSE 'click' END AS event_type,
    page_ts + to_milliseconds(CASE j WHEN 0 THEN 0 WHEN 1 THEN dwell_ms - 1 WHEN 2 THEN 15000
      ELSE CAST(u(s, k * 16 + j, 16) * (dwell_ms - 2) AS BIGINT) + 1 END) AS ts
  FROM kept
  UNION ALL
  SELECT *, 99 AS j, 'conversion', page_ts + to_milliseconds(dwell_ms - 500) FROM t_pages
  WHERE converts AND k = n_pages - 1
)
SELECT s, k, j, event_type, user_key, agent_no, country, member, width, ts,
  md5('event' || $seed || $run || s || '-' || k || '-' || j || event_type) AS id_hex,
  'https://' || list_extract($sites, site_no + 1) ||
    CASE WHEN page_no = 0 THEN '/' ELSE '/' || list_extract(['products', 'blog', 'docs', 'help',
      'pricing', 'about', 'news'], 1 + page_no % 7) || '/item-' || page_no END ||
    CASE WHEN k = 0 AND utm_no IS NOT NULL THEN '?utm_source=' || (utm_no % 12) ELSE '' END ||
    CASE WHEN u(s, k, 17) < 0.1 THEN '#section-' || (page_no % 5) ELSE '' END AS current_page,
  CASE WHEN k = 0 AND j = 0 AND ref_no IS NOT NULL THEN
    'https://' || CASE WHEN ref_no < 3 THEN (ARRAY['www.google.com', 'www.bing.com', 't.co'])[ref_no + 1]
      ELSE 'ref' || ref_no || '.example' || (ref_no % 7) || '.com' END || '/path/' || (s % 97)
    END AS referrer,
  CASE WHEN k = 0 AND j = 0 AND utm_no IS NOT NULL THEN ['src' || (utm_no % 12),
    (ARRAY['email', 'social', 'cpc', 'display', 'affiliate'])[1 + utm_no % 5], 'camp' || (utm_no % 30)]
    END AS utm,
  CASE WHEN j >= 4 THEN round(u(s, k * 16 + j, 18) * width, 1) END AS x,
  CASE WHEN j >= 4 THEN round(pow(u(s, k * 16 + j, 19), 1.5) * 4000, 1) END AS y,
  CASE WHEN j IN (1, 2) THEN CAST(u(s, k, 20) * dwell_ms AS BIGINT) END AS engaged_milli_sec,
  CASE WHEN j IN (1, 2) THEN dwell_ms END AS spent_milli_sec,
  -- page_leave: the deepest scroll, deeper the longer the visit stayed
  CASE WHEN j = 1 THEN LEAST(100, CAST(10 + u(s, k, 24) * 40 + dwell_ms / 4000 AS INTEGER))
    END AS scroll_depth,
  CASE WHEN event_type = 'conversion' THEN json_object('value', (s % 200) + 0.5,
    'currency', 'EUR', 'plan', (ARRAY['basic', 'pro', 'team'])[1 + s % 3]) END AS props,
  -- network delay 20-800 ms; about 0.3 % are delivered twice, seconds to minutes apart
  ts + to_milliseconds(20 + CAST(u(s, k * 16 + j, 21) * 780 AS BIGINT)) AS received_ts,
  u(s, k * 16 + j, 22) < 0.003 AS redelivered
FROM shaped;

CREATE OR REPLACE TEMP TABLE t_lines AS
WITH deliveries AS (
  SELECT *, received_ts AS arrived FROM t_events
  UNION ALL
  SELECT *, received_ts + to_seconds(CAST(2 + pow(u(s, k * 16 + j, 23), 3) * 900 AS BIGINT))
  FROM t_events WHERE redelivered
)
SELECT strftime(arrived, '%Y-%m-%d') AS dt, arrived,
  regexp_replace(to_json({{
    v: 1,
    event_id: substr(id_hex, 1, 8) || '-' || substr(id_hex, 9, 4) || '-4' || substr(id_hex, 14, 3)
      || '-a' || substr(id_hex, 18, 3) || '-' || substr(id_hex, 21, 12),
    event_type: event_type,
    timestamp: strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ'),
    token: 'tok-' || substr(current_page, 9, 4), user_key: user_key,
    session_id: substr(md5('session' || s), 1, 16),
    current_page: current_page, referrer: referrer,
    x: x, y: y, spent_milli_sec: spent_milli_sec, engaged_milli_sec: engaged_milli_sec,
    scroll_depth: scroll_depth,
    load_count: 1 + k, user_agent: list_extract($agents, agent_no + 1),
    user_id: CASE WHEN k > 0 THEN member END, country: country,
    browser: list_extract($browsers, agent_no + 1), os: list_extract($oses, agent_no + 1),
    device: list_extract($devices, agent_no + 1), is_bot: list_extract($bots, agent_no + 1),
    viewport_width: width, viewport_height: 800, document_width: width,
    document_height: 2000 + (s % 5) * 600, screen_width: width, screen_height: 900,
    utm_source: utm[1], utm_medium: utm[2], utm_campaign: utm[3],
    target_tag: CASE WHEN j >= 4 THEN (ARRAY['a', 'button', 'img', 'div'])[1 + j % 4] END,
    outbound: CASE WHEN j >= 4 THEN j % 9 = 0 END,
    page_title: 'Page ' || substr(current_page, 9, 24), language: 'en-US',
    props: props,
    received_at: strftime(arrived, '%Y-%m-%dT%H:%M:%S.%gZ'),
    client_ip: '198.51.100.0'
  }}), ',"[a-z_]+":null', '', 'g') AS line
FROM deliveries;
"""


def _params(events: int, days: int, seed: int, run: str = "") -> dict:
    sessions = max(1, round(events / EVENTS_PER_SESSION))
    cumulative = [sum(SITE_WEIGHTS[: n + 1]) for n in range(4)]
    return {"seed": seed, "run": run, "sessions": sessions, "days": days,
            "visitors": max(50, events * VISITORS_PER_MILLION // 1_000_000),
            "w1": cumulative[0], "w2": cumulative[1], "w3": cumulative[2], "w4": cumulative[3],
            "ref_hosts": REFERRER_HOSTS, "pages_per_site": PAGES_PER_SITE,
            "custom": CUSTOM, "sites": SITES, **_agents(), "crawlers": len(CRAWLERS),
            "bot_share": BOT_SHARE, "member_share": MEMBER_SHARE, "countries": COUNTRIES}


def _agents() -> dict:
    """The user agents (browsers, then crawlers) and the audience fields the collector would
    give each (logdig.audience: the same parser)."""
    from logdig import audience

    agents = user_agents() + CRAWLERS
    parsed = [audience.agent(a) for a in agents]
    return {"agents": agents, "browsers": [p.browser for p in parsed],
            "oses": [p.os for p in parsed], "devices": [p.device for p in parsed],
            "bots": [p.is_bot for p in parsed]}


def _publish(tmp: Path, lake_root: Path, prefix: str) -> int:
    """Each written part renamed into <prefix>dt=.../<sha256>.jsonl.gz, as the batcher names it."""
    count = 0
    for part in sorted(tmp.rglob("*.gz")):
        dt = next(filter(None, map(day_of_folder, part.parts)))
        target = lake_root / object_key(prefix, dt, part.read_bytes())
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        count += 1
    return count


def generate(lake_root: Path, events: int = 100_000, days: int = 30, start: str = "2026-10-01",
             seed: int = 1, object_events: int = 10_000, prefix: str = "events/",
             threads: int | None = None, run: str = "") -> dict:
    """About `events` events over `days` days from `start`, in objects of ~object_events lines.
    The same seed gives the same visitors; `run` makes event ids new (more traffic from them)."""
    import duckdb

    # A bounded memory limit: the machine is shared; DuckDB spills the sorts to disk beyond it.
    con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1, "memory_limit": "4GB"})
    params = _params(events, days, seed, run)
    for statement in filter(str.strip, SQL.format(start=start, seed=int(seed)).split(";\n")):
        con.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
    tmp = lake_root / ".generating"
    shutil.rmtree(tmp, ignore_errors=True)
    lake_root.mkdir(parents=True, exist_ok=True)
    # One object per ~object_events lines of a day, in received order (the batcher's shape).
    con.execute(f"""COPY (
      SELECT dt, CAST(ROW_NUMBER() OVER (PARTITION BY dt ORDER BY arrived) // {object_events} AS INTEGER)
        AS obj, line FROM t_lines ORDER BY dt, arrived
    ) TO '{tmp}' (FORMAT csv, HEADER false, DELIMITER '\x01', QUOTE '',
      COMPRESSION gzip, PARTITION_BY (dt, obj), FILE_EXTENSION 'jsonl.gz')""")
    objects = _publish(tmp, lake_root, prefix)
    shutil.rmtree(tmp, ignore_errors=True)
    lines, unique = con.execute("SELECT (SELECT COUNT(*) FROM t_lines), COUNT(*) FROM t_events"
                                ).fetchone()
    return {"events": unique, "lines": lines, "objects": objects, "days": days,
            "visitors": params["visitors"], "sessions": params["sessions"]}


def compact_all(lake_root: Path, prefix: str = "events/") -> int:
    from analysis import compact, lake_files

    lake = lake_files.open_lake(lake_root.as_uri(), prefix)
    days = listed_days(lake.lake, prefix)
    for dt in days:
        compact.compact_day(lake, dt)
    return len(days)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, required=True, help="lake root directory")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--start", default="2026-10-01")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compact", action="store_true", help="also write each day's Parquet")
    args = parser.parse_args(argv)
    if args.events < 1 or args.days < 1:
        parser.error(f"--events {args.events} and --days {args.days} must be positive")
    started = time.perf_counter()
    summary = generate(args.lake, args.events, args.days, args.start, args.seed)
    if args.compact:
        summary["compacted_days"] = compact_all(args.lake)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
