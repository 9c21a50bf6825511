"""The reports, each defined once as SQL over the view `lake_events`, rendered per dialect.

Every report starts from the same two steps: keep the asked `dt` partitions and one delivery per
event_id (the earliest received_at), then work in epoch milliseconds of received_at. Sessions are
rebuilt per user_key with a 30-minute inactivity gap; the client's session_id is not trusted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis.dialects import Dialect, dialect
from logdig.events import EVENT_TYPE_RE

SOURCE = "lake_events"
SESSION_GAP_MS = 30 * 60 * 1000
ACTIVE_MS = 5 * 60 * 1000  # a session with an event this recent is "current"
BUCKETS = {"minute": 60, "5min": 300, "15min": 900, "hour": 3600, "day": 86400}
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
            "document_width", "utm_source", "utm_medium", "utm_campaign", "target_tag",
            "target_id", "target_classes", "target_text", "user_id", "scroll_depth", "country",
            "browser", "os", "device", "is_bot")
    return [(c, c) for c in kept] + [
        ("ts", d.epoch_ms("received_at")),
        ("page", d.extract("current_page", PAGE_RE)),
        ("path", d.extract("current_page", PATH_RE)),
        ("site", f"lower({d.extract('current_page', HOST_RE)})"),
        ("referrer_host", f"lower({d.extract('referrer', HOST_RE)})"),
    ]


def row_filters(d: Dialect, opts: dict, column: dict[str, str], kept: str) -> str:
    """` AND ...` conditions on each event's kept delivery: no bots (unless include_bots), a
    datetime range finer than the dt partitions, and the site/page/referrer filters (only those
    given). column: prepared column name -> SQL; kept: a relation of the kept deliveries with
    the prepared columns' inputs (for the referrer filter)."""
    conds = []
    if not opts.get("include_bots"):  # rows from before is_bot existed are people
        conds.append(f"COALESCE({column['is_bot']}, false) = false")
    if opts.get("exact_range"):
        conds.append(f"{column['ts']} >= {d.param('start_ms', opts['start_ms'])}")
        conds.append(f"{column['ts']} < {d.param('end_ms', opts['end_ms'])}")
    if opts.get("site"):
        conds.append(f"{column['site']} = {d.param('site', opts['site'])}")
    if opts.get("filter_page"):
        conds.append(f"{column['page']} = {d.param('filter_page', opts['filter_page'])}")
    if opts.get("referrer"):
        # Visitors who arrived from that host at least once in the range: all their events.
        conds.append(f"""user_key IN (
    SELECT user_key FROM {kept}
    WHERE {column['referrer_host']} = {d.param('referrer', opts['referrer'])})""")
    return "".join(f"\n    AND {c}" for c in conds)


def _events(d: Dialect, opts: dict, source: str) -> str:
    store = getattr(d, "store", None)
    if store is not None:  # the query store's prepared table (analysis/store.py)
        return f"{store.events(d, opts)},\n{store.people(d, opts)}"
    columns = ",\n    ".join(f"{sql} AS {name}" if sql != name else name
                              for name, sql in prepared_columns(d))
    prepared = dict(prepared_columns(d))
    kept = "(SELECT * FROM deliveries WHERE delivery = 1) kept"
    return f"""deliveries AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY received_at) AS delivery
  FROM {source}
  WHERE dt BETWEEN {d.param("from", opts["from"])} AND {d.param("to", opts["to"])}
),
unique_events AS (
  SELECT {columns}
  FROM deliveries
  WHERE delivery = 1{row_filters(d, opts, prepared, kept)}
),
{_people("deliveries")}"""


def identities(rows: str, ref: str = "user_key") -> str:
    """`identities`: each user_key seen with a member id in the range's days, whatever the
    filters (the smallest id when several), and its user_ref (what stands for it in `numbered`:
    the user_key here, the store's integer id of it). rows: every delivery of the range's days,
    with user_key, user_id and the column `ref` (one value per user_key; MIN() rather than a
    second group key, which DuckDB estimates as many more rows and then joins the wrong way)."""
    return f"""identities AS (
  SELECT user_key, MIN({ref}) AS user_ref, MIN(user_id) AS member
  FROM {rows}
  WHERE user_id IS NOT NULL AND user_key IS NOT NULL
  GROUP BY user_key
)"""


