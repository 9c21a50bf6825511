"""Property: whatever a client sends in whatever field, the collector never answers 5xx, and every
accepted event becomes exactly one parseable line in the lake."""

from __future__ import annotations

import gzip
import itertools
import json
import operator
import re
import time

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app import create_app
from config import load_settings
from logdig.drain import DrainOptions, drain
from logdig.events import EVENT_TYPE_RE, FIELDS, ID_RE, STANDARD_TYPES, USER_KEY_RE
from logdig.lake import DirLake
from logdig.line_check import line_problem
from logdig.local_queue import LocalQueue

OPTIONS = DrainOptions(min_messages=1, max_wait_seconds=0, margin_seconds=0, wait_seconds=0)
# What no stored string may hold: a control character (tab aside) or a lone surrogate.
UNSAFE_IN_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")

# Any code point at all: surrogates, controls, private use, unassigned.
any_char = st.characters(exclude_categories=())
weird_text = st.one_of(
    st.text(any_char),
    st.text(st.characters(max_codepoint=0xA0, exclude_categories=())),  # controls and C1
    # long runs, past every field's limit and past the body cap
    st.builds(operator.mul, st.text(any_char, min_size=1, max_size=3),
              st.sampled_from([20, 64, 65, 257, 2049, 5000])),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | weird_text
    | st.sampled_from([10**400, -(10**20), 1e308, 0.5]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(weird_text, inner, max_size=4),
    max_leaves=8,
)
# Values that pass a field's rules, so that accepted requests carry odd Unicode too.
plausible = {
    "v": st.just(1),
    "event_id": st.from_regex(ID_RE, fullmatch=True),
    "event_type": st.sampled_from(STANDARD_TYPES) | st.from_regex(EVENT_TYPE_RE, fullmatch=True),
    "timestamp": st.datetimes().map(lambda d: d.isoformat()),
    "user_key": st.from_regex(USER_KEY_RE, fullmatch=True),
    "session_id": st.from_regex(ID_RE, fullmatch=True),
    "outbound": st.booleans(),
    "is_bot": st.booleans(),
    "scroll_depth": st.integers(0, 100),
    "user_id": st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=128),
    "props": st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True),
                             st.none() | st.booleans() | st.integers(-10**6, 10**6) | weird_text,
                             max_size=5),
}
NUMBER_FIELDS = ("x", "y", "spent_milli_sec", "engaged_milli_sec", "load_count", "viewport_width",
                 "viewport_height", "document_width", "document_height", "screen_width", "screen_height")
for name in NUMBER_FIELDS:
    plausible[name] = st.integers(0, 5000)
plausible["x"] = plausible["y"] = st.floats(-5000, 5000)
# Free-text limits from the event contract (characters).
TEXT_LIMITS = {"token": 128, "link": 2048, "user_agent": 512, "utm_source": 256, "utm_medium": 256,
               "utm_campaign": 256, "utm_term": 256, "utm_content": 256, "target_tag": 32,
               "target_id": 256, "target_classes": 512, "target_text": 256, "page_title": 512,
               "language": 35, "current_page": 2048, "referrer": 2048}
URL_PREFIXES = {"current_page": "https://shop.example/", "referrer": "http://ref.example/?q="}


def fitted(limit: int, prefix: str = ""):
    """Odd text that fits the limit: short, or the whole limit of one (maybe 12-byte-escaped) char."""
    room = limit - len(prefix)
    short = weird_text.map(lambda t: prefix + t[:min(room, 100)])
    return st.one_of(short, short, short, any_char.map(lambda c: prefix + c * room))


for name, limit in TEXT_LIMITS.items():
    plausible[name] = fitted(limit, URL_PREFIXES.get(name, ""))


def field_value(name: str):
    return plausible[name] | weird_text | json_values


OPTIONAL = [name for name in FIELDS if name != "event_type"]
# Events that pass (odd Unicode in every free-text field), and events with anything anywhere.
clean_events = st.fixed_dictionaries({"event_type": plausible["event_type"]},
                                     optional={name: plausible[name] for name in OPTIONAL})
dirty_events = st.fixed_dictionaries(
    {"event_type": field_value("event_type")},
    optional={**{name: field_value(name) for name in OPTIONAL}, "not_a_field": json_values},
)
# One field far past the body cap (a 413 naming the body), on an otherwise clean event.
huge_events = st.builds(lambda event, name: {**event, name: "\U0001F600" * 100_000},
                        clean_events, st.sampled_from(OPTIONAL))
# Every text field at its full length in one character: fits a queue message or gets a 413
# naming the event, depending on how wide the character escapes (up to 12 bytes).
full_events = st.builds(
    lambda event, char: {**event, **{name: URL_PREFIXES.get(name, "")
                                     + char * (limit - len(URL_PREFIXES.get(name, "")))
                                     for name, limit in TEXT_LIMITS.items()}},
    clean_events, any_char)
events = clean_events | dirty_events
documents = st.one_of(
    events,
    st.lists(events, min_size=1, max_size=4),
    st.lists(events, max_size=4).map(lambda evs: {"events": evs}),
    json_values,
    huge_events,
    full_events,
)


@st.composite
def request_bodies(draw) -> tuple[bytes, str]:
    content_type = draw(st.sampled_from(["application/json", "text/plain",
                                         "text/plain;charset=UTF-8"]))
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=200)), content_type
    document = draw(documents)
    if draw(st.booleans()):
        body = json.dumps(document, ensure_ascii=True).encode()
    else:  # raw UTF-8, lone surrogates written as the (invalid) bytes they would take
        body = json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return body, content_type


