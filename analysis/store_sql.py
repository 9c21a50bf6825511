"""The query store's SQL: its tables, how new rows are derived, and the report CTEs over them.

`events` holds every delivery of every loaded object, with the columns `unique_events` offers the
reports (reports.prepared_columns) computed once, plus what the reports' per-query window
functions would otherwise recompute over the whole range:
  dt (a DATE here)    the partition the row came from
  delivery, prev_dt   rank of this delivery of its event_id (by received_at), and the dt of the
                      previous delivery (a range starting after that keeps this one)
  gap_ms              ms since the visitor's previous unique event (all sites) when that is
                      within 30 minutes, else NULL: the session's first event
  sess_age            ms since the session's first event; ts - sess_age is a session key that
                      stays put when later objects add events
  received_raw        received_at only when it is not the canonical rendering of ts (NULL
                      almost always): deliveries are ordered by the very strings the lake has
  id_hash             32 bits of hash(event_id), to find an event's other deliveries cheaply
  vid, uid, pid       the `names` ids of user_key, user_id and page: reports count distinct
                      visitors over these integers and group pages by pid (the same rows as over
                      the strings, about twice as fast)
A row with delivery NULL is loaded but not derived yet; queries skip it, the next sync derives it.

`visits` holds one row per stored session (user_key, session_no = its first event's ts): the
dt span and site of its events, and every reports.SESSION_VIEWS column (`<view>_<column>`, and
`<view>_n` = 1 where the view has a row), computed by the views' own SQL, its bot events
(`bot_events`) and each of its pages at its deepest scroll (`scroll_deepest`, a list). A report
uses these rows for the sessions that lie wholly inside its range and need no recount, and runs
the views over the events of the few others.

`hours`, `page_hours` and `page_visitors` (HOURLY) count the first deliveries per dt, hour,
site and bot or not: events and page views; per page, page views and page leaves with their
engaged time; and each page's distinct (vid, uid) pairs. `traffic` and `pages` add these up
rather than reading every event of their range when the range is whole hours and no filter
needs the events themselves (StoreQuery.hour_counts, StoreQuery.page_totals).
"""

from __future__ import annotations

from collections.abc import Callable

from analysis import reports
from analysis.dialects import Dialect, DuckDB, sql_literal

SCHEMA_VERSION = 12  # bump when the tables or their derivation change; older stores are rebuilt
GAP = reports.SESSION_GAP_MS
DERIVED = ("delivery", "prev_dt", "gap_ms", "sess_age", "vid", "uid", "pid")
CANONICAL = "strftime(epoch_ms(ts), '%Y-%m-%dT%H:%M:%S.%gZ')"
RECEIVED = f"COALESCE(received_raw, {CANONICAL})"  # = the lake's received_at
DELIVERY_ORDER = f"ORDER BY {RECEIVED}, rowid"
VISITOR_ORDER = "ORDER BY ts, event_id"
TABLES = ("meta", "objects", "visitor_sites", "names", "events", "visits", "hours", "page_hours",
          "page_visitors")
HOUR_MS = 3_600_000


def prepared_names() -> list[str]:
    return [name for name, _ in reports.prepared_columns(DuckDB())]


def schema_key() -> str:
    """Changes whenever a stored column or its definition changes: the store is then rebuilt."""
    import hashlib

    text = repr((SCHEMA_VERSION, reports.prepared_columns(DuckDB()), reports.SESSION_GAP_MS))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _loaded_columns() -> str:
    """A lake_events row as stored (derived columns NULL): the one definition of its columns."""
    columns = ", ".join(f"{sql} AS {name}" for name, sql in reports.prepared_columns(DuckDB()))
    ts = dict(reports.prepared_columns(DuckDB()))["ts"]
    raw = (f"CASE WHEN received_at = strftime(epoch_ms({ts}), '%Y-%m-%dT%H:%M:%S.%gZ') "
           "THEN NULL ELSE received_at END")
    return (f"{columns}, CAST(dt AS DATE) AS dt, {raw} AS received_raw, "
            "CAST(hash(event_id) >> 32 AS UINTEGER) AS id_hash, "
            "CAST(NULL AS INTEGER) AS delivery, CAST(NULL AS DATE) AS prev_dt, "
            "CAST(NULL AS INTEGER) AS gap_ms, CAST(NULL AS BIGINT) AS sess_age, "
            "CAST(NULL AS INTEGER) AS vid, CAST(NULL AS INTEGER) AS uid, "
            "CAST(NULL AS INTEGER) AS pid")


