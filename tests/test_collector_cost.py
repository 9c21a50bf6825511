"""The collector's cheaper paths give what the reference paths give: msgspec validation against the
field-by-field checks, the body decoded and validated in one pass against decoding then validating,
the IPv4 anonymizer against ipaddress, the fast event ids against uuid, ua-parser's re2 resolver
against its reference one."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.payload import decode_valid, event_list, parse_json, validate_all
from logdig import events
from logdig.errors import InvalidInput
from tests.test_core_property import clean_events, dirty_events

ROOT = Path(__file__).resolve().parent.parent


def reference(raw, where="event"):
    try:
        return events._validate_each(raw, where)
    except InvalidInput as exc:
        return exc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=clean_events | dirty_events)
def test_fast_validation_accepts_only_what_the_checks_accept_and_gives_the_same_event(raw):
    # GIVEN any event a client might send; WHEN both paths validate it
    fast = events._validate_fast(raw, "events[3]")
    slow = reference(raw, "events[3]")
    # THEN the fast path either steps aside or gives the reference's event exactly
    if fast is not None:
        assert slow == fast
        assert [type(v) for v in fast.values()] == [type(slow[k]) for k in fast]
    # ...and validate() answers as the reference does, errors included
    try:
        assert events.validate(raw, "events[3]") == slow
    except InvalidInput as exc:
        assert isinstance(slow, InvalidInput) and exc.to_json() == slow.to_json()


def test_the_fast_path_takes_a_tracker_event_and_steps_aside_for_dirty_text():
    # GIVEN a typical tracker event, and the same with a control character in its title
    good = {"v": 1, "event_type": "click", "x": 812, "y": 14.5, "outbound": False,
            "current_page": "https://shop.example/é", "props": {"plan": "pro", "n": 3}}
    dirty = {**good, "page_title": "a\x07b"}
    # THEN the first is validated in msgspec, the second by the checks, which clean it
    assert events._validate_fast(good, "event") == good
    assert events._validate_fast(dirty, "event") is None
    assert events.validate(dirty)["page_title"] == "a\ufffdb"


def test_every_contract_field_has_a_fast_path_type_or_is_rechecked():
    # A field added to FIELDS without a spec is still checked: msgspec takes Any, its check runs after.
    for name, field in events.FIELDS.items():
        assert field.post is not None or field.spec is not events.Any, name


@given(address=st.ip_addresses(v=4).map(str) | st.ip_addresses(v=6).map(str)
       | st.text(max_size=20) | st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,4}){2,4}", fullmatch=True))
def test_anonymize_ip_is_ipaddress_rule(address):
    try:
        ip = ipaddress.ip_address(address)
        prefix = 24 if ip.version == 4 else 48
        expected = str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
    except ValueError:
        expected = ""
    assert events.anonymize_ip(address) == expected


def test_random_uuid_is_a_version_4_uuid_written_as_uuid_writes_it():
    ids = {events.random_uuid() for _ in range(1000)}
    assert len(ids) == 1000
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=60) | st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(exclude_categories=())),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6).map(lambda doc: json.dumps(doc).encode()))
def test_the_body_decodes_as_json_decodes_it(body):
    # GIVEN any body; WHEN the collector decodes it; THEN it gets what json gives, or json's error
    try:
        expected = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        with pytest.raises(InvalidInput):
            parse_json(body, "application/json")
        return
    assert repr(parse_json(body, "application/json")) == repr(expected)


def general_path(body: bytes, max_events: int):
    try:
        pairs = event_list(parse_json(body, "application/json"), max_events)
        return validate_all(pairs), [where for where, _ in pairs]
    except InvalidInput as exc:
        return exc


def shaped(events: list, shape: str):
    return {"one": lambda: events[0] if events else {}, "list": lambda: events,
            "envelope": lambda: {"events": events}}[shape]()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(clean_events | dirty_events, max_size=4), ascii_only=st.booleans(),
       shape=st.sampled_from(["one", "list", "envelope"]))
def test_one_pass_decoding_gives_the_general_paths_events_or_steps_aside(batch, ascii_only, shape):
    # GIVEN any body of events, as a client spells it; WHEN both paths read it (at most 3 events)
    text = json.dumps(shaped(batch, shape), separators=(",", ":"), ensure_ascii=ascii_only)
    body = text.encode("utf-8", "surrogatepass")  # a lone surrogate unescaped: not UTF-8
    fast, slow = decode_valid(body, 3), general_path(body, 3)
    # THEN the one pass either steps aside or gives exactly the general path's events and places
    if fast is not None:
        assert fast == slow
        assert [[type(v) for v in e.values()] for e in fast[0]] == \
            [[type(v) for v in e.values()] for e in slow[0]]


@pytest.mark.parametrize(("body", "events"), [
    (b'{"event_type":"click","x":1,"x":2.5}', [{"event_type": "click", "x": 2.5}]),
    (b'{"events":[{"event_type":"a"}],"events":[{"event_type":"b","y":null}]}',
     [{"event_type": "b"}]),
    (b'[{"event_type":"click","props":{"a":1,"a":"x"}}]', [{"event_type": "click", "props": {"a": "x"}}]),
])
def test_repeated_keys_keep_the_last_value_on_both_paths(body, events):
    assert decode_valid(body, 10)[0] == general_path(body, 10)[0] == events


def test_a_tracker_body_takes_the_one_pass_and_a_bad_one_steps_aside():
    # GIVEN the tracker's {"events": [...]}, a bare array, and the same with one bad event
    good = [{"v": 1, "event_type": "click", "x": 812, "current_page": "https://shop.example/é"}] * 2
    bad = [*good, {"event_type": "click", "x": "far"}]
    # THEN the good bodies are read in one pass, with the general path's events and places
    for body in (json.dumps({"events": good}, separators=(",", ":")), json.dumps(good)):
        assert decode_valid(body.encode(), 10) == general_path(body.encode(), 10)
        assert decode_valid(body.encode(), 10)[1] == ["events[0]", "events[1]"]
    # ...and a bad event, an empty list or too many events leave the wording to the general path
    assert decode_valid(json.dumps({"events": bad}).encode(), 10) is None
    assert decode_valid(b"[]", 10) is None
    assert decode_valid(json.dumps(good).encode(), 1) is None
    assert "events[2].x" in general_path(json.dumps({"events": bad}).encode(), 10).to_json()["error"]["field"]


def test_the_re2_resolver_parses_real_agents_as_ua_parsers_reference_resolver():
    # GIVEN fake-useragent's real-world agents and the audience corpus
    from pathlib import Path

    import fake_useragent
    from ua_parser import BasicResolver, Domain, load_lazy_builtins

    from logdig import audience
    from tests.test_audience_enrich import CORPUS

    table = Path(fake_useragent.__file__).parent / "data" / "browsers.jsonl"
    agents = {json.loads(line)["useragent"] for line in table.read_text().splitlines() if line}
    agents |= {row[0] for row in CORPUS}
    # WHEN the collector's parser (re2) and ua-parser's pure-Python reference parse each one
    reference = BasicResolver(load_lazy_builtins())
    # THEN browser, OS and device come out the same
    for agent in sorted(agents):
        expected = reference(agent, Domain.ALL).complete()
        got = audience._ua_parser().parse(agent)
        assert (got.user_agent, got.os, got.device) == \
            (expected.user_agent, expected.os, expected.device), agent


def test_a_worker_caps_glibcs_malloc_arenas():
    # glibc's mallopt answers 1 for a parameter it takes and 0 for one it does not know
    from app import server

    assert server.limit_malloc_arenas(server.MALLOC_ARENAS) is True
    assert server.limit_malloc_arenas(0) is True  # 0: glibc's own default again


@pytest.mark.parametrize("operator", [None, "narenas:2"])
def test_granian_starts_with_the_jemalloc_settings_or_the_operators_own(operator, tmp_path,
                                                                        monkeypatch):
    # GIVEN an environment with or without its own _RJEM_MALLOC_CONF, granian replaced by a
    # recorder of the environment it starts in
    from app import server

    monkeypatch.setenv(server.JEMALLOC_ENV, operator or "")  # restored after the test
    if operator is None:
        monkeypatch.delenv(server.JEMALLOC_ENV)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    seen = {}

    class Recorder:
        def __init__(self, target, **options):
            seen["conf"] = os.environ.get(server.JEMALLOC_ENV)

        def serve(self):
            pass

    monkeypatch.setattr("granian.Granian", Recorder)
    # WHEN the server starts (the Procfile's command and local mode's alike)
    assert server.main(["--port", "8123"]) == 0
    # THEN granian, and the workers it forks, run with the collector's settings or the operator's
    assert seen["conf"] == (operator or server.JEMALLOC_CONF)


@pytest.mark.process
def test_the_server_module_and_the_app_leave_granian_unloaded_until_serve():
    # jemalloc reads its settings at its first allocation: granian's extension must not be
    # loaded before serve() sets them.
    code = ("import sys; import app.server, app; app.create_app; "
            "print('granian' in sys.modules, '_granian' in ' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("text", ["tab\there", "del\x7fhere", "nul\x00here", "c1\x85here",
                                  "line\u2028sep", "soft\u00adhyphen", "plain ascii", "é"])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_a_string_needing_cleaning_is_cleaned_whatever_its_spelling_in_the_body(text, ascii_only):
    # GIVEN a tracker body whose string is spelled raw (DEL, non-ASCII) or escaped (\t, \u0000)
    body = json.dumps({"events": [{"event_type": "click", "target_text": text}]},
                      separators=(",", ":"), ensure_ascii=ascii_only).encode()
    # WHEN the one pass reads it (printable_json lets it skip the per-string check on bodies
    # that cannot hold a control character), THEN it gives the general path's clean event or
    # steps aside for it
    fast, slow = decode_valid(body, 10), general_path(body, 10)
    assert fast is None or fast == slow
    assert slow[0][0]["target_text"] == events.clean_text(text)


@pytest.mark.parametrize("event", [{"event_type": "click"},
                                   {"v": 1, "event_type": "click", "event_id": "mine"}])
def test_enriching_in_place_adds_what_a_copy_adds(event):
    copied = events.enrich(dict(event), "2026-11-23T10:00:00.000Z", "192.0.2.0", lambda: "new-id")
    own = dict(event)
    assert events.enrich(own, "2026-11-23T10:00:00.000Z", "192.0.2.0", lambda: "new-id",
                         in_place=True) is own
    assert own == copied and own["event_id"] == event.get("event_id", "new-id")
