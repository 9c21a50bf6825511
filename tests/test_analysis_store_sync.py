"""The store under a killed sync and under readers querying while a sync runs, with the sync in
its own process as in production (DuckDB locks the file per process)."""

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import duck, lake_files, reports, store
from tests.lakegen import generate

ROOT = Path(__file__).resolve().parents[1]
FIRST, LAST = "2026-11-20", "2026-11-23"
# A sync in small chunks, so that a kill or a reader lands between and inside transactions.
SYNC = ("import sys; from analysis import store; store.CHUNK_OBJECTS = 2; "
        "from analysis.__main__ import main; main(sys.argv[1:])")

pytestmark = [pytest.mark.slow, pytest.mark.process]


def start_sync(lake, path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SYNC, "sync", "--lake", lake.url, "--store",
                             str(path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def lines(lake, keys) -> int:
    return sum(len(gzip.decompress((lake.local_root / k).read_bytes()).splitlines()) for k in keys)


def consistent(lake, path: Path) -> int:
    """Rows stored == lines of the objects recorded (each recorded once): loads are atomic."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        keys = [k for (k,) in con.execute("SELECT key FROM objects").fetchall()]
        stored = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert len(keys) == len(set(keys))
    assert stored == lines(lake, keys)
    return len(keys)


def answers(lake, path=None):
    out = {}
    for name, extra in (("sessions", {}), ("pages", {}), ("funnel", {"steps": "/,/cart,click"})):
        opts = reports.options(name, {"from": FIRST, "to": LAST, **extra})
        out[name] = (store.run(name, opts, lake, path, refresh=False) if path
                     else duck.run(name, opts, lake))[1]
    return out


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    generate(root, events=4000, seed=21, start=FIRST, days=3, max_object_bytes=48 * 1024)
    return lake_files.open_lake(root.as_uri(), "events/")


def test_a_sync_killed_at_any_point_leaves_a_consistent_store_the_next_finishes(lake, tmp_path):
    path = tmp_path / "store.duckdb"
    keys = lake.lake.keys("events/")
    hidden = tmp_path / "later"
    # Half the objects first (a build, killed and resumed), the rest later (in-place syncs).
    for key in keys[len(keys) // 2:]:
        (hidden / key).parent.mkdir(parents=True, exist_ok=True)
        os.replace(lake.local_root / key, hidden / key)
    seen = set()
    for phase in ("build", "in place"):
        # Kill points spread over a whole sync's duration, as measured now (the machine may be
        # busy): from before the first load to the final derivation.
        scratch = tmp_path / f"scratch-{phase.replace(' ', '-')}.duckdb"
        if phase == "in place":
            shutil.copy(path, scratch)
        started = time.monotonic()
        assert start_sync(lake, scratch).wait(timeout=120) == 0
        whole = time.monotonic() - started
        for share in (0.3, 0.45, 0.6, 0.75, 0.9):
            delay = whole * share
            sync = start_sync(lake, path)
            time.sleep(delay)
            sync.send_signal(signal.SIGKILL)
            sync.wait()
            for file in (path, store.building_path(path)):
                if file.exists():
                    seen.add((phase, consistent(lake, file)))
        finished = start_sync(lake, path)
        assert finished.wait(timeout=120) == 0, finished.stderr.read().decode()
        assert consistent(lake, path) == len(lake.lake.keys("events/"))
        assert answers(lake, path) == answers(lake)
        if phase == "build":
            for key in keys[len(keys) // 2:]:
                os.replace(hidden / key, lake.local_root / key)
    # The kills landed at different points (different numbers of objects loaded).
    assert len(seen) >= 3, seen


def test_readers_query_while_a_sync_runs(lake, tmp_path):
    path = tmp_path / "store.duckdb"
    keys = lake.lake.keys("events/")
    hidden = tmp_path / "later"
    for key in keys[4:]:  # GIVEN a store of a few objects, and many more landing
        (hidden / key).parent.mkdir(parents=True, exist_ok=True)
        os.replace(lake.local_root / key, hidden / key)
    store.sync(lake, path)
    for key in keys[4:]:
        os.replace(hidden / key, lake.local_root / key)
    opts = reports.options("traffic", {"from": FIRST, "to": LAST, "bucket": "day"})
    # WHEN a sync runs in another process, THEN readers keep getting answers, never fewer
    # events than before, until the store holds the lake
    sync = start_sync(lake, path)
    totals = []
    while sync.poll() is None:
        totals.append(sum(r[1] for r in store.query(path, "traffic", opts)[1]))
    assert sync.returncode == 0, sync.stderr.read().decode()
    totals.append(sum(r[1] for r in store.query(path, "traffic", opts)[1]))
    assert len(totals) > 3 and totals == sorted(totals)
    assert totals[-1] == sum(r[1] for r in duck.run("traffic", opts, lake)[1]) > totals[0]


def test_two_syncs_at_once_both_finish_and_agree(lake, tmp_path):
    # GIVEN no store yet (two dashboard workers both find it missing)
    path = tmp_path / "store.duckdb"
    # WHEN two syncs start together, each in its own process
    syncs = [start_sync(lake, path) for _ in range(2)]
    # THEN both succeed (the second waits for the first) and the store holds the lake once
    for sync in syncs:
        assert sync.wait(timeout=180) == 0, sync.stderr.read().decode()
    assert consistent(lake, path) == len(lake.lake.keys("events/"))
    assert answers(lake, path) == answers(lake)


def test_a_merge_killed_at_any_point_leaves_the_same_rows(lake, tmp_path):
    """The merge of appended row groups (a sync that finds nothing new) takes rows out and puts
    them back in one transaction: a kill at any point leaves every row once."""
    path = tmp_path / "store.duckdb"
    keys = lake.lake.keys("events/")
    later = keys[-store.MERGE_WHEN_IDLE:]
    hidden = tmp_path / "later"
    for key in later:
        (hidden / key).parent.mkdir(parents=True, exist_ok=True)
        os.replace(lake.local_root / key, hidden / key)
    store.sync(lake, path)
    for key in later:  # GIVEN syncs that each appended one object, not merged yet
        os.replace(hidden / key, lake.local_root / key)
        assert store.sync(lake, path).objects == 1
    expected = answers(lake)
    scratch = tmp_path / "scratch.duckdb"
    shutil.copy(path, scratch)
    started = time.monotonic()
    assert start_sync(lake, scratch).wait(timeout=120) == 0
    whole = time.monotonic() - started
    for share in (0.5, 0.7, 0.8, 0.9, 0.95):  # WHEN merging syncs are killed along the way
        sync = start_sync(lake, path)
        time.sleep(whole * share)
        sync.send_signal(signal.SIGKILL)
        sync.wait()
        # THEN every row is there once, and the answers are the lake's
        assert consistent(lake, path) == len(keys)
        assert answers(lake, path) == expected
    assert store.sync(lake, path).objects == 0
    with store.connect(path, read_only=True) as con:
        assert store._state(con)[3] == 0  # merged at last
    assert answers(lake, path) == expected
