"""The query store: a DuckDB file kept in step with the lake, so reports answer in milliseconds.

A cache, never the source of truth: deleting it loses nothing. Lake objects are immutable and
content-named, so each is loaded once and recorded in `objects`; new ones are found by listing
the day folders and only the newest days' objects. See analysis/store_sql.py for the tables.

Consistency and concurrency. Every load is one DuckDB transaction (rows + the objects they came
from), and rows are derived (deduplicated, sessionized) in the same or a later transaction; rows
not derived yet are invisible to queries, so a sync killed at any point leaves a consistent
store and the next sync finishes the job. DuckDB allows one writing process per file, so:
  - readers open the file read-only and briefly (one query), retrying while a writer holds it;
  - a sync holds the write lock only while it loads a chunk of objects (downloads happen
    before), releasing it between chunks so readers get in;
  - a build from scratch (no store, or one of an older schema) is written to `<store>.building`
    and renamed over the store when done, so readers keep the old store (or the lake) meanwhile,
    and a killed build is resumed by the next sync.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from analysis import duck, lake_files, reports, store_sql
from logdig.lake import DirLake
from logdig.lake_layout import NDJSON_SUFFIX, PARQUET_NAME, day_prefix, listed_days, parquet_key

log = logging.getLogger("logdig.store")

QUERY_MEMORY = "600MB"  # a report's working set; the process stays well under 1 GiB
SYNC_MEMORY = "2GB"  # building 10 million rows' windows; spills to <store>.tmp beyond it
THREADS = max(1, min(os.cpu_count() or 1, 4))
CHUNK_OBJECTS = 48  # objects per load transaction (about half a million events)
LOCK_WAIT_S = 30.0
# A sync's appends are merged into full row groups (see _checkpoint) by a sync that finds
# nothing new once MERGE_WHEN_IDLE syncs have appended, or by the MERGE_AT_MOST-th in a row.
MERGE_WHEN_IDLE = 4
MERGE_AT_MOST = 32
RECOUNT_LISTED = 1000  # recounted user_keys written into a report's SQL (more: a join)


class StoreError(RuntimeError):
    """The store cannot be used as asked; the message names the path. busy: only for now,
    another sync or connection holds it."""

    def __init__(self, message: str, busy: bool = False):
        super().__init__(message)
        self.busy = busy


def default_path(create: bool = False) -> Path:
    """LOGDIG_DATA_DIR/store.duckdb, the store of the configured lake (its folder made when
    create, as local mode makes it for the queue and the lake)."""
    from config import load_settings

    folder = load_settings().data_dir
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"store folder {folder} cannot be made: {exc}") from exc
    return folder / "store.duckdb"


def resolve(path: str | Path | None) -> Path:
    return Path(path) if path is not None else default_path()


def building_path(path: Path) -> Path:
    return path.with_name(path.name + ".building")


def _locked(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text


def connect(path: Path, read_only: bool, wait_s: float = LOCK_WAIT_S, memory: str | None = None,
            merging: bool = True):
    """A DuckDB connection to the store file, waiting up to wait_s while another process
    writes it (DuckDB: one writer, or any number of readers, per file). merging=False: its
    checkpoints leave appended row groups as they are (see _checkpoint)."""
    import duckdb

    config = {"memory_limit": memory or (QUERY_MEMORY if read_only else SYNC_MEMORY),
              "threads": THREADS}
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            if not merging:
                con.execute("SET max_vacuum_tasks = 0")
            return con
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            # IOException: another process holds the file. ConnectionException: this process
            # has it open read-only (a report) while a sync wants to write, or the reverse.
            busy = isinstance(exc, duckdb.ConnectionException) or _locked(exc)
            if not busy or time.monotonic() >= deadline:
                raise StoreError(f"store {path}: {exc}", busy=busy) from exc
            time.sleep(0.05)


def check_writable(path: Path) -> None:
    folder = path.parent
    if path.exists() and not os.access(path, os.W_OK) or not path.exists() and not (
            folder.is_dir() and os.access(folder, os.W_OK)):
        raise StoreError(f"store path {path} is not writable (the folder {folder} must exist and "
                         "be writable; choose another with --store PATH, or use --no-store)")


def _meta(con) -> dict[str, str]:
    try:
        return dict(con.execute("SELECT key, value FROM meta").fetchall())
    except Exception:  # noqa: BLE001 - not a store of ours (or an empty file): rebuilt
        return {}


def lake_id(lake: lake_files.LakeLocation) -> str:
    return f"{lake.lake.url} {lake.events_prefix}"  # the lake's own URL: one spelling per lake


def is_configured(lake: lake_files.LakeLocation) -> bool:
    """Whether lake is the one the settings point at (whose store is the default one)."""
    from config import load_settings
    from logdig.lake import configured_url, lake_at

    settings = load_settings()
    if lake.events_prefix != settings.lake_prefix:
        return False
    if isinstance(lake.lake, DirLake):
        return settings.local_lake and lake.lake.root.resolve() == settings.lake_dir.resolve()
    return not settings.local_lake and lake.lake.url == lake_at(configured_url(settings),
                                                                settings).url


def usable(path: Path, lake: lake_files.LakeLocation, con) -> bool:
    """Whether the store at path is of the current schema; a store of another lake is an error
    rather than silently replaced."""
    meta = _meta(con)
    if meta.get("schema") != store_sql.schema_key():
        return False
    if meta.get("lake") != lake_id(lake):
        raise StoreError(f"store {path} holds the lake {meta.get('lake')!r}, not "
                         f"{lake_id(lake)!r}: choose another with --store PATH")
    return True


def _create(con, lake: lake_files.LakeLocation) -> None:
    duck.create_view(con, [], [])
    for statement in store_sql.create_tables():
        con.execute(statement)
    con.executemany("INSERT INTO meta VALUES (?, ?)",
                    [("schema", store_sql.schema_key()), ("lake", lake_id(lake))])


# ---- what to load ---------------------------------------------------------------------------

@dataclass
class Load:
    """One thing to read into the store: an NDJSON object, or a Parquet day standing for the
    NDJSON objects it was built from (`covers`)."""

    key: str
    dt: str
    kind: str  # "ndjson" | "parquet"
    covers: list[str] = field(default_factory=list)
    path: Path | None = None  # local copy, once fetched


def days_to_scan(lake: lake_files.LakeLocation, loaded_days: set[str], rescan: bool) -> list[str]:
    """Every day of a local lake (listing a folder is cheap); on S3 the days the store has
    never seen and its newest two (where the batcher still writes): older days it holds are
    complete, since the batcher only writes today's folder (`sync --rescan` lists them all)."""
    days = sorted(set(listed_days(lake.lake, lake.events_prefix))
                  | set(listed_days(lake.lake, lake.parquet_prefix)))
    if rescan or not loaded_days or lake.is_local:
        return days
    newest = sorted(loaded_days)[-2:]
    return [d for d in days if d not in loaded_days or d >= newest[0]]