def _people(rows: str) -> str:
    """`identities` and `people` (unique_events with `visitor`, the stitched identity: the
    event's own member id, else its user_key's, else the user_key; and `page_key`, what
    stands for the page when grouping: the page here, the store's integer id of it)."""
    return f"""{identities(rows)},
people AS (
  SELECT e.*, {_visitor("e")} AS visitor, e.page AS page_key
  FROM unique_events e
  LEFT JOIN identities i ON i.user_key = e.user_key
)"""


def _visitor(alias: str) -> str:
    """The stitched visitor of a row `alias` joined to `identities i`."""
    return f"COALESCE({alias}.user_id, i.member, {alias}.user_key)"


@dataclass(frozen=True)
class SessionView:
    """Per-session attributes from a `numbered`-shaped relation: one row (user_key, session_no,
    *columns) per session that has them. The query store keeps every view's columns for each
    stored session (analysis/store_sql.py) and runs `sql` only over the sessions it cannot keep
    (cut by the range, or of visitors it recounts), so a view is defined once for every engine."""

    name: str
    columns: tuple[str, ...]
    sql: Callable[[str], str]  # source relation -> SELECT user_key, session_no, *columns


def _first_row(where: str, order: str, columns: tuple[str, ...]) -> Callable[[str], str]:
    """The columns of each session's first row matching `where`, in `order`."""
    picked = ", ".join(columns)

    def sql(source: str) -> str:
        return f"""SELECT user_key, session_no, {picked} FROM (
    SELECT user_key, session_no, {picked},
      ROW_NUMBER() OVER (PARTITION BY user_key, session_no ORDER BY {order}) AS nth
    FROM {source}
    WHERE {where}
  ) ranked
  WHERE nth = 1"""

    return sql


def _session_totals(source: str) -> str:
    return f"""SELECT user_key, session_no, MIN(ts) AS start_ms, MAX(ts) AS end_ms,
    SUM(CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END) AS page_views,
    SUM(CASE WHEN event_type = 'conversion' THEN 1 ELSE 0 END) AS conversions,
    COUNT(*) AS events
  FROM {source}
  GROUP BY user_key, session_no"""


FIRST, LAST = "ts, event_id", "ts DESC, event_id DESC"
PAGE_VIEW = "event_type = 'page_view'"
AUDIENCE = ("country", "browser", "os", "device")
SESSIONS = SessionView("sessions", ("start_ms", "end_ms", "page_views", "conversions", "events"),
                       _session_totals)
# The first page view's referrer and campaign; the first and last page view with a page; the
# first event's member id and audience fields.
LANDINGS = SessionView("landings", ("referrer_host", "utm_source", "utm_medium", "utm_campaign"),
                       _first_row(PAGE_VIEW, FIRST, ("referrer_host", "utm_source",
                                                     "utm_medium", "utm_campaign")))
ENTRIES = SessionView("entries", ("page",), _first_row(f"{PAGE_VIEW} AND page <> ''", FIRST,
                                                       ("page",)))
EXITS = SessionView("exits", ("page",), _first_row(f"{PAGE_VIEW} AND page <> ''", LAST, ("page",)))
OPENERS = SessionView("openers", ("user_id", *AUDIENCE), _first_row("true", FIRST,
                                                                    ("user_id", *AUDIENCE)))
SESSION_VIEWS = (SESSIONS, LANDINGS, ENTRIES, EXITS, OPENERS)


def _views(d: Dialect, *views: SessionView) -> str:
    """CTEs named after the views, over `numbered` (the store: mostly its kept sessions)."""
    store = getattr(d, "store", None)
    if store is not None:
        return ",\n".join(store.session_view(d, v) for v in views)
    return ",\n".join(f"{v.name} AS (\n  {v.sql('numbered')}\n)" for v in views)


