"""The collector's cheaper paths give what the reference paths give: msgspec validation against the
field-by-field checks, the IPv4 anonymizer against ipaddress, the fast event ids against uuid."""

from __future__ import annotations

import ipaddress
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.payload import parse_json
from logdig import events
from logdig.errors import InvalidInput
from tests.test_core_property import clean_events, dirty_events


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