def plan(lake: lake_files.LakeLocation, loaded: set[str], days: list[str],
         workdir: Path, loaded_days: frozenset[str] = frozenset()) -> list[Load]:
    loads = []
    for dt in days:
        folder = day_prefix(lake.events_prefix, dt)
        ndjson = [folder + n for n in lake.names(lake.events_prefix, dt, NDJSON_SUFFIX)]
        todo = [k for k in ndjson if k not in loaded]
        # A day the store holds with every NDJSON object loaded: its Parquet day (built from
        # those objects) holds nothing new, so its footer is not even read.
        if (todo or dt not in loaded_days) and PARQUET_NAME in lake.names(
                lake.parquet_prefix, dt, ".parquet"):
            key = parquet_key(lake.parquet_prefix, dt)
            path = lake.fetch(key, workdir)
            sources = [folder + n for n in lake_files.parquet_sources(path)]
            missing = [k for k in sources if k not in loaded]
            listed = set(ndjson)
            # The Parquet day when it is the only copy of something, or when none of it is
            # loaded yet (one columnar read beats many gzip ones); else the NDJSON it lacks.
            if missing and (len(missing) == len(sources) or not set(missing) <= listed):
                loads.append(Load(key, dt, "parquet", covers=missing, path=path))
                todo = [k for k in todo if k not in set(sources)]
        loads += [Load(k, dt, "ndjson") for k in todo]
    return loads


# ---- loading ---------------------------------------------------------------------------------

@dataclass
class Summary:
    store: str
    rebuilt: bool = False
    merged: bool = False  # appended row groups were merged (see _checkpoint)
    objects: int = 0
    events: int = 0
    skipped: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"store": self.store, "rebuilt": self.rebuilt, "objects": self.objects,
                "events": self.events, "skipped": self.skipped, "merged": self.merged,
                "seconds": self.seconds}