def _sessions(d: Dialect) -> str:
    """`marked`, `numbered` (each unique event with user_ref and page_key, what stands for the
    user_key and the page when grouping (the store's integer ids of them), new_session and
    session_no; session_no identifies a session within its user_key, only its grouping is
    meaningful) and `sessions` (one row per visitor session: SESSIONS)."""
    store = getattr(d, "store", None)
    if store is not None:  # session numbers precomputed at load, except where they cannot apply
        return f"{store.sessions(d)},\n{_views(d, SESSIONS)}"
    order = "ORDER BY ts, event_id"
    return f"""marked AS (
  SELECT *, user_key AS user_ref, page AS page_key,
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
{_views(d, SESSIONS)}"""


def _ratio(numerator: str, denominator: str, digits: int) -> str:
    return f"ROUND(CAST({numerator} AS DOUBLE) / NULLIF({denominator}, 0), {digits})"


def traffic(d: Dialect, opts: dict) -> str:
    # Each d.param call is one Athena `?`: the pieces are built in the order they appear.
    def p(name: str) -> str:
        return d.param(name, opts[name])

    window = opts.get("first_bucket_s") is not None
    shifted = bool(opts.get("offset_s"))

    def bucket_s() -> str:
        # Buckets start at midnight of the `tz` zone (its UTC offset at the range start).
        return "days.day_s + offsets.offset_s" + (f" - {p('offset_s')}" if shifted else "")

    select = bucket_s()
    days = d.series(d.day_epoch(p("from")) + (" - 86400" if window else ""),
                    d.day_epoch(p("to")) + (" + 86400" if window else ""), "86400", "day_s")
    # Days x offsets rather than one long sequence: Athena caps a sequence at 10000 entries.
    offsets = d.series("0", f"86400 - {p('bucket_seconds')}", p("bucket_seconds"), "offset_s")
    # A datetime range keeps the buckets from the one holding its start up to its end.
    kept = (f"\n  WHERE {bucket_s()} >= {p('first_bucket_s')}"
            f"\n    AND {bucket_s()} < {p('end_s')}") if window else ""

    def bucket_ms(ts: str = "ts") -> str:  # each call renders its own parameters (Athena's `?`)
        aligned = f"({ts} + {p('offset_s')} * 1000)" if shifted else ts
        return f"{ts} - {aligned} % ({p('bucket_seconds')} * 1000)"

    buckets = f"""buckets AS (
  SELECT {select} AS bucket_s
  FROM {days} days
  CROSS JOIN {offsets} offsets{kept}
)"""
    store = getattr(d, "store", None)  # the query store adds up its hourly counts if it can
    counts = store and store.hour_counts(d, opts, bucket_ms)
    counts = counts or f"""SELECT {bucket_ms()} AS bucket_ms,
    COUNT(*) AS events,
    SUM(CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END) AS page_views
  FROM unique_events
  GROUP BY 1"""
    return f"""{buckets},
counts AS (
  {counts}
),
viewers AS (
  SELECT {bucket_ms()} AS bucket_ms, COUNT(DISTINCT visitor) AS visitors
  FROM people
  WHERE event_type = 'page_view'
  GROUP BY 1
)
SELECT {d.iso_seconds("b.bucket_s")} AS bucket_start,
  COALESCE(c.events, 0) AS events,
  COALESCE(c.page_views, 0) AS page_views,
  COALESCE(v.visitors, 0) AS visitors
FROM buckets b
LEFT JOIN counts c ON c.bucket_ms = b.bucket_s * 1000
LEFT JOIN viewers v ON v.bucket_ms = b.bucket_s * 1000
ORDER BY b.bucket_s"""