def visit_rows(source: str) -> str:
    """A SELECT of `visits` rows for the sessions of the derived rows in source (a relation with
    the events table's columns), through reports.SESSION_VIEWS: the same SQL as over the lake."""
    views = reports.SESSION_VIEWS
    ctes = ",\n".join(f"v_{v.name} AS ({v.sql('src')})" for v in views)
    columns = ", ".join(f"v_{v.name}.{c} AS {v.name}_{c}" for v in views for c in v.columns)
    present = ", ".join(f"CASE WHEN v_{v.name}.user_key IS NOT NULL THEN 1 END AS {v.name}_n"
                        for v in views)
    joins = "\n".join(f"LEFT JOIN v_{v.name} ON v_{v.name}.user_key = span.user_key "
                      f"AND v_{v.name}.session_no = span.session_no" for v in views)
    return f"""WITH src AS (
  SELECT {", ".join(prepared_names())}, ts - sess_age AS session_no, dt, pid
  FROM {source} s
  WHERE delivery = 1 AND user_key IS NOT NULL AND ts IS NOT NULL AND sess_age IS NOT NULL
),
span AS (
  SELECT user_key, session_no, MIN(dt) AS min_dt, MAX(dt) AS max_dt, MIN(site) AS site,
    SUM(CASE WHEN is_bot THEN 1 ELSE 0 END) AS bot_events
  FROM src GROUP BY user_key, session_no
),
{ctes},
leaves AS (
  SELECT user_key, session_no,
    LIST({{'page_key': pid, 'deepest': deepest}}) AS scroll_deepest
  FROM (SELECT user_key, session_no, pid, MAX(scroll_depth) AS deepest
        FROM src WHERE {reports.LEAVES} GROUP BY user_key, session_no, pid) per_page
  GROUP BY user_key, session_no
)
SELECT span.*, {columns}, {present}, leaves.scroll_deepest
FROM span
{joins}
LEFT JOIN leaves ON leaves.user_key = span.user_key AND leaves.session_no = span.session_no"""


def hour_rows(events: str) -> str:
    """`hours` rows over the events relation `events` (first deliveries with a time)."""
    return f"""SELECT dt, ts - ts % {HOUR_MS} AS hour_ms, site, COALESCE(is_bot, false) AS bot,
  COUNT(*) AS events, COUNT(*) FILTER (WHERE event_type = 'page_view') AS page_views
FROM {events} h
WHERE delivery = 1 AND ts IS NOT NULL
GROUP BY ALL"""


PAGE = "page <> ''"  # what `pages` counts (reports.pages)


def page_hour_rows(events: str) -> str:
    """`page_hours` rows: per dt, hour (NULL: no time), page id, site and bot or not, the first
    deliveries' page views, and their page leaves with an engaged time (count and sum)."""
    return f"""SELECT dt, ts - ts % {HOUR_MS} AS hour_ms, pid, site, COALESCE(is_bot, false) AS bot,
  COUNT(*) FILTER (WHERE event_type = 'page_view') AS views,
  COUNT(engaged_milli_sec) FILTER (WHERE event_type = 'page_leave') AS leaves,
  SUM(engaged_milli_sec) FILTER (WHERE event_type = 'page_leave') AS engaged
FROM {events} h
WHERE delivery = 1 AND {PAGE} AND event_type IN ('page_view', 'page_leave')
GROUP BY ALL"""


def page_visitor_rows(events: str) -> str:
    """`page_visitors` rows: the (user_key id, member id) pairs of the first deliveries' page
    views per dt, hour, page id, site and bot or not (`pages` counts distinct visitors)."""
    return f"""SELECT DISTINCT dt, ts - ts % {HOUR_MS} AS hour_ms, pid, site,
  COALESCE(is_bot, false) AS bot, vid, uid
FROM {events} h
WHERE delivery = 1 AND {PAGE} AND event_type = 'page_view'"""


# Tables of counts per hour, each a SELECT over an events relation; kept in step with `events`
# by the hour: a change to an hour's first deliveries makes its rows again (REFRESH_HOURS).
HOURLY = {"hours": hour_rows, "page_hours": page_hour_rows, "page_visitors": page_visitor_rows}


def hour_keys(rows: str) -> str:
    """The (dt, hour) pairs of the events in rows (hour NULL: no time), whose HOURLY rows
    REFRESH_HOURS makes again."""
    return (f"CREATE OR REPLACE TEMP TABLE h_keys AS SELECT DISTINCT dt, ts - ts % {HOUR_MS} "
            f"AS hour_ms FROM {rows}")


REFRESH_HOURS = [statement for table, rows in HOURLY.items() for statement in (
    f"DELETE FROM {table} USING h_keys k WHERE {table}.dt = k.dt "
    f"AND {table}.hour_ms IS NOT DISTINCT FROM k.hour_ms",
    f"INSERT INTO {table} " + rows(
        f"(SELECT e.* FROM events e SEMI JOIN h_keys k "
        f"ON e.dt = k.dt AND e.ts - e.ts % {HOUR_MS} IS NOT DISTINCT FROM k.hour_ms)"))]


