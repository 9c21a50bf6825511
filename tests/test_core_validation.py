"""The event contract: validation, cleaning, enrichment, and the collector's body parsing."""

from __future__ import annotations

import json

import pytest

from app.payload import event_list, legacy_event, parse_json
from logdig.errors import InvalidInput
from logdig.events import anonymize_ip, enrich, received_date, validate
from logdig.packing import dumps


def test_a_full_event_passes_unchanged():
    event = {"v": 1, "event_id": "0b0f-1", "event_type": "click", "x": 10.5, "y": 20,
             "current_page": "https://a.example/p?q=1", "referrer": "", "user_key": "a" * 20,
             "props": {"plan": "pro", "qty": 2, "gift": False, "note": None}, "outbound": True}
    assert validate(event) == event


@pytest.mark.parametrize("raw, field, says", [
    ({"x": 1}, "event.event_type", "is required"),
    ({"event_type": "Bad Type"}, "event.event_type", "must match"),
    ({"event_type": "click", "x": "12"}, "event.x", "must be a number"),
    ({"event_type": "click", "x": True}, "event.x", "must be a number"),
    ({"event_type": "click", "load_count": 1.5}, "event.load_count", "whole number"),
    ({"event_type": "click", "spent_milli_sec": -1}, "event.spent_milli_sec", "between"),
    ({"event_type": "click", "current_page": "javascript:alert(1)"}, "event.current_page", "absolute URL"),
    ({"event_type": "click", "user_key": "short"}, "event.user_key", "must match"),
    ({"event_type": "click", "page_title": "t" * 513}, "event.page_title", "at most 512"),
    ({"event_type": "click", "timestamp": "yesterday"}, "event.timestamp", "ISO-8601"),
    ({"event_type": "click", "colour": "red"}, "event.colour", "not a known field"),
    ({"event_type": "click", "props": {"a": {"nested": 1}}}, "event.props.a", "must be a number"),
    ({"event_type": "click", "props": {f"k{i}": i for i in range(33)}}, "event.props", "at most 32"),
    ({"event_type": "click", "props": {"bad key": 1}}, "event.props.bad key", "key must match"),
    ({"event_type": "click", "v": 2}, "event.v", "must be 1"),
])
def test_bad_fields_are_named_with_the_reason(raw, field, says):
    with pytest.raises(InvalidInput) as caught:
        validate(raw)
    assert caught.value.field == field and says in caught.value.message


def test_control_characters_and_lone_surrogates_cannot_break_a_line():
    event = validate({"event_type": "click", "target_text": "a\nb\r\x00c\ud800d\u2028e\tf"})
    assert event["target_text"] == "a\ufffdb\ufffd\ufffdc\ufffdd\u2028e\tf"
    line = dumps(enrich(event, "2026-11-23T00:00:00.000Z", ""))
    assert "\n" not in line and line.isascii()
    assert json.loads(line)["target_text"] == event["target_text"]


def test_enrichment_adds_server_fields_without_overwriting_client_ones():
    event = enrich({"event_type": "click", "event_id": "mine"}, "2026-11-23T23:59:59.999Z", "10.0.0.0")
    assert event == {"v": 1, "event_type": "click", "event_id": "mine",
                     "received_at": "2026-11-23T23:59:59.999Z", "client_ip": "10.0.0.0"}
    assert len(enrich({"event_type": "click"}, "t", "")["event_id"]) == 36


@pytest.mark.parametrize("ip, anonymized", [
    ("203.0.113.77", "203.0.113.0"),
    ("2001:db8:85a3:1234:5678:8a2e:370:7334", "2001:db8:85a3::"),
    ("not-an-ip", ""),
])
def test_ip_anonymization(ip, anonymized):
    assert anonymize_ip(ip) == anonymized


def test_received_date_is_the_utc_date():
    assert received_date({"received_at": "2026-11-23T23:59:59.999Z"}) == "2026-11-23"
    assert received_date({"received_at": "2026-11-24T00:00:00.000Z"}) == "2026-11-24"
    with pytest.raises(ValueError):
        received_date({"event_type": "click"})


@pytest.mark.parametrize("body, field, code", [
    (b"{not json", "body", "invalid_json"),
    (b"[" * 100_000 + b"]" * 100_000, "body", "invalid_json"),
    (b"\xff\xfe", "body", "invalid_json"),
])
def test_malformed_bodies_are_named(body, field, code):
    with pytest.raises(InvalidInput) as caught:
        parse_json(body, "application/json")
    assert (caught.value.field, caught.value.code) == (field, code)


def test_form_content_type_is_refused_on_the_json_endpoint():
    with pytest.raises(InvalidInput) as caught:
        parse_json(b"{}", "application/x-www-form-urlencoded")
    assert caught.value.status == 415


@pytest.mark.parametrize("document, wheres", [
    ({"event_type": "click"}, ["event"]),
    ([{"event_type": "click"}, {"event_type": "page_view"}], ["events[0]", "events[1]"]),
    ({"events": [{"event_type": "click"}]}, ["events[0]"]),
])
def test_three_body_shapes(document, wheres):
    assert [where for where, _ in event_list(document, 10)] == wheres


@pytest.mark.parametrize("document, status, says", [
    ([], 400, "holds no events"),
    ([{}] * 11, 413, "at most 10"),
    ({"events": {}}, 400, "must be an array"),
    ({"events": [], "extra": 1}, 400, "nothing else"),
    ("click", 400, "must be an event object"),
])
def test_bad_shapes(document, status, says):
    with pytest.raises(InvalidInput) as caught:
        event_list(document, 10)
    assert caught.value.status == status and says in caught.value.message


def test_legacy_form_fields_become_an_event_and_nothing_is_refused():
    event = legacy_event({"timestamp": "Mon Nov 23 2026", "token": "t", "user_key": "k" * 20,
                          "current_page": "https://a.example/", "link": "https://b.example/",
                          "x": "12", "y": "30.5", "spent_milli_sec": "1500",
                          "user_agent": "UA", "load_count": "oops"})
    assert event["event_type"] == "click"
    assert (event["x"], event["y"], event["spent_milli_sec"]) == (12.0, 30.5, 1500)
    assert event["props"] == {"legacy_timestamp": "Mon Nov 23 2026", "legacy_load_count": "oops"}
    assert validate(event) == event