def pages(d: Dialect, opts: dict) -> str:
    # Page views and their distinct visitors from the page views alone, engaged time from the
    # page leaves alone: each grouping reads only the rows it counts. Grouped by page_key (one
    # per page), the page itself any value of its group. The query store adds up its hourly
    # counts per page instead when it can (store_sql.StoreQuery.page_totals).
    store = getattr(d, "store", None)
    totals = (store and store.page_totals(d, opts)) or f"""views AS (
  SELECT page_key, {d.any_value("page")} AS page, COUNT(*) AS page_views,
    COUNT(DISTINCT visitor) AS visitors
  FROM people
  WHERE page <> '' AND event_type = 'page_view'
  GROUP BY page_key
),
leaves AS (
  SELECT page_key, ROUND(AVG(CAST(engaged_milli_sec AS DOUBLE)), 1) AS avg_engaged_ms
  FROM people
  WHERE page <> '' AND event_type = 'page_leave'
  GROUP BY page_key
)"""
    return f"""{totals}
SELECT v.page, v.page_views, v.visitors, l.avg_engaged_ms
FROM views v
LEFT JOIN leaves l ON l.page_key = v.page_key
ORDER BY v.page_views DESC, v.page"""


def referrers(d: Dialect, opts: dict) -> str:
    def label(column: str) -> str:
        return f"COALESCE(NULLIF({column}, ''), '(none)')"

    return f"""{_sessions(d)},
{_views(d, LANDINGS)},
labelled AS (
  SELECT COALESCE(NULLIF(referrer_host, ''), '(direct)') AS referrer_host,
    {label("utm_source")} AS utm_source,
    {label("utm_medium")} AS utm_medium,
    {label("utm_campaign")} AS utm_campaign
  FROM landings
)
SELECT CASE WHEN GROUPING(referrer_host) = 0 THEN 'referrer' ELSE 'utm' END AS dimension,
  referrer_host, utm_source, utm_medium, utm_campaign,
  COUNT(*) AS sessions
FROM labelled
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


def summary(d: Dialect, opts: dict) -> str:
    """The dashboard's tiles in one row, on the same session rules as `sessions`/`conversions`."""
    bounces = "SUM(CASE WHEN page_views <= 1 THEN 1 ELSE 0 END)"
    converting = "SUM(CASE WHEN conversions > 0 THEN 1 ELSE 0 END)"
    store = getattr(d, "store", None)
    visitors = store.visitor_count() if store else (
        "SELECT COUNT(DISTINCT visitor) FROM people WHERE user_key IS NOT NULL")
    return f"""{_sessions(d)}
SELECT ({visitors}) AS visitors,
  COUNT(*) AS visits,
  COALESCE(SUM(page_views), 0) AS page_views,
  {_ratio("SUM(page_views)", "COUNT(*)", 2)} AS views_per_visit,
  {_ratio(bounces, "COUNT(*)", 4)} AS bounce_rate,
  ROUND(AVG(CAST(end_ms - start_ms AS DOUBLE) / 1000), 1) AS avg_visit_seconds,
  (SELECT COUNT(*) FROM unique_events WHERE event_type = 'conversion') AS conversions,
  {_ratio(converting, "COUNT(*)", 4)} AS conversion_rate
FROM sessions"""


def _end_pages(view: SessionView) -> Callable[[Dialect, dict], str]:
    def body(d: Dialect, opts: dict) -> str:
        return f"""{_sessions(d)},
{_views(d, view)}
SELECT page, COUNT(*) AS sessions
FROM {view.name}
GROUP BY page
ORDER BY sessions DESC, page"""

    return body


def events(d: Dialect, opts: dict) -> str:
    return """named AS (
  SELECT * FROM people
  WHERE event_type NOT IN ('page_view', 'click', 'heartbeat', 'page_leave')
)
SELECT event_type AS event, COUNT(*) AS events, COUNT(DISTINCT visitor) AS visitors
FROM named
GROUP BY event_type
ORDER BY events DESC, event"""


def sites(d: Dialect, opts: dict) -> str:
    return """hosted AS (
  SELECT * FROM unique_events WHERE site <> ''
)
SELECT site, COUNT(*) AS events,
  SUM(CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END) AS page_views
FROM hosted
GROUP BY site
ORDER BY events DESC, site"""


def elements(d: Dialect, opts: dict) -> str:
    def text(column: str) -> str:
        return f"COALESCE({column}, '')"

    return f"""clicks AS (
  SELECT {text("target_tag")} AS tag, {text("target_id")} AS element_id,
    {text("target_classes")} AS classes, {text("target_text")} AS text
  FROM unique_events
  WHERE event_type = 'click' AND page = {d.param("page", opts["page"])}
)
SELECT tag, element_id, classes, text, COUNT(*) AS clicks
FROM clicks
GROUP BY tag, element_id, classes, text
ORDER BY clicks DESC, tag, element_id, classes, text"""