def by_day(rows: str) -> str:
    """visits rows in the order of their days: a range's scan of `visits` then skips the row
    groups of other days by their zone maps (a sync appends the newest sessions at the end)."""
    return f"SELECT * FROM ({rows}) by_day ORDER BY min_dt, max_dt"


def create_tables(schema: str = "main") -> list[str]:
    return [
        f"CREATE TABLE {schema}.meta (key VARCHAR, value VARCHAR)",
        f"CREATE TABLE {schema}.objects (key VARCHAR, dt VARCHAR, via VARCHAR, "
        "loaded_at TIMESTAMP DEFAULT current_timestamp)",
        f"CREATE TABLE {schema}.visitor_sites (user_key VARCHAR, site VARCHAR)",
        f"CREATE TABLE {schema}.names (name VARCHAR, id INTEGER)",
        f"CREATE TABLE {schema}.events AS SELECT {_loaded_columns()} FROM {reports.SOURCE} "
        "WHERE false",
        f"CREATE TABLE {schema}.visits AS SELECT * FROM ({visit_rows(f'{schema}.events')}) "
        "WHERE false",
        *(f"CREATE TABLE {schema}.{table} AS {rows(f'{schema}.events')} LIMIT 0"
          for table, rows in HOURLY.items()),
    ]


def insert_loaded() -> str:
    """Rows of the temp view lake_events (the objects being loaded), not derived yet."""
    return f"INSERT INTO events SELECT {_loaded_columns()} FROM {reports.SOURCE}"


NEW_SITES = """INSERT INTO visitor_sites
    SELECT DISTINCT user_key, site FROM events WHERE delivery IS NULL AND user_key IS NOT NULL
    EXCEPT SELECT user_key, site FROM visitor_sites"""

# Ids for the user_keys, user_ids and pages of the pending rows that have none yet (one
# numbering: a visitor is counted by its member id, else its user_key).
NEW_NAMES = """INSERT INTO names
    SELECT name, CAST((SELECT COALESCE(MAX(id), 0) FROM names)
      + ROW_NUMBER() OVER (ORDER BY name) AS INTEGER)
    FROM ((SELECT user_key AS name FROM events WHERE delivery IS NULL
           UNION SELECT user_id FROM events WHERE delivery IS NULL
           UNION SELECT page FROM events WHERE delivery IS NULL)
          EXCEPT SELECT name FROM names) fresh
    WHERE name IS NOT NULL"""

# A d_rows delivery that became the first of its event_id, or stopped being it (the strangers
# that share a hash keep their rank).
FIRST_CHANGED = ("(old_delivery IS NULL AND new_delivery = 1) "
                 "OR (old_delivery = 1) <> (new_delivery = 1)")

# Incremental derivation: only the event_ids and visitors that the pending rows touch.
DERIVE_STEPS = [
    # Sites seen per visitor: a visitor on several sites is recomputed per query when a report
    # asks for one site (its stored sessions span sites).
    NEW_SITES,
    NEW_NAMES,
    """UPDATE events SET vid = n.id FROM names n
    WHERE events.delivery IS NULL AND n.name = events.user_key""",
    """UPDATE events SET uid = n.id FROM names n
    WHERE events.delivery IS NULL AND n.name = events.user_id""",
    """UPDATE events SET pid = n.id FROM names n
    WHERE events.delivery IS NULL AND n.name = events.page""",
    # Every delivery of the pending rows' event_ids, found by hash (32 bits of it: a few
    # strangers come along, and the window leaves them as they were). Their rowids first, from
    # the narrow columns: the wide ones are then read for those rows only.
    f"""CREATE OR REPLACE TEMP TABLE d_rows AS
    SELECT rowid AS rid, user_key, ts, dt, delivery AS old_delivery,
      ROW_NUMBER() OVER w AS new_delivery, LAG(dt) OVER w AS new_prev_dt
    FROM events
    WHERE rowid IN (SELECT rowid FROM events
                    WHERE id_hash IN (SELECT id_hash FROM events WHERE delivery IS NULL))
    WINDOW w AS (PARTITION BY event_id {DELIVERY_ORDER})""",
    """UPDATE events SET delivery = d.new_delivery, prev_dt = d.new_prev_dt
    FROM d_rows d WHERE events.rowid = d.rid""",
    # The hours of the deliveries that became or stopped being the first are counted again.
    hour_keys(f"(SELECT * FROM d_rows WHERE {FIRST_CHANGED}) changed"),
    *REFRESH_HOURS,
    # Visitors whose unique events changed, and the earliest change of each.
    f"""CREATE OR REPLACE TEMP TABLE s_users AS
    SELECT user_key, MIN(ts) AS m FROM d_rows
    WHERE user_key IS NOT NULL AND ({FIRST_CHANGED})
    GROUP BY user_key""",
    # b: start of the session holding the last unchanged event before the change; p: the
    # event just before that session (so the window sees its gap). Read from `visits`,
    # which holds the sessions as they were (disjoint: the last start before m is b's).
    """CREATE OR REPLACE TEMP TABLE s_bounds AS
    WITH starts AS (
      SELECT u.user_key, u.m, MAX(v.session_no) AS b
      FROM s_users u LEFT JOIN visits v ON v.user_key = u.user_key AND v.session_no < u.m
      GROUP BY u.user_key, u.m
    )
    SELECT s.user_key, s.m, s.b, MAX(v.sessions_end_ms) AS p
    FROM starts s LEFT JOIN visits v ON v.user_key = s.user_key AND v.session_no < s.b
    GROUP BY s.user_key, s.m, s.b""",
]

