"""One event contract: the lake schema every engine reads with, and the tracker's fields, agree with
logdig/events.py. A field added to the contract but not to the lake would be accepted and stored
yet invisible to DuckDB, Spark and Athena (they read with explicit columns)."""

import json
import re
from pathlib import Path

from analysis import duck
from logdig import events, lake_schema
from logdig.lake_layout import object_bytes

TRACKER = (Path(__file__).resolve().parent.parent / "static" / "clickTracker.js").read_text()

# One valid value per field kind; every contract field must be covered, so a new field needs one.
SAMPLES = {
    "v": 1, "event_id": "e-1", "event_type": "click", "timestamp": "2026-11-23T10:00:00.000Z",
    "token": "tok", "user_key": "A" * 20, "session_id": "s1", "current_page": "https://a.example/p",
    "link": "https://b.example/", "referrer": "https://c.example/", "x": 1.5, "y": 2.5,
    "spent_milli_sec": 10, "engaged_milli_sec": 5, "load_count": 3, "user_agent": "UA",
    "viewport_width": 390, "viewport_height": 800, "document_width": 390, "document_height": 2000,
    "screen_width": 390, "screen_height": 844, "utm_source": "s", "utm_medium": "m",
    "utm_campaign": "c", "utm_term": "t", "utm_content": "x", "target_tag": "a", "target_id": "buy",
    "target_classes": "btn", "target_text": "Buy", "outbound": True, "page_title": "P",
    "language": "en", "props": {"plan": "pro", "n": 2}, "user_id": "member-1", "scroll_depth": 75,
    "is_bot": True,
}


def test_lake_columns_are_the_contract_fields_then_the_server_fields():
    assert lake_schema.column_names() == [*events.FIELDS, *events.SERVER_FIELDS]


def test_every_contract_field_reaches_duckdb_typed_and_not_null(tmp_path):
    # GIVEN one event with every client field set, enriched as the collector does
    assert set(SAMPLES) == set(events.FIELDS), "give the new field a sample value above"
    event = events.enrich(events.validate(SAMPLES), "2026-11-23T10:00:01.000Z", "192.0.2.0")
    event.update(country="GB", browser="Chrome", os="Windows", device="bot")
    path = tmp_path / "e.jsonl.gz"
    path.write_bytes(object_bytes([json.dumps(event)]))

    # WHEN DuckDB reads it with the lake schema (as reports and compaction do)
    con = duck.connect()
    row = con.execute(f"SELECT * FROM {duck.read_ndjson([str(path)], hive=False)}").fetchone()
    names = [d[0] for d in con.description]

    # THEN every column of the contract is there and holds the value sent
    assert names == lake_schema.column_names()
    assert [name for name, value in zip(names, row, strict=True) if value is None] == []


def test_every_lake_type_has_a_duckdb_type():
    assert set(duck.duckdb_columns()) == set(lake_schema.column_names())


def _object_keys(literal: str) -> set[str]:
    """Keys of a JS object literal (nested literals, i.e. props' contents, left out)."""
    while re.search(r"\{[^{}]*\{", literal):
        literal = re.sub(r"(\{[^{}]*)\{[^{}]*\}", r"\1", literal)
    return set(re.findall(r"(?:^|[{,])\s*([a-z_]+)\s*:", literal))


def tracker_fields() -> set[str]:
    built = re.search(r"var build = function \(type, extra\) \{(.*?)\n {6}\};", TRACKER, re.S)
    sent = re.findall(r"send\([^,()]+,\s*(\{.*?\})\s*\)", TRACKER, re.S)
    utm = re.search(r"\[([^\]]*)\]\.forEach\(function \(k\) \{\s*var v = q\.get\('utm_'", TRACKER)
    assert built and sent and utm, "the tracker's event shape moved: update this test's parsing"
    fields = _object_keys(built.group(1).split("e = ", 1)[1])
    for literal in sent:
        fields |= _object_keys(literal)
    return fields | {"utm_" + name for name in re.findall(r"'(\w+)'", utm.group(1))}


def test_the_tracker_sends_only_contract_fields():
    fields = tracker_fields()
    assert {"event_type", "x", "engaged_milli_sec", "utm_content", "target_text", "props"} <= fields
    assert fields - set(events.FIELDS) == set()


def test_the_tracker_checks_event_names_and_prop_keys_as_the_collector_does():
    js_name = re.search(r"if \(!/(\^\[a-z\][^/]*\$)/\.test\(name\)\)", TRACKER).group(1)
    js_prop = re.search(r"!/(\^\[A-Za-z_\][^/]*\$)/\.test\(k\)", TRACKER).group(1)
    assert js_name == events.EVENT_TYPE_RE.pattern
    assert js_prop.replace(r"\w", "[A-Za-z0-9_]") == events.PROP_KEY_RE.pattern
    for name in re.findall(r"send\('(\w+)'", TRACKER):
        assert events.EVENT_TYPE_RE.match(name), name