def active_sessions(d: Dialect, opts: dict) -> str:
    # The current page is looked up only for the few active sessions.
    session = "a.user_key = n.user_key AND a.session_no = n.session_no"
    return f"""{_sessions(d)},
active AS (
  SELECT * FROM sessions WHERE end_ms >= {d.param("end_ms", opts["end_ms"])} - {ACTIVE_MS}
),
lasts AS (
  SELECT n.user_key, n.session_no, n.page,
    ROW_NUMBER() OVER (PARTITION BY n.user_key, n.session_no ORDER BY n.ts DESC, n.event_id DESC)
      AS nth
  FROM numbered n
  JOIN active a ON {session}
  WHERE n.page <> ''
)
SELECT s.user_key AS visitor, COALESCE(e.page, '') AS current_page,
  {d.iso_seconds("CAST(FLOOR(s.end_ms / 1000) AS BIGINT)")} AS last_activity,
  s.events AS events,
  ROUND(CAST(s.end_ms - s.start_ms AS DOUBLE) / 1000, 1) AS duration_s
FROM active s
LEFT JOIN lasts e ON e.user_key = s.user_key AND e.session_no = s.session_no AND e.nth = 1
ORDER BY s.end_ms DESC, visitor"""


def _audience(column: str) -> Callable[[Dialect, dict], str]:
    """Visitors (stitched) and visits per value of `column`, each visit counted under the value
    of its first event; '(unknown)' for rows from before the column existed."""

    def body(d: Dialect, opts: dict) -> str:
        return f"""{_sessions(d)},
{_views(d, OPENERS)},
firsts AS (
  SELECT {_visitor("o")} AS visitor, COALESCE(NULLIF(o.{column}, ''), '(unknown)') AS value
  FROM openers o
  LEFT JOIN identities i ON i.user_key = o.user_key
)
SELECT value AS {column}, COUNT(DISTINCT visitor) AS visitors, COUNT(*) AS visits
FROM firsts
GROUP BY value
ORDER BY visits DESC, visitors DESC, {column}"""

    return body


LEAVES = "event_type = 'page_leave' AND scroll_depth IS NOT NULL AND page <> ''"


def deepest_leaves(source: str) -> str:
    """Each page of each visit in a `numbered`-shaped source at its deepest reported scroll
    (the store keeps them per stored visit: `visits.scroll_deepest`)."""
    return f"""SELECT page_key, MAX(scroll_depth) AS deepest
  FROM {source}
  WHERE {LEAVES}
  GROUP BY user_ref, session_no, page_key"""


def scroll(d: Dialect, opts: dict) -> str:
    """Per page, each page of a visit at its deepest reported scroll (page_leave events)."""
    def reached(percent: int) -> str:
        share = _ratio(f"SUM(CASE WHEN deepest >= {percent} THEN k ELSE 0 END)", "SUM(k)", 4)
        return f"{share} AS reached_{percent}"

    # Grouped by user_ref and page_key (the store's integer ids); each page's name is looked up
    # once. The median is the engine's exact one where it has one; Athena's is approximate, so
    # there it is found over each page's depths counted (k) rather than sorted one by one: the
    # depths holding the middle one or two ranks r (2 * r in [n, n + 2]) of the n, ranks
    # upto - k + 1 .. upto.
    store = getattr(d, "store", None)
    labels = store.page_labels() if store else (
        f"SELECT page_key, {d.any_value('page')} AS page FROM numbered WHERE {LEAVES} "
        "GROUP BY page_key")
    exact = d.median("deepest")
    if exact:
        counted = "weighed AS (\n  SELECT page_key, deepest, 1 AS k FROM deepest\n)"
        median, source = exact, "weighed"
    else:
        counted = """counted AS (
  SELECT page_key, deepest, COUNT(*) AS k FROM deepest GROUP BY page_key, deepest
),
ranked AS (
  SELECT page_key, deepest, k,
    SUM(k) OVER (PARTITION BY page_key ORDER BY deepest
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto,
    SUM(k) OVER (PARTITION BY page_key) AS n
  FROM counted
)"""
        median = ("AVG(CASE WHEN 2 * upto >= n AND 2 * (upto - k + 1) <= n + 2 "
                  "THEN CAST(deepest AS DOUBLE) END)")
        source = "ranked"
    return f"""{_sessions(d)},
deepest AS (
  {store.deepest_leaves() if store else deepest_leaves("numbered")}
),
labels AS (
  {labels}
),
{counted},
depths AS (
  SELECT page_key, SUM(k) AS page_views, ROUND({median}, 1) AS median_depth,
    {reached(25)}, {reached(50)}, {reached(75)}, {reached(100)}
  FROM {source}
  GROUP BY page_key
)
SELECT l.page, d.page_views, d.median_depth, d.reached_25, d.reached_50, d.reached_75,
  d.reached_100
FROM depths d
JOIN labels l ON l.page_key = d.page_key
ORDER BY d.page_views DESC, l.page"""


