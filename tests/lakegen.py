"""A seeded lake generator: realistic sessions written in the batcher's exact layout.

Sessions of returning users (several sessions per user_key), SPA navigation across pages with
query strings and fragments, clicks with coordinates on documents of several widths, heartbeats,
page_leave with engaged time, conversions with props of several JSON types, UTM-tagged landings
and referrers, sessions that run across midnight UTC, and duplicate deliveries (identical copies,
and client retries received a few seconds later, sometimes on the next day). Rows are built by
DuckDB (vectorised, so 10 million events take minutes, not hours); objects are written with the
core's own lake_layout, so keys and bytes are what the batcher writes.

    python -m tests.lakegen --events 100000 --lake /tmp/lake
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from logdig.lake import DirLake
from logdig.lake_layout import dated, group_by_date, object_bytes, object_key, split_by_size

EVENTS_PER_SESSION = 12  # measured average of the shapes below, to size the session count
PAGES = ["/", "/products", "/products/1", "/products/2", "/products/3", "/cart", "/checkout",
         "/thanks", "/blog/hello", "/blog/lake", "/pricing", "/about"]
REFERRERS = ["", "", "https://www.google.com/search?q=logdig", "https://news.ycombinator.com/",
             "https://t.co/x1", "http://User@Example.org:8080/links?a=1", "android-app://com.slack/"]
UTM = [None, None, None, ("newsletter", "email", "nov"), ("twitter", "social", "launch")]
WIDTHS = [390, 1280, 1920]
# (user agent, browser, os, device, is_bot) as the collector enriches them; one per user_key.
AGENTS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", "Chrome", "Windows", "desktop", False),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS", "mobile", False),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome Mobile", "Android", "mobile", False),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15", "Safari", "Mac OS X", "desktop", False),
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.0 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS", "tablet", False),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
     "Firefox", "Ubuntu", "desktop", False),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     "Googlebot", "Other", "bot", True),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/131.0.0.0 Safari/537.36", "HeadlessChrome", "Linux", "bot", True),
]
COUNTRIES = ["US", "GB", "DE", "FR", "JP", None]  # None: an IP with no country

GENERATE_SQL = """
CREATE OR REPLACE TEMP TABLE gen_sessions AS
SELECT *,
  'U' || lpad(CAST(u AS VARCHAR), 19, '0') AS user_key,
  CAST(hash($seed, u, 17) % {n_agents} AS INTEGER) AS agent_no,
  CAST(hash($seed, u, 18) % {n_countries} AS INTEGER) AS country_no,
  -- a quarter of the browsers sign in (from their second page on); members have several
  CASE WHEN hash($seed, u, 19) % 4 = 0
    THEN 'member-' || CAST(hash($seed, u, 20) % greatest($users // 8, 1) AS VARCHAR) END AS member
FROM (
SELECT s AS sid, hash($seed, s, 1) % $users AS u,
  TIMESTAMP '{start}' + to_seconds(CAST(hash($seed, s, 2) % ($days * 86400) AS BIGINT)) AS start_ts,
  1 + CAST(hash($seed, s, 3) % 5 AS INTEGER) AS n_pages,
  10 + CAST(hash($seed, s, 4) % 290 AS INTEGER) AS step_s,
  CAST(hash($seed, s, 5) % {n_referrers} AS INTEGER) AS referrer_no,
  CAST(hash($seed, s, 6) % {n_utm} AS INTEGER) AS utm_no,
  hash($seed, s, 7) % 10 = 0 AS converts,
  CAST(hash($seed, s, 8) % {n_widths} AS INTEGER) AS width_no
FROM range($sessions) t(s));

CREATE OR REPLACE TEMP TABLE gen_rows AS
WITH pages AS (
  SELECT *, UNNEST(range(n_pages)) AS k FROM gen_sessions
), slots AS (
  -- j: 0 page_view, 1 heartbeat, 2 page_leave, 3.. clicks
  SELECT *, UNNEST(range(3 + CAST(hash($seed, sid, k, 9) % 3 AS INTEGER))) AS j FROM pages
), shaped AS (
  SELECT *,
    CASE j WHEN 0 THEN 'page_view' WHEN 1 THEN 'heartbeat' WHEN 2 THEN 'page_leave'
      ELSE 'click' END AS event_type,
    start_ts + to_seconds(k * step_s) + to_milliseconds(CASE j WHEN 0 THEN 0
      WHEN 1 THEN step_s * 500 WHEN 2 THEN step_s * 1000 - 1 ELSE (j - 2) * 997 END) AS ts,
    list_extract($pages, 1 + CAST(hash($seed, sid, k, 10) % len($pages) AS INTEGER)) AS path
  FROM slots
  UNION ALL
  SELECT *, 0 AS k, 99 AS j, 'conversion' AS event_type,
    start_ts + to_seconds((n_pages - 1) * step_s + 2) AS ts, '/thanks' AS path
  FROM gen_sessions WHERE converts
)
SELECT
  'e' || sid || '-' || k || '-' || j AS event_id,
  event_type, user_key, sid, k, j, ts,
  'https://shop.example.com' || path ||
    CASE WHEN k = 0 AND utm_no >= 3 THEN '?utm_source=x' ELSE '' END ||
    CASE WHEN hash($seed, sid, k, 11) % 4 = 0 THEN '#top' ELSE '' END AS current_page,
  CASE WHEN k = 0 AND j = 0 THEN list_extract($referrers, referrer_no + 1) END AS referrer,
  CASE WHEN k = 0 AND j = 0 AND utm_no >= 3 THEN list_extract($utm, utm_no - 2) END AS utm,
  list_extract($widths, width_no + 1) AS document_width,
  CASE WHEN event_type = 'click' THEN CAST(hash($seed, sid, k, j, 12) % list_extract($widths, width_no + 1)
    AS DOUBLE) + 0.5 END AS x,
  CASE WHEN event_type = 'click' THEN CAST(hash($seed, sid, k, j, 13) % 3000 AS DOUBLE) END AS y,
  CASE WHEN j IN (1, 2) THEN CAST(hash($seed, sid, k, 14) % (step_s * 1000) AS BIGINT) END
    AS engaged_milli_sec,
  CASE WHEN j IN (1, 2) THEN CAST(step_s * 1000 AS BIGINT) END AS spent_milli_sec,
  CASE WHEN j = 2 THEN CAST(hash($seed, sid, k, 21) % 101 AS INTEGER) END AS scroll_depth,
  CASE WHEN k > 0 THEN member END AS user_id,
  list_extract($agents, agent_no + 1) AS agent,
  list_extract($countries, country_no + 1) AS country
FROM shaped;

CREATE OR REPLACE TEMP TABLE gen_deliveries AS
SELECT *, ts AS received_ts FROM gen_rows
UNION ALL  -- redelivered copies: the same event, the same received_at
SELECT *, ts FROM gen_rows WHERE hash($seed, event_id, 15) % 1000 < $dup_permille
UNION ALL  -- client retries: the same event_id received a few seconds later
SELECT *, ts + to_seconds(3) FROM gen_rows WHERE hash($seed, event_id, 16) % 1000 < $dup_permille;

CREATE OR REPLACE TEMP TABLE gen_lines AS
SELECT strftime(received_ts, '%Y-%m-%d') AS dt, received_ts,
  regexp_replace(to_json({{
    v: 1, event_id: event_id, event_type: event_type,
    timestamp: strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ'),
    token: 'site-token', user_key: user_key, session_id: 's' || sid,
    current_page: current_page, referrer: referrer,
    x: x, y: y, spent_milli_sec: spent_milli_sec, engaged_milli_sec: engaged_milli_sec,
    load_count: 1, user_agent: agent[1],
    viewport_width: document_width, viewport_height: 800,
    document_width: document_width, document_height: 3000,
    screen_width: document_width, screen_height: 900,
    utm_source: utm[1], utm_medium: utm[2], utm_campaign: utm[3],
    target_tag: CASE WHEN event_type = 'click' THEN 'a' END,
    outbound: CASE WHEN event_type = 'click' THEN false END,
    page_title: 'Shop', language: 'en',
    props: CASE WHEN event_type = 'conversion' THEN json_object('value', (sid % 200) + 0.5,
      'currency', 'EUR', 'gift', sid % 3 = 0) END,
    user_id: user_id, scroll_depth: scroll_depth, is_bot: agent[5] = 'true',
    received_at: strftime(received_ts, '%Y-%m-%dT%H:%M:%S.%gZ'),
    client_ip: '192.0.2.0', country: country, browser: agent[2], os: agent[3], device: agent[4]
  }}), ',"[a-z_]+":null', '', 'g') AS line
FROM gen_deliveries;
"""


def _sql_params(events: int, seed: int, days: int, dup_permille: int) -> dict:
    sessions = max(1, round(events / EVENTS_PER_SESSION))
    return {
        "seed": seed, "sessions": sessions, "users": max(1, sessions // 3), "days": days,
        "dup_permille": dup_permille, "pages": PAGES, "referrers": REFERRERS,
        "utm": [list(u) for u in UTM if u], "widths": WIDTHS,
        "agents": [[str(v).lower() if isinstance(v, bool) else v for v in a] for a in AGENTS],
        "countries": COUNTRIES,
    }


def write_lines(lake_root: Path, dt: str, lines: list[str], prefix: str = "events/",
                max_object_bytes: int = 64 * 1024 * 1024) -> list[str]:
    """One day's NDJSON lines as the batcher writes them; returns the object keys."""
    lake = DirLake(lake_root)
    keys = []
    for run in split_by_size(lines, max_object_bytes):
        data = object_bytes(run)
        keys.append(object_key(prefix, dt, data))
        lake.put(keys[-1], data)
    return keys


def write_events(lake_root: Path, events: list[dict], prefix: str = "events/",
                 max_object_bytes: int = 64 * 1024 * 1024) -> list[str]:
    """Hand-made enriched events into the lake, partitioned by the date of received_at."""
    pairs = [(json.dumps(e, separators=(",", ":")), e) for e in events]
    keys = []
    for dt, lines in sorted(group_by_date(dated(pairs)).items()):
        keys += write_lines(lake_root, dt, lines, prefix, max_object_bytes)
    return keys


def generate(lake_root: Path, events: int = 20_000, seed: int = 7, start: str = "2026-11-20",
             days: int = 3, dup_permille: int = 20, prefix: str = "events/",
             max_object_bytes: int = 64 * 1024 * 1024) -> dict:
    """About `events` events (plus duplicate deliveries) over `days` days from `start`."""
    import duckdb

    con = duckdb.connect()
    sql = GENERATE_SQL.format(start=start, n_referrers=len(REFERRERS), n_utm=len(UTM),
                              n_widths=len(WIDTHS), n_agents=len(AGENTS),
                              n_countries=len(COUNTRIES))
    params = _sql_params(events, seed, days, dup_permille)
    for statement in filter(str.strip, sql.split(";\n")):
        used = {k: v for k, v in params.items() if f"${k}" in statement}
        con.execute(statement, used)
    lines_total, objects = 0, 0
    for (dt,) in con.execute("SELECT DISTINCT dt FROM gen_lines ORDER BY dt").fetchall():
        query = "SELECT line FROM gen_lines WHERE dt = ? ORDER BY received_ts, line"
        lines = con.sql(query, params=[dt]).to_arrow_table().column(0).to_pylist()
        objects += len(write_lines(lake_root, dt, lines, prefix, max_object_bytes))
        lines_total += len(lines)
    unique = con.execute("SELECT COUNT(*) FROM gen_rows").fetchone()[0]
    return {"lines": lines_total, "events": unique, "objects": objects}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, required=True, help="lake root directory")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2026-11-20")
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(generate(args.lake, args.events, args.seed, args.start, args.days)))


if __name__ == "__main__":
    main()