# The earliest time the rest of the derivation reads (NULL: unknown, read everything). Rows
# before it are skipped by the table's zone maps: a sync reads the recent end of the table.
LOWEST = """SELECT MIN(COALESCE(p, b, m)), COUNT(*) FILTER (WHERE COALESCE(p, b, m) IS NULL)
    FROM s_bounds"""


def derive_sessions(lowest: int | None) -> list[str]:
    """Sessions and visits rows again for the visitors in s_bounds, from each one's b on.
    Rows without a time keep their NULL session columns, as a full derivation leaves them."""
    since = "true" if lowest is None else f"e.ts >= {int(lowest)}"
    return [
        f"""CREATE OR REPLACE TEMP TABLE s_rows AS
    WITH w AS (
      SELECT e.rowid AS rid, e.user_key, e.event_id, e.ts, b.b,
        CASE WHEN e.ts - LAG(e.ts) OVER o <= {GAP} THEN e.ts - LAG(e.ts) OVER o END AS gap_ms
      FROM events e JOIN s_bounds b ON e.user_key = b.user_key
      WHERE {since} AND e.delivery = 1 AND (b.p IS NULL OR e.ts >= b.p OR e.ts IS NULL)
      WINDOW o AS (PARTITION BY e.user_key {VISITOR_ORDER})
    )
    SELECT rid, b, ts, gap_ms,
      ts - MAX(CASE WHEN gap_ms IS NULL THEN ts END) OVER (PARTITION BY user_key {VISITOR_ORDER}
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sess_age
    FROM w""",
        """UPDATE events SET gap_ms = s.gap_ms, sess_age = s.sess_age
    FROM s_rows s WHERE events.rowid = s.rid AND (s.b IS NULL OR s.ts >= s.b OR s.ts IS NULL)""",
        # The sessions from b on were renumbered: their visits rows are made again.
        """DELETE FROM visits USING s_bounds s
    WHERE visits.user_key = s.user_key AND (s.b IS NULL OR visits.session_no >= s.b)""",
        "INSERT INTO visits " + visit_rows(
            "(SELECT e.* FROM events e JOIN s_bounds b ON e.user_key = b.user_key "
            f"WHERE {since} AND (b.b IS NULL OR e.ts - e.sess_age >= b.b))"),
    ]


# Tables a sync appends to. Their appends get row groups of their own (store.py keeps the
# sync's checkpoint from merging them, which recompresses up to a full group); a merging
# checkpoint folds them into full groups and drops the deleted rows. DuckDB considers that only
# for a table with committed changes, so the merge takes each one's newest row out and puts it
# back, in one transaction: the rows stay the same.
APPENDED = ("events", "visits")


def touch(table: str) -> list[str]:
    newest = f"rowid = (SELECT MAX(rowid) FROM {table})"
    return [f"CREATE OR REPLACE TEMP TABLE m_row AS SELECT * FROM {table} WHERE {newest}",
            f"DELETE FROM {table} WHERE {newest}",
            f"INSERT INTO {table} SELECT * FROM m_row", "DROP TABLE m_row"]