def members(d: Dialect, opts: dict) -> str:
    """Per member id: every event of the user_keys seen with it, anonymous ones included. An
    inner join: an event with a member id has its user_key in `identities` (the same days).
    Devices are user_keys, counted by user_ref (one per user_key)."""
    first = d.iso_seconds("CAST(FLOOR(MIN(start_ms) / 1000) AS BIGINT)")
    last = d.iso_seconds("CAST(FLOOR(MAX(end_ms) / 1000) AS BIGINT)")
    return f"""{_sessions(d)},
visits AS (
  SELECT COALESCE(n.user_id, i.member) AS member, n.user_ref, n.session_no,
    MIN(n.ts) AS start_ms, MAX(n.ts) AS end_ms
  FROM numbered n
  JOIN identities i ON i.user_ref = n.user_ref
  GROUP BY COALESCE(n.user_id, i.member), n.user_ref, n.session_no
)
SELECT member AS user_id, {first} AS first_seen, {last} AS last_seen,
  COUNT(*) AS visits, COUNT(DISTINCT user_ref) AS devices
FROM visits
GROUP BY member
ORDER BY last_seen DESC, user_id"""


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
        Report("summary", "visitors, visits, page views, views per visit, bounce rate, average "
               "visit duration, conversions and conversion rate in one row", summary),
        Report("entry_pages", "sessions per first page viewed", _end_pages(ENTRIES)),
        Report("exit_pages", "sessions per last page viewed", _end_pages(EXITS)),
        Report("events", "events and visitors per event type other than page views, clicks, "
               "heartbeats and page leaves (conversions and custom events)", events),
        Report("sites", "events and page views per site (host of the page URL)", sites),
        Report("elements", "clicks on one page per clicked element (tag, id, classes, text)",
               elements, ("page",)),
        Report("active_sessions", "sessions with an event in the 5 minutes before the range "
               "end: visitor, current page, last activity, events, duration", active_sessions),
        Report("countries", "visitors and visits per country (ISO 3166 code from the IP)",
               _audience("country")),
        Report("browsers", "visitors and visits per browser", _audience("browser")),
        Report("os", "visitors and visits per operating system", _audience("os")),
        Report("devices", "visitors and visits per device class (desktop, mobile, tablet, "
               "bot, other)", _audience("device")),
        Report("scroll", "per page: page views with a scroll depth (each page once per visit, "
               "at its deepest), median deepest scroll, share reaching 25/50/75/100%", scroll),
        Report("members", "per member id (user_id): first and last seen, visits, devices "
               "(user_keys), anonymous events before sign-in included", members),
    )
}

DEFAULTS = {"bucket": "hour", "columns": 20, "row_px": 100, "page": None, "steps": None}
DAY_MS = 86_400_000