def _fetch(lake: lake_files.LakeLocation, loads: list[Load], workdir: Path) -> None:
    todo = [load for load in loads if load.path is None]
    with ThreadPoolExecutor(max_workers=1 if lake.is_local else 8) as pool:
        for load, path in zip(todo, pool.map(lambda x: lake.fetch(x.key, workdir), todo),
                              strict=True):
            load.path = path


def _insert(con, loads: list[Load]) -> int:
    """Rows of the loads into `events` (not derived yet) and their keys into `objects`."""
    parquet = [str(x.path) for x in loads if x.kind == "parquet"]
    ndjson = [str(x.path) for x in loads if x.kind == "ndjson"]
    duck.create_view(con, parquet, ndjson)
    before = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    con.execute(store_sql.insert_loaded())
    added = con.execute("SELECT COUNT(*) FROM events").fetchone()[0] - before
    records = []
    for load in loads:
        records.append((load.key, load.dt, None))
        records += [(k, load.dt, load.key) for k in load.covers]
    con.executemany("INSERT INTO objects (key, dt, via) VALUES (?, ?, ?)", records)
    return added


def _load_chunk(con, loads: list[Load], summary: Summary) -> None:
    """Loads in one transaction; when one object is bad, each is tried alone and the bad ones
    are skipped (named in the summary; not recorded, so the next sync tries them again)."""
    try:
        con.execute("BEGIN")
        summary.events += _insert(con, loads)
        con.execute("COMMIT")
        summary.objects += len(loads)
        return
    except Exception:  # noqa: BLE001 - which object is bad is found below, one by one
        con.execute("ROLLBACK")
        if len(loads) == 1:
            raise
    for load in loads:
        try:
            _load_chunk(con, [load], summary)
        except Exception as exc:  # noqa: BLE001 - a corrupt or truncated object: skipped
            reason = str(exc).splitlines()[0][:300]
            log.warning("skipped lake object %s: %s", load.key, reason)
            summary.skipped.append({"key": load.key, "error": reason})


def derive(con) -> None:
    """Deduplicate and sessionize the rows loaded but not derived yet, in one transaction: all
    rows at once when they are most of the table (a build), else only what they touch."""
    pending, total = con.execute(
        "SELECT COUNT(*) FILTER (WHERE delivery IS NULL), COUNT(*) FROM events").fetchone()
    if not pending:
        return
    whole = pending * 2 >= total
    con.execute("BEGIN")
    try:
        for statement in store_sql.rewrite_in_place() if whole else store_sql.DERIVE_STEPS:
            con.execute(statement)
        if not whole:
            lowest, unknown = con.execute(store_sql.LOWEST).fetchone()
            for statement in store_sql.derive_sessions(None if unknown else lowest):
                con.execute(statement)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _state(con) -> tuple[set[str], set[str], int, int]:
    """(loaded object keys, their days, rows loaded but not derived yet, syncs whose appends
    are not merged yet)."""
    rows = con.execute("SELECT key, dt FROM objects").fetchall()
    pending = con.execute("SELECT COUNT(*) FROM events WHERE delivery IS NULL").fetchone()[0]
    unmerged = int(_meta(con).get("unmerged", 0))
    return {k for k, _ in rows}, {dt for _, dt in rows}, pending, unmerged


def _checkpoint(con, merge: bool, unmerged: int) -> None:
    """Write the sync's changes to the file. A checkpoint that merges the appended row groups
    recompresses up to a full group (122,880 rows: ~0.7 s here), and DuckDB would do it
    whenever the rows since the last full group fit into fewer groups: one sync of a small
    object in ten or so. So a sync's checkpoint does not merge (connect(merging=False)); the
    merge runs when asked (merge), and the number of syncs since the last one is kept in meta."""
    con.execute("BEGIN")
    if merge:
        con.execute("RESET max_vacuum_tasks")
        for table in store_sql.APPENDED:
            for statement in store_sql.touch(table):
                con.execute(statement)
    con.execute("DELETE FROM meta WHERE key = 'unmerged'")
    con.execute("INSERT INTO meta VALUES ('unmerged', ?)", [str(0 if merge else unmerged)])
    con.execute("COMMIT")
    con.execute("CHECKPOINT")