def derive_all(target: str, names: str) -> list[str]:
    """Every row of `events` derived at once into the table `target` (a build), `names` holding
    an id for each of its user_keys and user_ids. The windows run
    over narrow projections (the deliveries window only over event_ids seen more than once),
    and their results join the wide rows by position, so the wide rows are never sorted."""
    loaded = ", ".join(n for n in prepared_names() + ["dt", "received_raw", "id_hash"])
    return [
        f"""CREATE OR REPLACE TEMP TABLE b_dups AS
    SELECT rowid AS rid, CAST(ROW_NUMBER() OVER w AS INTEGER) AS delivery,
      LAG(dt) OVER w AS prev_dt
    FROM events
    WHERE id_hash IN (SELECT id_hash FROM events GROUP BY id_hash HAVING COUNT(*) > 1)
    WINDOW w AS (PARTITION BY event_id {DELIVERY_ORDER})""",
        f"""CREATE OR REPLACE TEMP TABLE b_sessions AS
    WITH v AS (
      SELECT rowid AS rid, user_key, event_id, ts,
        CAST(CASE WHEN ts - LAG(ts) OVER o <= {GAP} THEN ts - LAG(ts) OVER o END AS INTEGER)
          AS gap_ms
      FROM events
      WHERE user_key IS NOT NULL
        AND rowid NOT IN (SELECT rid FROM b_dups WHERE delivery > 1)
      WINDOW o AS (PARTITION BY user_key {VISITOR_ORDER})
    )
    SELECT rid, gap_ms, ts - MAX(CASE WHEN gap_ms IS NULL THEN ts END) OVER (
        PARTITION BY user_key {VISITOR_ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        AS sess_age
    FROM v""",
        f"""CREATE OR REPLACE TEMP TABLE b_derived AS
    SELECT COALESCE(d.delivery, 1) AS delivery, d.prev_dt, s.gap_ms, s.sess_age,
      k.id AS vid, u.id AS uid, g.id AS pid
    FROM (SELECT rowid AS rid, user_key, user_id, page FROM events) e
    LEFT JOIN b_dups d ON d.rid = e.rid
    LEFT JOIN b_sessions s ON s.rid = e.rid
    LEFT JOIN {names} k ON k.name = e.user_key
    LEFT JOIN {names} u ON u.name = e.user_id
    LEFT JOIN {names} g ON g.name = e.page
    ORDER BY e.rid""",
        f"""CREATE TABLE {target} AS
    SELECT {loaded}, b_derived.* FROM (SELECT {loaded} FROM events) POSITIONAL JOIN b_derived""",
        "DROP TABLE b_dups", "DROP TABLE b_sessions", "DROP TABLE b_derived",
    ]


def rewrite_in_place() -> list[str]:
    return [NEW_SITES, NEW_NAMES, *derive_all("events_new", "names"), "DROP TABLE events",
            "ALTER TABLE events_new RENAME TO events", "DELETE FROM visits",
            f"INSERT INTO visits {by_day(visit_rows('events'))}",
            *(statement for table, rows in HOURLY.items()
              for statement in (f"DELETE FROM {table}", f"INSERT INTO {table} {rows('events')}"))]


def copy_into(schema: str) -> list[str]:
    """A built store written afresh into the attached database `schema` (no free blocks)."""
    return [
        f"CREATE TABLE {schema}.meta AS SELECT * FROM meta",
        f"CREATE TABLE {schema}.objects AS SELECT * FROM objects",
        f"CREATE TABLE {schema}.visitor_sites AS SELECT DISTINCT user_key, site FROM events "
        "WHERE user_key IS NOT NULL",
        f"""CREATE TABLE {schema}.names AS
    SELECT name, CAST(ROW_NUMBER() OVER (ORDER BY name) AS INTEGER) AS id
    FROM (SELECT user_key AS name FROM events UNION SELECT user_id FROM events
          UNION SELECT page FROM events) every
    WHERE name IS NOT NULL""",
        *derive_all(f"{schema}.events", f"{schema}.names"),
        f"CREATE TABLE {schema}.visits AS {by_day(visit_rows(f'{schema}.events'))}",
        *(f"CREATE TABLE {schema}.{table} AS {rows(f'{schema}.events')} ORDER BY dt"
          for table, rows in HOURLY.items()),
    ]


def within(d: Dialect, opts: dict) -> str:
    """A visits row wholly inside the report's range."""
    sql = (f"min_dt >= {d.param('from', opts['from'])} AND max_dt <= {d.param('to', opts['to'])}")
    if opts.get("exact_range"):
        sql += (f" AND sessions_start_ms >= {d.param('start_ms', opts['start_ms'])}"
                f" AND sessions_end_ms < {d.param('end_ms', opts['end_ms'])}")
    return sql


def cut(d: Dialect, opts: dict) -> str:
    """A visits row in the report's range that is not wholly inside it."""
    return (f"max_dt >= {d.param('from', opts['from'])} AND min_dt <= {d.param('to', opts['to'])}"
            f" AND NOT ({within(d, opts)})")


def edges(opts: dict) -> str:
    """The time spans of the cut sessions: those starting before the range, and the others
    (ending after it), as (lo, hi) pairs."""
    d = DuckDB()
    before = (f"min_dt < {d.param('from', opts['from'])}"
              + (f" OR sessions_start_ms < {opts['start_ms']}" if opts.get("exact_range") else ""))
    return f"""SELECT MIN(sessions_start_ms) FILTER (WHERE {before}),
  MAX(sessions_end_ms) FILTER (WHERE {before}),
  MIN(sessions_start_ms) FILTER (WHERE NOT ({before})),
  MAX(sessions_end_ms) FILTER (WHERE NOT ({before}))
FROM visits
WHERE {cut(d, opts)}"""