APP_EXAMPLES = 100


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("property")
    queue = LocalQueue(root / "queue.sqlite3")
    app = create_app(load_settings({}, data_dir=root, flush_wait_ms=0), queue)
    return app.test_client(), queue, (root / f"lake{n}" for n in itertools.count())


# Capped: each example drives the whole app (a request, then a drain into a fresh lake directory).
@settings(max_examples=APP_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(request=request_bodies())
def test_any_body_gets_202_with_one_lake_line_per_event_or_a_json_4xx(pipeline, request):
    client, queue, lake_dirs = pipeline
    body, content_type = request
    reply = client.post("/v1/logs", data=body, content_type=content_type)
    assert reply.status_code < 500, reply.data[:500]
    payload = reply.get_json(silent=True)
    assert isinstance(payload, dict), reply.data[:500]
    # shown by --hypothesis-show-statistics: how often each outcome was exercised
    event(f"{reply.status_code} {payload.get('error', {}).get('code', '')}")

    lake_dir = next(lake_dirs)
    summary = drain(queue, DirLake(lake_dir), OPTIONS)
    if reply.status_code != 202:
        # a 4xx names the field and the reason, and a rejected request queued nothing at all
        error = payload["error"]
        assert isinstance(error["field"], str) and error["field"]
        assert isinstance(error["message"], str) and error["message"]
        assert summary["messages"] == 0
        return
    # every accepted event is exactly one lake line: parseable, clean, with its event_id (repeats of
    # a client's event_id within one drain round are dropped as resends, and counted)
    lines = [line for path in sorted(lake_dir.rglob("*.jsonl.gz"))
             for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert all(line.isascii() and line.isprintable() for line in map(bytes.decode, lines))
    stored = [json.loads(line) for line in lines]
    distinct = set(payload["event_ids"])
    assert payload["accepted"] == len(payload["event_ids"]) == summary["events"] + summary["duplicates"]
    assert len(stored) == len(distinct) == summary["events"]
    assert sorted(e["event_id"] for e in stored) == sorted(distinct)
    assert not any(UNSAFE_IN_VALUE.search(text) for e in stored for text in _strings(e))
    assert summary["bad_messages"] == 0


def _strings(value) -> list[str]:
    """Every string inside a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


# ------------------------------------------------------------------ the drain side
# Queue messages from any producer (a foreign one, a bug, a hand-edited local queue): whatever a
# body holds, a drain must store each line or keep it under bad/, and never stop at it (a message that
# crashes every drain would block the queue for good).

RECEIVED = "2026-11-23T10:00:00.000Z"
text_no_surrogates = st.text(st.characters(exclude_categories=("Cs",)), max_size=50)
odd_received_at = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-11-23",
                     "2026-02-30T00:00:00Z", "", "   ", RECEIVED]),
    text_no_surrogates, st.integers(), st.none(), st.lists(st.integers(), max_size=2))
odd_event_ids = st.one_of(st.uuids().map(str), st.integers(), st.none(), st.just([1]),
                          st.just({"a": 1}), text_no_surrogates)
valid_lines = st.builds(
    lambda event_id: json.dumps({"event_type": "click", "event_id": event_id, "v": 1,
                                 "received_at": RECEIVED}), st.uuids().map(str))
odd_lines = st.one_of(
    st.builds(lambda r, i: json.dumps({"event_type": "click", "event_id": i, "received_at": r}),
              odd_received_at, odd_event_ids),
    st.builds(lambda i: json.dumps({"event_type": "click", "event_id": i, "received_at": RECEIVED}),
              odd_event_ids),
    text_no_surrogates.filter(lambda t: "\n" not in t),
    st.integers(1, 50_000).map(lambda n: "[" * n + "]" * n),  # nests deeper than json allows
    st.just('{"received_at": "2026-11-23T10:00:00Z", "n": 1' + "0" * 5000 + "}"),  # > 4300 digits
)
message_bodies = st.lists(st.one_of(valid_lines, valid_lines, odd_lines), min_size=1,
                          max_size=4).map(lambda lines: "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def drain_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("drain-property")
    return (root / f"run{n}" for n in itertools.count())


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies=st.lists(message_bodies, min_size=1, max_size=6))
def test_any_queue_message_is_stored_or_kept_under_bad_and_never_blocks(drain_dirs, bodies):
    run = next(drain_dirs)
    queue, lake = LocalQueue(run / "queue.sqlite3"), DirLake(run / "lake")
    queue.send_batch(bodies)

    summary = drain(queue, lake, OPTIONS)  # must not raise

    # every message left the queue: its lines in events/, or kept under bad/ (the whole body when
    # it cannot be read, else the lines that do not fit the lake schema, each with its reason)
    assert summary["messages"] == len(bodies) and queue.depth() == 0
    records = [json.loads(lake.get(key)) for key in lake.keys("bad/")]
    kept = [record["body"] for record in records if "body" in record]
    kept_lines = [line["text"] for record in records for line in record.get("lines", [])]
    assert summary["bad_messages"] == len(records) and set(kept) <= set(bodies)
    assert summary["bad_lines"] == len(kept_lines)
    stored = [line for path in sorted((run / "lake").rglob("*.jsonl.gz"))
              for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
    good_lines = [line for body in bodies if body not in kept for line in body.split("\n")
                  if line and line not in kept_lines]
    assert set(stored) == set(good_lines)
    assert all(line_problem(json.loads(line), time.time()) is None for line in stored)
    assert len(stored) + summary["duplicates"] == len(good_lines)