def file_state(store: Path) -> tuple:
    """What changes whenever the store's rows can have changed: the identity, size and
    modification time of the file and of its write-ahead log."""
    state = []
    for path in (store, store.with_name(store.name + ".wal")):
        try:
            st = path.stat()
        except FileNotFoundError:
            state.append(None)
            continue
        state.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(state)


# The last state read per store file and lake, while the file is unchanged: a report's check
# for new objects then costs a listing, not a database open.
_states: dict[tuple, tuple] = {}


def _read_state(path: Path, lake: lake_files.LakeLocation, wait_s: float):
    """The state of a usable store, read without taking the write lock; None when there is
    no usable store (it is then built)."""
    if not path.exists():
        return None
    key = (str(path), lake_id(lake))
    seen = file_state(path)
    if key in _states and _states[key][0] == seen:
        return _states[key][1]
    con = connect(path, read_only=True, wait_s=wait_s)
    try:
        state = _state(con) if usable(path, lake, con) else None
    finally:
        con.close()
    if state is not None and file_state(path) == seen:
        _states[key] = (seen, state)
    return state


def _progress(total: int, enabled: bool | None):
    from tqdm import tqdm

    return tqdm(total=total, unit="obj", desc="sync", disable=None if enabled is None
                else not enabled, leave=False)


def _open_build(path: Path, lake: lake_files.LakeLocation, wait_s: float):
    """A connection to `<store>.building`: resumed when it is of the current schema."""
    target = building_path(path)
    if target.exists():
        con = connect(target, read_only=False, wait_s=wait_s)
        if usable(target, lake, con):
            return con
        con.close()
        _remove(target)
    # Made under another name and renamed: a kill mid-creation leaves no schema-less file that
    # looks like a build in progress.
    empty = target.with_name(target.name + ".new")
    _remove(empty)
    con = connect(empty, read_only=False, wait_s=wait_s)
    try:
        _create(con, lake)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(empty, target)
    return connect(target, read_only=False, wait_s=wait_s)


def sync(lake: lake_files.LakeLocation, path: str | Path | None = None, rescan: bool = False,
         progress: bool | None = None, wait_s: float = LOCK_WAIT_S, merge: bool = True) -> Summary:
    """Bring the store up to date with the lake; returns what was loaded and skipped. merge:
    when nothing is new, merge the row groups earlier syncs appended (MERGE_WHEN_IDLE)."""
    started = time.perf_counter()
    path = resolve(path)
    check_writable(path)
    with _sync_lock(path, wait_s):
        summary = _sync(lake, path, rescan, progress, wait_s, merge)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


@contextlib.contextmanager
def _sync_lock(path: Path, wait_s: float):
    """One sync at a time per store (two dashboard workers may both find it stale): the second
    waits, then finds the first's work done. Readers never take it."""
    deadline = time.monotonic() + wait_s
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(f"store {path}: another sync still runs after "
                                     f"{wait_s:.0f} s", busy=True) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sync(lake: lake_files.LakeLocation, path: Path, rescan: bool, progress: bool | None,
          wait_s: float, merge: bool) -> Summary:
    summary = Summary(str(path))
    state = _read_state(path, lake, wait_s)
    con, target = None, path
    if state is None:
        summary.rebuilt = True
        target = building_path(path)
        con = _open_build(path, lake, wait_s)
        state = _state(con)
    loaded, loaded_days, pending, unmerged = state
    with tempfile.TemporaryDirectory(prefix="logdig-sync-") as tmp:
        try:
            loads = plan(lake, loaded, days_to_scan(lake, loaded_days, rescan), Path(tmp),
                         frozenset(loaded_days))
            if target != path:
                con = _load(lake, loads, target, con, summary, Path(tmp), progress, wait_s)
                _finish_build(con, path)
            elif loads or pending:
                con = _load(lake, loads, target, con, summary, Path(tmp), progress, wait_s)
                derive(con)
                summary.merged = unmerged + 1 >= MERGE_AT_MOST
                _checkpoint(con, summary.merged, unmerged + 1)
            elif merge and unmerged >= MERGE_WHEN_IDLE:
                con = connect(target, read_only=False, wait_s=wait_s)
                _checkpoint(con, True, 0)
                summary.merged = True
        finally:
            if con is not None:
                con.close()
    if target != path:
        _remove(target)
    return summary


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