def _visitor(alias: str) -> str:
    """The stitched visitor (reports._visitor) of a row `alias` with vid and uid joined by
    _member_join: the `names` id of its member id, else its user_key's, else of its user_key."""
    return f"COALESCE({alias}.uid, m.member, {alias}.vid)"


def _member_join(alias: str) -> str:
    return f"LEFT JOIN member_ids m ON m.vid = {alias}.vid"


class StoreQuery:
    """The shared CTEs (`unique_events`, `marked`, `numbered`, `sessions`) over the store, for
    reports.render: the same names and columns as over the lake, and the same rows."""

    def __init__(self, opts: dict):
        self.opts = opts
        self.cuts_sessions = False  # rendered `rest`: it reads the cut sessions by time
        self.recounts = False  # rendered `recount`: store.query may look its user_keys up first

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
  SELECT {", ".join(names)}, delivery, gap_ms, sess_age, vid, uid, pid
  FROM ({kept}) kept
  WHERE true{filters}
),
unique_events AS NOT MATERIALIZED (
  SELECT {", ".join(names)} FROM stored
)"""

    def people(self, d: Dialect, opts: dict) -> str:
        """reports._people's CTEs, `visitor` being the `names` id of the stitched identity
        (reports only count distinct visitors) and `page_key` the page's. Not materialized:
        each use reads only its own rows and columns (`pages` reads page views and leaves apart)."""
        return f"""{reports.identities(self.identity_rows(d, opts), ref="vid")},
