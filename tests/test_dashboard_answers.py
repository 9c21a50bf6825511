"""The dashboard's answers kept per store state (dashboard/answers.py) and the store it reads:
identical calls computed once, a changed store answering anew, the store kept open only while
reports run (dashboard/keeper.py)."""

import threading
import time

import pytest

from analysis import lake_files
from analysis import store as query_store
from analysis.store import file_state as store_state
from config import load_settings
from dashboard import data
from dashboard.answers import Answers
from dashboard.keeper import Keeper
from tests.lakegen import generate, write_events


def test_identical_calls_arriving_together_are_computed_once():
    answers, calls, release = Answers(), [], threading.Event()

    def compute():
        calls.append(1)
        release.wait(10)
        return [{"rows": len(calls)}]

    got = []
    threads = [threading.Thread(target=lambda: got.append(answers.get("k", compute)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    while not calls:  # the first caller is computing; the others arrive meanwhile
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert calls == [1]
    assert got == [[{"rows": 1}]] * 4
    assert answers.get("k", lambda: [{"rows": "again"}]) == [{"rows": 1}]  # kept


def test_an_error_reaches_the_caller_and_is_not_kept():
    answers = Answers()

    def fail():
        raise ValueError("bad option")

    with pytest.raises(ValueError, match="bad option"):
        answers.get("k", fail)
    assert answers.get("k", lambda: ["computed"]) == ["computed"]


def test_only_the_newest_answers_are_kept():
    answers = Answers(keep=2)
    for key in "abc":
        answers.get(key, lambda key=key: [key])
    assert answers.get("a", lambda: ["recomputed"]) == ["recomputed"]
    assert answers.get("c", lambda: ["recomputed"]) == ["c"]


def test_the_store_state_changes_when_the_file_or_its_log_does(tmp_path):
    store = tmp_path / "store.duckdb"
    assert store_state(store) == (None, None)
    store.write_bytes(b"one")
    before = store_state(store)
    assert store_state(store) == before
    store.write_bytes(b"other rows")
    assert store_state(store) != before
    changed = store_state(store)
    (tmp_path / "store.duckdb.wal").write_bytes(b"x")
    assert store_state(store) != changed


def test_a_sync_loading_new_objects_makes_the_dashboard_answer_anew(tmp_path, monkeypatch):
    # GIVEN a dashboard source over a lake and its store, asked once (the answer is kept)
    lake = tmp_path / "lake"
    generate(lake, events=300, seed=3, start="2026-11-20", days=1)
    source = data.Source(lake.as_uri(), load_settings({}), store=tmp_path / "store.duckdb")
    day = {"from": "2026-11-20", "to": "2026-11-20"}
    first = source.run("sites", day)
    assert source.run("sites", day) is first  # the same store state: the kept answer
    # WHEN a new object lands and the next sync is due
    write_events(lake, [{"v": 1, "event_id": "new-1", "event_type": "page_view",
                         "user_key": "Unew", "current_page": "https://new.test/",
                         "received_at": "2026-11-20T12:00:00.000Z"}])
    monkeypatch.setattr(data, "SYNC_SECONDS", 0.0)
    # THEN the answer comes from the store as it is now, equal to the lake's own
    again = source.run("sites", day)
    assert "new.test" in {row["site"] for row in again}
    direct = data.Source(lake.as_uri(), load_settings({})).run("sites", day)
    assert again == direct


def _row_groups(store) -> int:
    con = query_store.connect(store, read_only=True)
    try:
        return con.execute("SELECT COUNT(DISTINCT row_group_id) FROM pragma_storage_info('events')"
                           ).fetchone()[0]
    finally:
        con.close()


def test_a_page_never_waits_for_a_merge_the_store_merges_once_the_page_is_idle(tmp_path,
                                                                             monkeypatch):
    """A merge of the appended row groups holds every report slot for about a second: the
    page's own syncs only load; a sync MERGE_IDLE_SECONDS after its last report merges."""
    lake = tmp_path / "lake"
    generate(lake, events=300, seed=3, start="2026-11-20", days=1)
    store = tmp_path / "store.duckdb"
    monkeypatch.setattr(data, "SYNC_SECONDS", 0.0)
    monkeypatch.setattr(data, "MERGE_IDLE_SECONDS", 60.0)
    source = data.Source(lake.as_uri(), load_settings({}), store=store)
    day = {"from": "2026-11-20", "to": "2026-11-20"}
    source.run("pages", day)
    built = _row_groups(store)
    # GIVEN page calls, each after a new object landed, and one more with nothing new
    for n in range(query_store.MERGE_WHEN_IDLE):
        write_events(lake, [{"v": 1, "event_id": f"new-{n}", "event_type": "page_view",
                             "user_key": f"U{n}", "current_page": f"https://new.test/{n}",
                             "received_at": f"2026-11-20T12:0{n}:00.000Z"}])
        source.run("pages", day)
    source.run("pages", day)
    # THEN their syncs loaded every object without merging
    assert _row_groups(store) == built + query_store.MERGE_WHEN_IDLE
    # WHEN the page has been idle for MERGE_IDLE_SECONDS, and one more object landed meanwhile
    syncs, sync = [], query_store.sync
    monkeypatch.setattr(query_store, "sync", lambda *a, **k: syncs.append(sync(*a, **k)) or syncs[-1])
    monkeypatch.setattr(data, "MERGE_IDLE_SECONDS", 1.0)
    source.run("pages", day)
    write_events(lake, [{"v": 1, "event_id": "late", "event_type": "page_view",
                         "user_key": "Ulate", "current_page": "https://new.test/late",
                         "received_at": "2026-11-20T13:00:00.000Z"}])
    deadline = time.monotonic() + 30
    while not any(s.merged for s in syncs) and time.monotonic() < deadline:
        time.sleep(0.05)  # the file is not read meanwhile: a reader would hold off the writer
    # THEN a sync off the page's path loaded it, and then merged them all; the rows are the same
    assert [(s.objects, s.merged) for s in syncs[-2:]] == [(1, False), (0, True)]
    assert _row_groups(store) <= built
    answer = source.run("pages", day)
    assert "https://new.test/late" in {row["page"] for row in answer}
    assert answer == data.Source(lake.as_uri(), load_settings({})).run("pages", day)


def test_the_store_is_kept_open_through_a_burst_of_reports_and_let_go_after(tmp_path):
    # GIVEN a store, and a keeper that lingers briefly after the last report
    lake = tmp_path / "lake"
    generate(lake, events=200, seed=4, start="2026-11-20", days=1)
    store = tmp_path / "store.duckdb"
    query_store.sync(lake_files.open_lake(lake.as_uri()), store, progress=False)
    keeper = Keeper(linger_s=0.05)
    # WHEN reports run one after another
    with keeper.enter(store):
        assert keeper.holding
    with keeper.enter(store):  # the next report of the burst finds it open
        assert keeper.holding
    # THEN once the burst is over the file is let go: a writer (another process's sync) gets it
    deadline = time.monotonic() + 10
    while keeper.holding and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not keeper.holding
    writer = query_store.connect(store, read_only=False, wait_s=0)
    writer.close()
    # AND close() lets go at once (what this process does before its own sync writes)
    keeper.enter(store).leave()
    keeper.close()
    assert not keeper.holding