def _zone(value: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(value or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(f"--tz {value!r} must be a time zone name such as UTC or "
                          "Europe/Berlin") from None


def _instant(name: str, value: object, zone: ZoneInfo) -> tuple[datetime, bool]:
    """(UTC instant, whether a time was given) of a `from`/`to` value: a date is its midnight
    in `zone` (`to`: the midnight after it, so the day is included); a datetime without an
    offset is read in `zone`."""
    text = str(value)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=zone)
            if name == "to":
                moment = datetime.combine(day + timedelta(days=1), moment.timetz())
            return moment.astimezone(UTC), False
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(f"--{name} {value!r} must be a date YYYY-MM-DD or an ISO datetime "
                          "such as 2026-11-20T08:30:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC), True


def _range(raw: dict) -> dict:
    """`from` inclusive, `to` exclusive as epoch ms, and the UTC dates (dt partitions) they
    touch; the report filters on ms only when the range is not whole UTC days."""
    zone = _zone(raw.get("tz"))
    start, timed_start = _instant("from", raw.get("from"), zone)
    end, timed_end = _instant("to", raw.get("to"), zone)
    if start >= end:
        same = start == end and (timed_start or timed_end)
        raise ReportError(f"--from {raw.get('from')} equals --to {raw.get('to')}: a datetime "
                          "--to is exclusive" if same else
                          f"--from {raw.get('from')} is after --to {raw.get('to')}")
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    whole_days = start_ms % DAY_MS == 0 and end_ms % DAY_MS == 0
    last = datetime.fromtimestamp((end_ms - 1) / 1000, UTC)
    offset = int(start.astimezone(zone).utcoffset().total_seconds())
    return {"from": start.date().isoformat(), "to": last.date().isoformat(),
            "start_ms": start_ms, "end_ms": end_ms, "exact_range": not whole_days,
            "offset_s": offset, "timed": timed_start or timed_end}


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


def _flag(name: str, value: object) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ReportError(f"--{name.replace('_', '-')} {value!r} must be 1 or 0")


def _host(name: str, value: object) -> str:
    text = str(value).strip().lower()
    if not SITE_RE.match(text):
        raise ReportError(f"--{name} {value!r} must be a host name such as www.example.com")
    return text


def _buckets(opts: dict, bucket: object) -> None:
    if bucket not in BUCKETS:
        raise ReportError(f"--bucket {bucket!r} must be one of {', '.join(BUCKETS)}")
    step = opts["bucket_seconds"] = BUCKETS[bucket]
    if opts["timed"] or opts["offset_s"]:
        start_s = opts["start_ms"] // 1000
        opts["first_bucket_s"] = start_s - (start_s + opts["offset_s"]) % step
        opts["end_s"] = -(-opts["end_ms"] // 1000)


def options(name: str, raw: dict, strict: bool = False) -> dict:
    """Checked options of report `name` from raw values (CLI strings or Python values);
    strict: an option the report does not take is an error rather than ignored."""
    if name not in REPORTS:
        raise ReportError(f"report {name!r} must be one of {', '.join(REPORTS)}")
    wanted = REPORTS[name].options
    # `page` filters every report to one page; heatmap and elements need it.
    stray = [k for k in DEFAULTS if raw.get(k) is not None and k not in wanted and k != "page"]
    if strict and stray:
        flag = "--" + stray[0].replace("_", "-")
        users = [r.name for r in REPORTS.values() if stray[0] in r.options]
        raise ReportError(f"{flag} applies to the {' and '.join(users)} report, not {name}")
    opts = _range(raw)
    opts["site"] = _site(raw.get("site"))
    opts["include_bots"] = _flag("include_bots", raw.get("include_bots"))
    if raw.get("referrer"):
        opts["referrer"] = _host("referrer", raw["referrer"])
    given = {k: raw.get(k) if raw.get(k) is not None else DEFAULTS[k] for k in wanted}
    if "bucket" in wanted:
        _buckets(opts, given["bucket"])
    if "page" in wanted:
        if not given["page"]:
            raise ReportError(f"--page is required: the page URL whose clicks {name} shows")
        opts["page"] = re.match(PAGE_RE, given["page"]).group(1)
    elif raw.get("page"):
        opts["filter_page"] = re.match(PAGE_RE, str(raw["page"])).group(1)
    if "columns" in wanted:
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