member_ids AS (
  SELECT i.user_ref AS vid, n.id AS member
  FROM identities i JOIN names n ON n.name = i.member
),
people AS NOT MATERIALIZED (
  SELECT {", ".join("e." + n for n in prepared_names())},
    {_visitor("e")} AS visitor, e.pid AS page_key
  FROM stored e
  {_member_join("e")}
)"""

    def hour_counts(self, d: Dialect, opts: dict, bucket_ms: Callable[[str], str]) -> str | None:
        """traffic's `counts` (events and page views per bucket) added up from `hours`, plus the
        re-deliveries the range counts (their first delivery lies before it; a few rows), when
        the range and the buckets are whole hours and no filter needs the events themselves;
        else None. bucket_ms(column): the bucket of a time column."""
        kept = self._hourly(d, opts)
        if kept is None or opts["bucket_seconds"] % 3600 or opts.get("offset_s", 0) % 3600:
            return None
        return f"""SELECT {bucket_ms("hour_ms")} AS bucket_ms,
    CAST(SUM(events) AS BIGINT) AS events, CAST(SUM(page_views) AS BIGINT) AS page_views
  FROM (SELECT hour_ms, events, page_views FROM hours
        WHERE {kept}
        UNION ALL
        SELECT ts - ts % {HOUR_MS}, 1, CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END
        FROM stored WHERE delivery > 1 AND ts IS NOT NULL) tallied
  GROUP BY 1"""

    def _hourly(self, d: Dialect, opts: dict) -> str | None:
        """The condition on HOURLY rows that keeps the range's, when its hours make it up and no
        filter needs the events themselves; else None."""
        if (opts.get("filter_page") or opts.get("referrer") or opts["start_ms"] % HOUR_MS
                or opts["end_ms"] % HOUR_MS):
            return None
        kept = [f"dt BETWEEN {d.param('from', opts['from'])} AND {d.param('to', opts['to'])}"]
        if opts.get("exact_range"):
            kept += [f"hour_ms >= {d.param('start_ms', opts['start_ms'])}",
                     f"hour_ms < {d.param('end_ms', opts['end_ms'])}"]
        if opts.get("site"):
            kept.append(f"site = {d.param('site', opts['site'])}")
        if not opts.get("include_bots"):
            kept.append("NOT bot")
        return " AND ".join(kept)

    def page_totals(self, d: Dialect, opts: dict) -> str | None:
        """`pages`' CTEs `views` (page_key, page, page_views, visitors) and `leaves` (page_key,
        avg_engaged_ms) added up from `page_hours` and `page_visitors`, plus the re-deliveries
        the range counts, when HOURLY rows make up the range (see _hourly); else None."""
        kept = self._hourly(d, opts)
        if kept is None:
            return None
        again = f"stored WHERE delivery > 1 AND {PAGE}"
        return f"""page_rows AS (
  SELECT pid, views, leaves, engaged FROM page_hours WHERE {kept}
  UNION ALL
  SELECT pid, CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END,
    CASE WHEN event_type = 'page_leave' AND engaged_milli_sec IS NOT NULL THEN 1 ELSE 0 END,
    CASE WHEN event_type = 'page_leave' THEN engaged_milli_sec END
  FROM {again} AND event_type IN ('page_view', 'page_leave')
),
page_viewers AS (
  SELECT pid, vid, uid FROM page_visitors WHERE {kept}
  UNION ALL
  SELECT pid, vid, uid FROM {again} AND event_type = 'page_view'
),
views AS (
  SELECT c.page_key, n.name AS page, c.page_views, v.visitors
  FROM (SELECT pid AS page_key, CAST(SUM(views) AS BIGINT) AS page_views FROM page_rows
        GROUP BY pid HAVING SUM(views) > 0) c
  JOIN (SELECT p.pid AS page_key, COUNT(DISTINCT {_visitor("p")}) AS visitors
        FROM page_viewers p {_member_join("p")}
        GROUP BY p.pid) v ON v.page_key = c.page_key
  JOIN names n ON n.id = c.page_key
),
leaves AS (
  SELECT pid AS page_key, ROUND(SUM(engaged) / SUM(leaves), 1) AS avg_engaged_ms
  FROM page_rows
  GROUP BY pid
)"""

    def deepest_leaves(self) -> str:
        """reports.deepest_leaves: kept per visit for the sessions inside the range."""
        return f"""SELECT kept.d.page_key AS page_key, kept.d.deepest AS deepest
  FROM (SELECT UNNEST(scroll_deepest) AS d FROM inside) kept
  UNION ALL
  {reports.deepest_leaves("rest")}"""

    def page_labels(self) -> str:
        """Each page_key with its page: the `names` row of the page id."""
        return "SELECT id AS page_key, name AS page FROM names"

    def visitor_count(self) -> str:
        """people's distinct `visitor`s with a user_key, counted over the distinct (vid, uid)
        pairs: the member join then runs over thousands of rows rather than millions."""
        return f"""SELECT COUNT(DISTINCT {_visitor("p")})
  FROM (SELECT DISTINCT vid, uid FROM stored WHERE user_key IS NOT NULL) p
  {_member_join("p")}"""

    def identity_rows(self, d: Dialect, opts: dict) -> str:
        """Every derived delivery of the range's days, whatever the filters: where reports find
        the member ids seen with each user_key (reports._people), as over the lake."""
        return f"""(SELECT user_key, user_id, vid FROM events
    WHERE dt BETWEEN {d.param("from", opts["from"])} AND {d.param("to", opts["to"])}
      AND delivery IS NOT NULL) days"""

    def recount(self, d: Dialect) -> str:
        """The user_keys numbered in the query rather than taken from `visits`: a SELECT."""
        # Stored session keys hold for a visitor when the range's unique events are the
        # visitor's stored ones cut to a time range (the referrer filter keeps or drops whole
        # visitors). They are not when a re-delivery counts in the range (its first delivery
        # lies before it), when an event has no time, for one site when the visitor also
        # browsed another, for one page, and for bots left out: those visitors are numbered
        # here, as over the lake.
        first, last = d.param("from", self.opts["from"]), d.param("to", self.opts["to"])
        days = f"dt BETWEEN {first} AND {last} AND user_key IS NOT NULL"
        # Read from the table rather than `stored`: a few rows found by zone maps instead of a
        # pass over the range (without the report's filters: recounting more is still exact).
        recount = (f"SELECT user_key FROM events WHERE {days} AND delivery > 1 AND prev_dt < "
                   f"{first}\n  UNION SELECT user_key FROM events WHERE {days} AND ts IS NULL "
                   "AND delivery IS NOT NULL")
        if self.opts.get("filter_page"):
            recount = "SELECT DISTINCT user_key FROM stored WHERE user_key IS NOT NULL"
        recounted = ("\n  UNION SELECT user_key FROM visitor_sites GROUP BY user_key "
                     "HAVING COUNT(*) > 1") if self.opts.get("site") else ""
        # Bots left out: a visitor with both bot and other events in the sessions that reach
        # the range's days is numbered here too (the stored sessions counted the bot events);
        # the sessions of bots alone are left out of `inside` (_visits).
        if not self.opts.get("include_bots"):
            reach = f"max_dt >= {first} AND min_dt <= {last}"
            recounted += f"""
  UNION SELECT user_key FROM visits
  WHERE {reach} AND user_key IN (SELECT user_key FROM visits WHERE {reach} AND bot_events > 0)
  GROUP BY user_key HAVING SUM(bot_events) < SUM(sessions_events)"""
        return recount + recounted

    def recount_lookup(self, d: Dialect) -> str:
        """A query of the recounted user_keys (store.query asks it first: see _recounted)."""
        return (f"WITH {self.events(d, self.opts)}\n"
                f"SELECT DISTINCT user_key FROM ({self.recount(d)}) recount")

    def _recounted(self, d: Dialect) -> tuple[str, str, str]:
        """The `recount` CTE (when one is needed), and the conditions for a row of a recounted
        user_key and of another. When store.query has looked the user_keys up
        (opts["recounted"]), they are written out: most ranges recount none, and a join with
        `recount` between the scan of `events` and a report's own join would keep DuckDB from
        filtering that scan by the report's join keys (`members`: 311,190 rows of a day read
        rather than 14,888)."""
        keys = self.opts.get("recounted")
        if keys is None:
            return f"recount AS (\n  {self.recount(d)}\n),\n", \
                "user_key IN (SELECT user_key FROM recount)", \
                "user_key NOT IN (SELECT user_key FROM recount)"
        if not keys:
            return "", "false", "true"
        listed = ", ".join(sql_literal(key) for key in keys)
        return "", f"user_key IN ({listed})", f"user_key NOT IN ({listed})"

    def sessions(self, d: Dialect) -> str:
        names = ", ".join(prepared_names())
        start = d.param("start_ms", self.opts["start_ms"])
        recount, recounted, kept = self._recounted(d)
        self.recounts = True
        return f"""{recount}marked AS (
  SELECT {names}, vid AS user_ref, pid AS page_key,
    CASE WHEN ts - LAG(ts) OVER (PARTITION BY user_key {VISITOR_ORDER}) <= {GAP}
      THEN 0 ELSE 1 END AS new_session
  FROM stored
  WHERE {recounted}
),
kept_numbered AS NOT MATERIALIZED (
  SELECT {names}, vid AS user_ref, pid AS page_key,
    CASE WHEN gap_ms IS NULL OR ts - gap_ms < {start} THEN 1 ELSE 0 END AS new_session,
    ts - sess_age AS session_no
  FROM stored
  WHERE user_key IS NOT NULL AND {kept}
),
recounted AS (
  SELECT *,
    SUM(new_session) OVER (PARTITION BY user_key {VISITOR_ORDER}
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_no
  FROM marked
),
numbered AS NOT MATERIALIZED (
  SELECT * FROM kept_numbered
  UNION ALL
  SELECT * FROM recounted
),
{self._visits(d, kept)}"""

    def _visits(self, d: Dialect, not_recounted: str) -> str:
        """`inside`: the stored sessions (visits rows) a report takes as they are: wholly inside
        the range, of visitors not recounted, kept by the filters. `rest`: the numbered events
        of every other session in the range, over which the session views run."""
        opts = self.opts
        kept = ""
        if opts.get("filter_page"):  # a page's events are not whole sessions: all recounted
            kept += "\n    AND false"
        if opts.get("site"):  # visitors of one site only (the others are recounted)
            kept += f"\n    AND site = {d.param('site', opts['site'])}"
        if not opts.get("include_bots"):  # the others' are recounted
            kept += "\n    AND bot_events = 0"
        if opts.get("referrer"):  # visitors who arrived from it, as `stored` keeps them
            kept += "\n    AND user_key IN (SELECT user_key FROM stored)"
        # The sessions cut by the range lie within `edges` (store.query looks them up first):
        # their events are found by time, so the scan skips the rest of the table.
        self.cuts_sessions = True
        spans = [f"n.ts BETWEEN {d.param('edge_lo', lo)} AND {d.param('edge_hi', hi)}"
                 for lo, hi in opts.get("edges", ()) if lo is not None]
        return f"""inside AS (
  SELECT * FROM visits
  WHERE {within(d, opts)}{kept}
    AND {not_recounted}
),
boundary AS (
  SELECT user_key, session_no FROM visits
  WHERE {cut(d, opts)}
),
rest AS (
  SELECT * FROM recounted
  UNION ALL
  SELECT n.* FROM kept_numbered n
  SEMI JOIN boundary b ON b.user_key = n.user_key AND b.session_no = n.session_no
  WHERE {" OR ".join(spans) or "false" if "edges" in opts else "true"}
)"""

    def session_view(self, d: Dialect, view: reports.SessionView) -> str:
        columns = ", ".join(f"{view.name}_{c} AS {c}" for c in view.columns)
        return f"""{view.name} AS (
  SELECT user_key, session_no, {columns} FROM inside WHERE {view.name}_n = 1
  UNION ALL
  {view.sql("rest")}
)"""


class StoreDialect(DuckDB):
    """DuckDB over the store's tables rather than the lake's view."""

    def __init__(self, opts: dict):
        super().__init__()
        self.store = StoreQuery(opts)


def render(name: str, opts: dict) -> str:
    return reports.render(name, StoreDialect(opts), opts)
