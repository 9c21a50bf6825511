"""The reports, each defined once as SQL over the view `lake_events`, rendered per dialect.

Every report starts from the same two steps: keep the asked `dt` partitions and one delivery per
event_id (the earliest received_at), then work in epoch milliseconds of received_at. Sessions are
rebuilt per user_key with a 30-minute inactivity gap; the client's session_id is not trusted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from analysis.dialects import Dialect, dialect
from logdig.events import EVENT_TYPE_RE

SOURCE = "lake_events"
SESSION_GAP_MS = 30 * 60 * 1000
BUCKETS = {"5min": 300, "15min": 900, "hour": 3600, "day": 86400}
# URL without query string and fragment; its path; a referrer's host (no userinfo, no port).
PAGE_RE = "^([^?#]*)"
PATH_RE = "^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*([^?#]*)"
HOST_RE = "^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/?#:]*)"
SITE_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class ReportError(ValueError):
    """A report option is missing or wrong; the message names it."""


def prepared_columns(d: Dialect) -> list[tuple[str, str]]:
    """(name, SQL over one lake row) of every column `unique_events` offers the report bodies.
    The query store computes exactly these once at load (analysis/store.py), so a column added
    here reaches the lake-direct path and the store alike (the store rebuilds when this changes).
    """
    kept = ("event_id", "event_type", "user_key", "referrer", "x", "y", "engaged_milli_sec",
            "document_width", "utm_source", "utm_medium", "utm_campaign")
    return [(c, c) for c in kept] + [
        ("ts", d.epoch_ms("received_at")),
        ("page", d.extract("current_page", PAGE_RE)),
        ("path", d.extract("current_page", PATH_RE)),
        ("site", f"lower({d.extract('current_page', HOST_RE)})"),
    ]


def _site_filter(d: Dialect, opts: dict, column: str) -> str:
    return f" AND {column} = {d.param('site', opts['site'])}" if opts.get("site") else ""


def _events(d: Dialect, opts: dict, source: str) -> str:
    store = getattr(d, "store", None)
    if store is not None:  # the query store's prepared table (analysis/store.py)
        return store.events(d, opts)
    columns = ",\n    ".join(f"{sql} AS {name}" if sql != name else name
                              for name, sql in prepared_columns(d))
    site = dict(prepared_columns(d))["site"]
    return f"""deliveries AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY received_at) AS delivery
  FROM {source}
  WHERE dt BETWEEN {d.param("from", opts["from"])} AND {d.param("to", opts["to"])}
),
unique_events AS (
  SELECT {columns}
  FROM deliveries
  WHERE delivery = 1{_site_filter(d, opts, site)}
)"""


def _sessions(d: Dialect) -> str:
    store = getattr(d, "store", None)
    if store is not None:  # session numbers precomputed at load, except where they cannot apply
        return store.sessions(d)
    order = "ORDER BY ts, event_id"
    return f"""marked AS (
  SELECT *,
    CASE WHEN ts - LAG(ts) OVER (PARTITION BY user_key {order}) <= {SESSION_GAP_MS}
      THEN 0 ELSE 1 END AS new_session
  FROM unique_events
  WHERE user_key IS NOT NULL
),
numbered AS (
  SELECT *,
    SUM(new_session) OVER (PARTITION BY user_key {order}
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_no
  FROM marked
),
sessions AS (
  SELECT user_key, session_no, MIN(ts) AS start_ms, MAX(ts) AS end_ms,
    SUM(CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END) AS page_views,
    SUM(CASE WHEN event_type = 'conversion' THEN 1 ELSE 0 END) AS conversions
  FROM numbered
  GROUP BY user_key, session_no
)"""


def _ratio(numerator: str, denominator: str, digits: int) -> str:
    return f"ROUND(CAST({numerator} AS DOUBLE) / NULLIF({denominator}, 0), {digits})"


def traffic(d: Dialect, opts: dict) -> str:
    step = opts["bucket_seconds"]
    days = d.series(
        d.day_epoch(d.param("from", opts["from"])), d.day_epoch(d.param("to", opts["to"])), "86400",
        "day_s",
    )
    # Days x offsets rather than one long sequence: Athena caps a sequence at 10000 entries.
    offsets = d.series("0", f"86400 - {d.param('bucket_seconds', step)}",
                       d.param("bucket_seconds", step), "offset_s")
    return f"""buckets AS (
  SELECT days.day_s + offsets.offset_s AS bucket_s
  FROM {days} days
  CROSS JOIN {offsets} offsets
),
counts AS (
  SELECT ts - ts % ({d.param("bucket_seconds", step)} * 1000) AS bucket_ms,
    COUNT(*) AS events,
    SUM(CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END) AS page_views
  FROM unique_events
  GROUP BY 1
)
SELECT {d.iso_seconds("b.bucket_s")} AS bucket_start,
  COALESCE(c.events, 0) AS events,
  COALESCE(c.page_views, 0) AS page_views
FROM buckets b
LEFT JOIN counts c ON c.bucket_ms = b.bucket_s * 1000
ORDER BY b.bucket_s"""


def pages(d: Dialect, opts: dict) -> str:
    return """views AS (
  SELECT *, CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END AS is_view
  FROM unique_events
  WHERE page <> ''
)
SELECT page,
  SUM(is_view) AS page_views,
  COUNT(DISTINCT CASE WHEN is_view = 1 THEN user_key END) AS visitors,
  ROUND(AVG(CASE WHEN event_type = 'page_leave' THEN CAST(engaged_milli_sec AS DOUBLE) END), 1)
    AS avg_engaged_ms
FROM views
GROUP BY page
HAVING SUM(is_view) > 0
ORDER BY page_views DESC, page"""


def referrers(d: Dialect, opts: dict) -> str:
    def label(column: str) -> str:
        return f"COALESCE(NULLIF({column}, ''), '(none)')"

    host = f"lower({d.extract('referrer', HOST_RE)})"
    return f"""{_sessions(d)},
firsts AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_key, session_no ORDER BY ts, event_id) AS nth
  FROM numbered
  WHERE event_type = 'page_view'
),
landings AS (
  SELECT COALESCE(NULLIF({host}, ''), '(direct)') AS referrer_host,
    {label("utm_source")} AS utm_source,
    {label("utm_medium")} AS utm_medium,
    {label("utm_campaign")} AS utm_campaign
  FROM firsts
  WHERE nth = 1
)
SELECT CASE WHEN GROUPING(referrer_host) = 0 THEN 'referrer' ELSE 'utm' END AS dimension,
  referrer_host, utm_source, utm_medium, utm_campaign,
  COUNT(*) AS sessions