def _finish_build(con, path: Path) -> None:
    """The built rows derived into a fresh file (written once: no free blocks from the load),
    then renamed over the store: readers see the old store or the new one."""
    fresh = path.with_name(path.name + ".fresh")
    _remove(fresh)
    con.execute(f"ATTACH '{_quoted(fresh)}' AS fresh")
    try:
        for statement in store_sql.copy_into("fresh"):
            con.execute(statement)
    finally:
        con.execute("DETACH fresh")
    os.replace(fresh, path)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _load(lake, loads: list[Load], target: Path, con, summary: Summary, workdir: Path,
          progress: bool | None, wait_s: float):
    chunks = [loads[n:n + CHUNK_OBJECTS] for n in range(0, len(loads), CHUNK_OBJECTS)]
    with _progress(len(loads), progress) as bar:
        for chunk in chunks:
            _fetch(lake, chunk, workdir)
            if con is None:
                con = connect(target, read_only=False, wait_s=wait_s, merging=False)
            _load_chunk(con, chunk, summary)
            if not lake.is_local:
                for load in chunk:
                    load.path.unlink(missing_ok=True)  # downloaded once, loaded, dropped
            bar.update(len(chunk))
    return con or connect(target, read_only=False, wait_s=wait_s, merging=False)


# ---- reading ---------------------------------------------------------------------------------

def query(path: Path, name: str, opts: dict, wait_s: float = LOCK_WAIT_S) -> tuple[list, list]:
    con = connect(path, read_only=True, wait_s=wait_s)
    try:
        dialect = store_sql.StoreDialect(opts)
        sql = reports.render(name, dialect, opts)
        looked_up = {}
        if dialect.store.cuts_sessions:  # a session report: its cut sessions' spans first
            lo_a, hi_a, lo_b, hi_b = con.execute(store_sql.edges(opts)).fetchone()
            looked_up["edges"] = ((lo_a, hi_a), (lo_b, hi_b))
        if dialect.store.recounts:  # and the visitors it numbers itself, when they are few
            keys = con.execute(dialect.store.recount_lookup(dialect)).fetchall()
            if len(keys) <= RECOUNT_LISTED:
                looked_up["recounted"] = sorted(key for (key,) in keys)
        if looked_up:
            sql = store_sql.render(name, {**opts, **looked_up})
        result = con.execute(sql)
        return [d[0] for d in result.description], result.fetchall()
    finally:
        con.close()


def run(name: str, opts: dict, lake: lake_files.LakeLocation, path: str | Path | None = None,
        refresh: bool = True) -> tuple[list, list]:
    """Report rows from the store, after bringing it up to date (a cheap listing when nothing
    is new). While another process syncs, the store as it stands answers; when there is no
    store yet and it cannot be built now, the lake answers directly."""
    path = resolve(path)
    if refresh:
        try:
            sync(lake, path, progress=False, wait_s=1.0, merge=False)  # merging: not a report's wait
        except StoreError as exc:
            if not exc.busy:
                raise
            if not _current(path, lake):  # being built: the lake answers meanwhile
                return duck.run(name, opts, lake)
    return query(path, name, opts)


def _current(path: Path, lake: lake_files.LakeLocation) -> bool:
    return _read_state(path, lake, LOCK_WAIT_S) is not None


def forget_user_key(path: str | Path | None, user_key: str) -> int:
    """Remove every stored event of one visitor (for a forget request); returns how many rows.
    Other visitors' sessions are untouched (sessions are per visitor)."""
    path = resolve(path)
    if not path.exists():
        return 0
    con = connect(path, read_only=False)
    try:
        con.execute("BEGIN")
        con.execute(store_sql.hour_keys("(SELECT * FROM events WHERE user_key = $1) mine"),
                    [user_key])
        removed = con.execute("DELETE FROM events WHERE user_key = ?", [user_key]).fetchone()[0]
        for statement in store_sql.REFRESH_HOURS:
            con.execute(statement)
        con.execute("DELETE FROM visitor_sites WHERE user_key = ?", [user_key])
        con.execute("DELETE FROM visits WHERE user_key = ?", [user_key])
        con.execute("DELETE FROM names WHERE name = ? AND NOT EXISTS (SELECT 1 FROM events "
                    "WHERE uid = names.id)", [user_key])
        con.execute("COMMIT")
        return removed
    finally:
        con.close()


__all__ = ["StoreError", "Summary", "forget_user_key", "reports", "run", "sync"]
