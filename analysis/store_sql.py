"""The query store's SQL: its tables, how new rows are derived, and the report CTEs over them.

`events` holds every delivery of every loaded object, with the columns `unique_events` offers the
reports (reports.prepared_columns) computed once, plus what the reports' per-query window
functions would otherwise recompute over the whole range:
  delivery, prev_dt        rank of this delivery of its event_id by received_at, and the dt of
                           the previous delivery (a range starting after it keeps this one)
  first_in_session         the 30-minute rule per visitor over every unique event (all sites)
  prev_user_ts             ts of the visitor's previous unique event (a range starting after it
                           starts a session here)
  sess_key                 ts of the session's first event: a session key stable under appends
A row with delivery NULL is loaded but not derived yet; queries skip it, the next sync derives it.
"""

from __future__ import annotations

from analysis import reports
from analysis.dialects import Dialect, DuckDB

SCHEMA_VERSION = 2  # bump when the tables or their derivation change; older stores are rebuilt
GAP = reports.SESSION_GAP_MS
DERIVED = ("delivery", "prev_dt", "first_in_session", "prev_user_ts", "sess_key")
DELIVERY_ORDER = "ORDER BY received_at, rowid"
VISITOR_ORDER = "ORDER BY ts, event_id"


def prepared_names() -> list[str]:
    return [name for name, _ in reports.prepared_columns(DuckDB())]


def schema_key() -> str:
    """Changes whenever a stored column or its definition changes: the store is then rebuilt."""
    import hashlib

    text = repr((SCHEMA_VERSION, reports.prepared_columns(DuckDB()), reports.SESSION_GAP_MS))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def create_tables() -> list[str]:
    columns = ", ".join(f"{sql} AS {name}" for name, sql in reports.prepared_columns(DuckDB()))
    return [
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        "CREATE TABLE objects (key VARCHAR, dt VARCHAR, via VARCHAR, events BIGINT, "
        "loaded_at TIMESTAMP DEFAULT current_timestamp)",
        "CREATE TABLE visitor_sites (user_key VARCHAR, site VARCHAR)",
        f"CREATE TABLE events AS SELECT {columns}, dt, received_at, "
        "CAST(hash(event_id) AS UBIGINT) AS id_hash, CAST(NULL AS INTEGER) AS delivery, "
        "CAST(NULL AS VARCHAR) AS prev_dt, CAST(NULL AS BOOLEAN) AS first_in_session, "
        "CAST(NULL AS BIGINT) AS prev_user_ts, CAST(NULL AS BIGINT) AS sess_key "
        f"FROM {reports.SOURCE} WHERE false",
    ]


def insert_loaded() -> str:
    """Rows of the temp view lake_events (the objects being loaded), not derived yet."""
    columns = ", ".join(f"{sql}" for _, sql in reports.prepared_columns(DuckDB()))
    nulls = ", ".join("NULL" for _ in DERIVED)
    return (f"INSERT INTO events SELECT {columns}, dt, received_at, hash(event_id), {nulls} "
            f"FROM {reports.SOURCE}")


# Incremental derivation: only the event_ids and visitors that the pending rows touch.
DERIVE_STEPS = [
    # Sites seen per visitor: a visitor on several sites is recomputed per query when a report
    # asks for one site (its stored sessions span sites).
    """INSERT INTO visitor_sites
    SELECT DISTINCT user_key, site FROM events WHERE delivery IS NULL AND user_key IS NOT NULL
    EXCEPT SELECT user_key, site FROM visitor_sites""",
    f"""CREATE OR REPLACE TEMP TABLE d_rows AS
    SELECT rowid AS rid, user_key, ts, delivery AS old_delivery,
      ROW_NUMBER() OVER w AS new_delivery, LAG(dt) OVER w AS new_prev_dt
    FROM events
    WHERE id_hash IN (SELECT id_hash FROM events WHERE delivery IS NULL)
    WINDOW w AS (PARTITION BY event_id {DELIVERY_ORDER})""",
    """UPDATE events SET delivery = d.new_delivery, prev_dt = d.new_prev_dt
    FROM d_rows d WHERE events.rowid = d.rid""",
    # Visitors whose unique events changed, and the earliest change of each.
    """CREATE OR REPLACE TEMP TABLE s_users AS
    SELECT user_key, MIN(ts) AS m FROM d_rows
    WHERE user_key IS NOT NULL AND ((old_delivery IS NULL AND new_delivery = 1)
      OR (old_delivery = 1) <> (new_delivery = 1))
    GROUP BY user_key""",
    # b: start of the session holding the last unchanged event before the change; p: the event
    # just before that session (so the window sees its gap and dt).
    """CREATE OR REPLACE TEMP TABLE s_bounds AS
    WITH starts AS (
      SELECT u.user_key, MAX(e.sess_key) AS b
      FROM s_users u LEFT JOIN events e
        ON e.user_key = u.user_key AND e.delivery = 1 AND e.ts < u.m
      GROUP BY u.user_key
    )
    SELECT s.user_key, s.b, MAX(e.ts) AS p
    FROM starts s LEFT JOIN events e ON e.user_key = s.user_key AND e.delivery = 1 AND e.ts < s.b
    GROUP BY s.user_key, s.b""",
    f"""CREATE OR REPLACE TEMP TABLE s_rows AS
    WITH w AS (
      SELECT e.rowid AS rid, e.user_key, e.event_id, e.ts, b.b,
        CASE WHEN e.ts - LAG(e.ts) OVER o <= {GAP} THEN false ELSE true END AS first_in_session,
        LAG(e.ts) OVER o AS prev_user_ts
      FROM events e JOIN s_bounds b ON e.user_key = b.user_key
      WHERE e.delivery = 1 AND (b.p IS NULL OR e.ts >= b.p OR e.ts IS NULL)
      WINDOW o AS (PARTITION BY e.user_key {VISITOR_ORDER})
    )
    SELECT rid, b, ts, first_in_session, prev_user_ts,
      MAX(CASE WHEN first_in_session THEN ts END) OVER (PARTITION BY user_key {VISITOR_ORDER}
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sess_key
    FROM w""",
    """UPDATE events SET first_in_session = s.first_in_session, prev_user_ts = s.prev_user_ts,
      sess_key = s.sess_key
    FROM s_rows s WHERE events.rowid = s.rid AND (s.b IS NULL OR s.ts >= s.b OR s.ts IS NULL)""",
]