FROM landings
GROUP BY GROUPING SETS ((referrer_host), (utm_source, utm_medium, utm_campaign))
ORDER BY dimension, sessions DESC, referrer_host, utm_source, utm_medium, utm_campaign"""


def sessions(d: Dialect, opts: dict) -> str:
    return f"""{_sessions(d)}
SELECT COUNT(*) AS sessions,
  ROUND(AVG(CAST(end_ms - start_ms AS DOUBLE) / 1000), 3) AS avg_duration_s,
  ROUND(AVG(CAST(page_views AS DOUBLE)), 3) AS pages_per_session,
  {_ratio("SUM(CASE WHEN page_views <= 1 THEN 1 ELSE 0 END)", "COUNT(*)", 4)} AS bounce_rate
FROM sessions"""


def conversions(d: Dialect, opts: dict) -> str:
    converting = "SUM(CASE WHEN conversions > 0 THEN 1 ELSE 0 END)"
    return f"""{_sessions(d)}
SELECT (SELECT COUNT(*) FROM unique_events WHERE event_type = 'conversion') AS conversions,
  COALESCE({converting}, 0) AS converting_sessions,
  COUNT(*) AS sessions,
  {_ratio(converting, "COUNT(*)", 4)} AS conversion_rate
FROM sessions"""


def heatmap(d: Dialect, opts: dict) -> str:
    cols = d.param("columns", opts["columns"])
    column = f"CAST(FLOOR(CAST(x AS DOUBLE) / document_width * {cols}) AS BIGINT)"
    return f"""clicks AS (
  SELECT LEAST(GREATEST({column}, 0), {d.param("columns", opts["columns"])} - 1) AS cell_col,
    GREATEST(CAST(FLOOR(CAST(y AS DOUBLE) / {d.param("row_px", opts["row_px"])}) AS BIGINT), 0)
      AS cell_row
  FROM unique_events
  WHERE event_type = 'click' AND page = {d.param("page", opts["page"])}
    AND document_width > 0 AND x IS NOT NULL AND y IS NOT NULL
)
SELECT cell_col, cell_row, COUNT(*) AS clicks
FROM clicks
GROUP BY cell_col, cell_row
ORDER BY cell_col, cell_row"""


def _step_match(d: Dialect, n: int, step: str, alias: str = "") -> str:
    value = d.param(f"step{n}", step)
    if step.startswith("/"):
        return f"{alias}event_type = 'page_view' AND {alias}path = {value}"
    if "://" in step:
        return f"{alias}event_type = 'page_view' AND {alias}page = {value}"
    return f"{alias}event_type = {value}"


def funnel(d: Dialect, opts: dict) -> str:
    steps = opts["steps"]
    reach = [
        f"""reach1 AS (
  SELECT user_key, session_no, MIN(ts) AS ts
  FROM numbered
  WHERE {_step_match(d, 1, steps[0])}
  GROUP BY user_key, session_no
)"""
    ]
    for n, step in enumerate(steps[1:], start=2):
        # The earliest match strictly after the previous step's: steps must happen in order.
        reach.append(f"""reach{n} AS (
  SELECT r.user_key, r.session_no, MIN(e.ts) AS ts
  FROM reach{n - 1} r
  JOIN numbered e ON e.user_key = r.user_key AND e.session_no = r.session_no AND e.ts > r.ts
  WHERE {_step_match(d, n, step, "e.")}
  GROUP BY r.user_key, r.session_no
)""")
    rows = "\nUNION ALL\n".join(
        f"SELECT {n} AS step, {d.param(f'step{n}', step)} AS name, "
        f"(SELECT COUNT(*) FROM reach{n}) AS sessions"
        for n, step in enumerate(steps, start=1)
    )
    reached = ",\n".join(reach)
    return f"""{_sessions(d)},
{reached},
steps AS (
{rows}
)
SELECT step, name, sessions
FROM steps
ORDER BY step"""


@dataclass(frozen=True)
class Report:
    name: str
    summary: str
    body: Callable[[Dialect, dict], str]
    options: tuple[str, ...] = ()


REPORTS = {
    r.name: r
    for r in (
        Report("traffic", "events and page views per time bucket, empty buckets included",
               traffic, ("bucket",)),
        Report("pages", "per page: page views, distinct user_keys, average engaged time", pages),
        Report("referrers", "sessions per landing referrer host and per UTM source/medium/campaign",
               referrers),
        Report("sessions", "sessions rebuilt per user_key (30-minute gap): count, duration, "
               "pages per session, bounce rate", sessions),
        Report("conversions", "conversion events, converting sessions, conversion rate",
               conversions),
        Report("heatmap", "clicks on one page binned on a grid, x as a share of document width",
               heatmap, ("page", "columns", "row_px")),
        Report("funnel", "sessions reaching each step (page path, URL or event type) in order",
               funnel, ("steps",)),
    )
}

DEFAULTS = {"bucket": "hour", "columns": 20, "row_px": 100, "page": None, "steps": None}


def _date(name: str, value: object) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ReportError(f"--{name} {value!r} must be a date YYYY-MM-DD") from None


def _positive(name: str, value: object, limit: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= limit:
        raise ReportError(f"--{name.replace('_', '-')} {value!r} must be a whole number 1..{limit}")
    return number


def _steps(value: object) -> list[str]:
    steps = [s.strip() for s in (value.split(",") if isinstance(value, str) else value or [])]
    if len(steps) < 2 or any(not s for s in steps):
        raise ReportError(f"--steps {value!r} must list at least two comma-separated steps")
    for step in steps:
        if not (step.startswith("/") or "://" in step or EVENT_TYPE_RE.match(step)):
            raise ReportError(f"--steps: {step!r} is not a path (/...), a URL or an event type")
    return steps


def _site(value: object) -> str | None:
    """A host name as the reports compare it (lower case); None for every site."""
    if value is None or value == "":
        return None
    site = str(value).strip().lower()
    if not SITE_RE.match(site):
        raise ReportError(f"--site {value!r} must be a host name such as shop.example.com")
    return site


def options(name: str, raw: dict, strict: bool = False) -> dict:
    """Checked options of report `name` from raw values (CLI strings or Python values);
    strict: an option the report does not take is an error rather than ignored."""
    if name not in REPORTS:
        raise ReportError(f"report {name!r} must be one of {', '.join(REPORTS)}")
    stray = [k for k in DEFAULTS if raw.get(k) is not None and k not in REPORTS[name].options]
    if strict and stray:
        flag = "--" + stray[0].replace("_", "-")
        users = [r.name for r in REPORTS.values() if stray[0] in r.options]
        raise ReportError(f"{flag} applies to the {' and '.join(users)} report, not {name}")
    opts = {"from": _date("from", raw.get("from")), "to": _date("to", raw.get("to"))}
    if opts["from"] > opts["to"]:
        raise ReportError(f"--from {opts['from']} is after --to {opts['to']}")
    opts["site"] = _site(raw.get("site"))
    wanted = REPORTS[name].options
    given = {k: raw.get(k) if raw.get(k) is not None else DEFAULTS[k] for k in wanted}
    if "bucket" in wanted:
        if given["bucket"] not in BUCKETS:
            raise ReportError(f"--bucket {given['bucket']!r} must be one of {', '.join(BUCKETS)}")
        opts["bucket_seconds"] = BUCKETS[given["bucket"]]
    if "page" in wanted:
        if not given["page"]:
            raise ReportError("--page is required: the page URL whose clicks to map")
        opts["page"] = re.match(PAGE_RE, given["page"]).group(1)
        opts["columns"] = _positive("columns", given["columns"], 1000)
        opts["row_px"] = _positive("row_px", given["row_px"], 100000)
    if "steps" in wanted:
        opts["steps"] = _steps(given["steps"])
    return opts


def render(name: str, sql_dialect: str | Dialect, opts: dict, source: str = SOURCE) -> str:
    """The SQL of report `name` in one dialect, for options already checked by `options`."""
    d = dialect(sql_dialect) if isinstance(sql_dialect, str) else sql_dialect
    head = _events(d, opts, source)  # first: Athena's `?` parameters are positional
    body = REPORTS[name].body(d, opts)
    return f"WITH {head},\n{body}"