def rewrite_all() -> list[str]:
    """Derive every row at once (a build from scratch): one pass of windows, rows clustered by
    dt and time so that a date range reads only its row groups."""
    base = [c for c in prepared_names() + ["dt", "received_at", "id_hash"]]
    kept = ", ".join(base)
    return [
        "INSERT INTO visitor_sites SELECT DISTINCT user_key, site FROM events "
        "WHERE delivery IS NULL AND user_key IS NOT NULL "
        "EXCEPT SELECT user_key, site FROM visitor_sites",
        f"""CREATE TABLE events_new AS
    WITH d AS (
      SELECT {kept}, CAST(ROW_NUMBER() OVER w AS INTEGER) AS delivery, LAG(dt) OVER w AS prev_dt
      FROM events WINDOW w AS (PARTITION BY event_id {DELIVERY_ORDER})
    ), v AS (
      SELECT *, CASE WHEN ts - LAG(ts) OVER o <= {GAP} THEN false ELSE true END
          AS first_in_session,
        LAG(ts) OVER o AS prev_user_ts
      FROM d WHERE delivery = 1 AND user_key IS NOT NULL
      WINDOW o AS (PARTITION BY user_key {VISITOR_ORDER})
    )
    SELECT *, MAX(CASE WHEN first_in_session THEN ts END) OVER (PARTITION BY user_key
        {VISITOR_ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sess_key
    FROM v
    UNION ALL
    SELECT *, NULL, NULL, NULL FROM d WHERE NOT (delivery = 1 AND user_key IS NOT NULL)
    ORDER BY dt, ts""",
        "DROP TABLE events",
        "ALTER TABLE events_new RENAME TO events",
    ]


class StoreQuery:
    """The shared CTEs (`unique_events`, `marked`, `numbered`, `sessions`) over the store, for
    reports.render: the same names and columns as over the lake, and the same rows."""

    def __init__(self, opts: dict):
        self.opts = opts

    def events(self, d: Dialect, opts: dict) -> str:
        names = prepared_names()
        first = d.param("from", opts["from"])
        # A delivery counts when it is the first one inside the range's days: the event's first
        # delivery, or a later one whose previous delivery lies before them.
        kept = f"""SELECT * FROM events
  WHERE dt BETWEEN {first} AND {d.param("to", opts["to"])}
    AND (delivery = 1 OR prev_dt < {first})"""
        filters = reports.row_filters(d, opts, {n: n for n in names}, f"({kept}) kept")
        return f"""stored AS NOT MATERIALIZED (
  SELECT {", ".join(names)}, delivery, first_in_session, prev_user_ts, sess_key
  FROM ({kept}) kept
  WHERE true{filters}
),
unique_events AS NOT MATERIALIZED (
  SELECT {", ".join(names)} FROM stored
)"""

    def sessions(self, d: Dialect) -> str:
        names = ", ".join(prepared_names())
        start = d.param("start_ms", self.opts["start_ms"])
        # Stored session keys hold for a visitor when the range's unique events are the
        # visitor's stored ones cut to a time range (the referrer filter keeps or drops whole
        # visitors). They are not when a re-delivery counts in the range (its first delivery
        # lies before it), when an event has no time, for one site when the visitor also
        # browsed another, and for one page: those visitors are numbered here, as over the lake.
        everyone = " OR true" if self.opts.get("filter_page") else ""
        multi_site = ("\n  UNION SELECT user_key FROM visitor_sites GROUP BY user_key "
                      "HAVING COUNT(*) > 1") if self.opts.get("site") else ""
        return f"""recount AS (
  SELECT DISTINCT user_key FROM stored
  WHERE user_key IS NOT NULL AND (delivery > 1 OR ts IS NULL{everyone}){multi_site}
),
marked AS (
  SELECT *,
    CASE WHEN ts - LAG(ts) OVER (PARTITION BY user_key {VISITOR_ORDER}) <= {GAP}
      THEN 0 ELSE 1 END AS new_session
  FROM unique_events
  WHERE user_key IN (SELECT user_key FROM recount)
),
numbered AS (
  SELECT {names},
    CASE WHEN first_in_session OR prev_user_ts < {start} THEN 1 ELSE 0 END AS new_session,
    sess_key AS session_no
  FROM stored
  WHERE user_key IS NOT NULL AND user_key NOT IN (SELECT user_key FROM recount)
  UNION ALL
  SELECT *,
    SUM(new_session) OVER (PARTITION BY user_key {VISITOR_ORDER}
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_no
  FROM marked
),
{reports.session_rows()}"""


class StoreDialect(DuckDB):
    """DuckDB over the store's tables rather than the lake's view."""

    def __init__(self, opts: dict):
        super().__init__()
        self.store = StoreQuery(opts)


def render(name: str, opts: dict) -> str:
    return reports.render(name, StoreDialect(opts), opts)
