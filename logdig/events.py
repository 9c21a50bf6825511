"""The event contract: validate what a client sent, normalise it, and enrich it on arrival.

Every string is cleaned so that no control character or lone surrogate can break an NDJSON line,
a log line or a downstream JSON reader; everything else that is wrong raises InvalidInput naming
the field.

Each field is defined once, in FIELDS: its check (the reference, which words every error) and the
msgspec type derived from the same limits. validate() first converts an event with msgspec, in C,
against a Struct compiled once from FIELDS; only an event that msgspec refuses, or whose strings
would need cleaning, goes through the checks one field at a time, so errors read the same either
way (bench/collector.py measures the difference).
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from logdig.errors import InvalidInput

SCHEMA_VERSION = 1
STANDARD_TYPES = ("page_view", "click", "conversion", "heartbeat", "page_leave")
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
USER_KEY_RE = re.compile(r"^[A-Za-z0-9]{20}$")
PROP_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")
MAX_PROPS = 32
MAX_PROPS_BYTES = 4096
MAX_COORD = 10_000_000
MAX_DIMENSION = 100_000
MAX_MILLIS = 10**12
MAX_USER_ID = 128
DEVICES = ("desktop", "mobile", "tablet", "bot", "other")


# Control characters (C0 but tab, DEL, C1) and lone surrogates; JSON can carry them, but a lake line,
# a log line or a strict JSON reader downstream must never see them.
UNSAFE_CHARS_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Replace lone surrogates and control characters (tab is kept) with U+FFFD."""
    return UNSAFE_CHARS_RE.sub("\ufffd", value)


def _text(limit: int, pattern: re.Pattern | None = None) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise InvalidInput(name, "must be a string")
        if len(value) > limit:
            raise InvalidInput(name, f"must be at most {limit} characters, got {len(value)}")
        if pattern is not None and not pattern.match(value):
            raise InvalidInput(name, f"must match {pattern.pattern}")
        return clean_text(value)

    return check


def _scheme(schemes: tuple[str, ...]) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        if value and value.split(":", 1)[0].lower() not in schemes:
            raise InvalidInput(name, f"must be an absolute URL ({', '.join(schemes)}) or empty")
        return value

    return check


def _url(limit: int, schemes: tuple[str, ...]) -> Callable[[str, Any], str]:
    text, scheme = _text(limit), _scheme(schemes)

    def check(name: str, value: Any) -> str:
        return scheme(name, text(name, value))

    return check


def _number(lo: float, hi: float, integer: bool) -> Callable[[str, Any], float]:
    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(name, "must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(name, "must be a finite number")
        if integer and isinstance(value, float):
            if not value.is_integer():
                raise InvalidInput(name, "must be a whole number")
            value = int(value)
        if not lo <= value <= hi:
            raise InvalidInput(name, f"must be between {lo} and {hi}")
        return value

    return check


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(name, "must be true or false")
    return value


def _version(name: str, value: Any) -> int:
    if value != SCHEMA_VERSION or isinstance(value, bool):
        raise InvalidInput(name, f"must be {SCHEMA_VERSION}")
    return SCHEMA_VERSION


_timestamp_text = _text(40)
_prop_text = _text(512)
_prop_number = _number(-1e15, 1e15, integer=False)


def _iso_time(name: str, value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(name, "must be an ISO-8601 time such as 2026-11-23T10:15:30.123Z") from None
    return value


def _timestamp(name: str, value: Any) -> str:
    return _iso_time(name, _timestamp_text(name, value))


def _user_id(name: str, value: Any) -> str:
    """A member id: 1-128 characters, no control characters (refused rather than cleaned: two
    different ids must never become the same visitor)."""
    if not isinstance(value, str):
        raise InvalidInput(name, "must be a string")
    if not 1 <= len(value) <= MAX_USER_ID:
        raise InvalidInput(name, f"must be 1 to {MAX_USER_ID} characters, got {len(value)}")
    if UNSAFE_CHARS_RE.search(value):
        raise InvalidInput(name, "must not contain control characters")
    return value


def _props(name: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise InvalidInput(name, "must be an object")
    if len(value) > MAX_PROPS:
        raise InvalidInput(name, f"must have at most {MAX_PROPS} keys")
    clean = {}
    for key, item in value.items():
        if not PROP_KEY_RE.match(key):
            raise InvalidInput(f"{name}.{clean_text(key)[:60]}", f"key must match {PROP_KEY_RE.pattern}")
        if isinstance(item, str):
            item = _prop_text(f"{name}.{key}", item)
        elif item is not None and not isinstance(item, bool):
            item = _prop_number(f"{name}.{key}", item)
        clean[key] = item
    if len(json.dumps(clean)) > MAX_PROPS_BYTES:
        raise InvalidInput(name, f"must be at most {MAX_PROPS_BYTES} bytes as JSON")
    return clean


@dataclass(frozen=True)
class Field:
    """One client field: its check, the column type the lake stores it as (Hive/Athena names;
    logdig.lake_schema derives every engine's schema from these), and for validate()'s fast path
    the msgspec type that accepts no value the check refuses, and `post`: what the type cannot
    say, run on a value msgspec accepted and whose strings are clean. A field given no spec is
    checked by `check` alone (msgspec takes Any)."""

    check: Callable[[str, Any], Any]
    lake_type: str
    spec: Any = Any
    post: Callable[[str, Any], Any] | None = None

    def __post_init__(self) -> None:
        if self.spec is Any and self.post is None:
            object.__setattr__(self, "post", self.check)

    def __call__(self, name: str, value: Any) -> Any:
        return self.check(name, value)


def _str_spec(limit: int, pattern: re.Pattern | None = None) -> Any:
    # msgspec searches the same pattern with Python's re: ours are anchored, so it matches as
    # pattern.match does.
    return Annotated[str, Meta(max_length=limit, **({"pattern": pattern.pattern} if pattern else {}))]


def _number_spec(lo: float, hi: float, integer: bool) -> Any:
    # A whole float such as 3.0 in an integer field is refused here, and accepted by the check.
    whole = Annotated[int, Meta(ge=math.ceil(lo), le=math.floor(hi))]
    return whole if integer else whole | Annotated[float, Meta(ge=float(lo), le=float(hi))]


def _string(limit: int, pattern: re.Pattern | None = None) -> Field:
    return Field(_text(limit, pattern), "string", _str_spec(limit, pattern))


def _url_field(limit: int, schemes: tuple[str, ...]) -> Field:
    return Field(_url(limit, schemes), "string", _str_spec(limit), _scheme(schemes))


def _number_field(lo: float, hi: float, integer: bool, lake_type: str) -> Field:
    return Field(_number(lo, hi, integer), lake_type, _number_spec(lo, hi, integer))


_HTTP = ("http", "https")
_count = _number_field(0, MAX_MILLIS, True, "bigint")
_dimension = _number_field(0, MAX_DIMENSION, True, "int")
_coord = _number_field(-MAX_COORD, MAX_COORD, False, "double")
_PROPS_SPEC = Annotated[
    dict[_str_spec(50, PROP_KEY_RE), _str_spec(512) | bool | _number_spec(-1e15, 1e15, False) | None],
    Meta(max_length=MAX_PROPS)]

# timestamp stays a string in the lake: ISO-8601 with "Z" is not a Hive timestamp literal, and the
# reports parse it with each engine's own ISO-8601 function. props values may be string, number,
# bool or null; a string map keeps all of them readable.
FIELDS: dict[str, Field] = {
    "v": Field(_version, "int", Literal[1]),
    "event_id": _string(64, ID_RE),
    "event_type": _string(50, EVENT_TYPE_RE),
    "timestamp": Field(_timestamp, "string", _str_spec(40), _iso_time),
    "token": _string(128),
    "user_key": _string(20, USER_KEY_RE),
    "session_id": _string(64, ID_RE),
    "current_page": _url_field(2048, _HTTP),
    "link": _string(2048),
    "referrer": _url_field(2048, _HTTP + ("android-app", "ios-app")),
    "x": _coord,
    "y": _coord,
    "spent_milli_sec": _count,
    "engaged_milli_sec": _count,
    "load_count": _count,
    "user_agent": _string(512),
    "viewport_width": _dimension,
    "viewport_height": _dimension,
    "document_width": _dimension,
    "document_height": _dimension,
    "screen_width": _dimension,
    "screen_height": _dimension,
    "utm_source": _string(256),
    "utm_medium": _string(256),
    "utm_campaign": _string(256),
    "utm_term": _string(256),
    "utm_content": _string(256),
    "target_tag": _string(32),
    "target_id": _string(256),
    "target_classes": _string(512),
    "target_text": _string(256),
    "outbound": Field(_bool, "boolean", bool),
    "page_title": _string(512),
    "language": _string(35),
    "props": Field(_props, "map<string,string>", _PROPS_SPEC, _props),
    # Audience (issue 13): a member id set by logdig('identify', id), how far down the page the
    # visitor scrolled (page_leave), and true when the tracker runs under automation
    # (navigator.webdriver); the collector also sets is_bot from the user agent.
    "user_id": Field(_user_id, "string", _str_spec(MAX_USER_ID), _user_id),
    "scroll_depth": _number_field(0, 100, True, "int"),
    "is_bot": Field(_bool, "boolean", bool),
}
# Added by the collector (enrich), never sent by a client; name -> lake column type. country,
# browser, os and device come from logdig.audience.
SERVER_FIELDS: dict[str, str] = {"received_at": "string", "client_ip": "string",
                                 "country": "string", "browser": "string", "os": "string",
                                 "device": "string"}


def _compiled_event() -> type[msgspec.Struct]:
    """The Struct msgspec checks events against, made once from FIELDS: every field optional
    (null as absent) but event_type, unknown fields refused."""
    fields = [(name, field.spec if name == "event_type" else field.spec | None,
               msgspec.NODEFAULT if name == "event_type" else None)
              for name, field in FIELDS.items()]
    fields.sort(key=lambda item: item[2] is not msgspec.NODEFAULT)  # required fields first
    return msgspec.defstruct("Event", fields, forbid_unknown_fields=True, omit_defaults=True)


_EVENT = EVENT_STRUCT = _compiled_event()
_POSTED = tuple((name, field.post) for name, field in FIELDS.items() if field.post is not None)


def validate(raw: Any, where: str = "event") -> dict:
    """A clean copy of one client event, or InvalidInput naming `where.field`."""
    event = _validate_fast(raw, where)
    return _validate_each(raw, where) if event is None else event


def _validate_fast(raw: Any, where: str) -> dict | None:
    """The event if msgspec accepts it, every string of it is already clean, and the checks
    types cannot express pass; None to leave it to _validate_each (which words the error)."""
    try:
        return checked(msgspec.convert(raw, _EVENT))
    except msgspec.ValidationError:
        return None


def checked(struct: msgspec.Struct, printable: bool = False) -> dict | None:
    """An event msgspec accepted as EVENT_STRUCT (converted, or decoded from JSON in one pass),
    as a dict, if every string is clean and the checks types cannot express pass; else None.
    printable: every string is already known to be printable (see printable_json)."""
    event = msgspec.to_builtins(struct)
    if not printable:
        for value in event.values():
            # isprintable() is false for every character clean_text replaces (and for a few it
            # keeps, such as tab: those take the slow path, which is correct, only slower).
            if value.__class__ is str and not value.isprintable():
                return None
    try:
        for name, post in _POSTED:
            if name in event:
                event[name] = post(name, event[name])
    except InvalidInput:
        return None
    return event


def printable_json(body: bytes) -> bool:
    """Whether every string a JSON document decodes to is printable, known from its bytes alone
    (~0.1 µs a KB, against ~1.5 µs an event for checking each string): JSON carries a control
    character only escaped (a backslash) or, for DEL and the non-ASCII ones, as such."""
    return body.isascii() and b"\\" not in body and b"\x7f" not in body


def _validate_each(raw: Any, where: str) -> dict:
    if not isinstance(raw, dict):
        raise InvalidInput(where, "must be a JSON object")
    event = {}
    for name, value in raw.items():
        check = FIELDS.get(name)
        if check is None:
            raise InvalidInput(f"{where}.{clean_text(str(name))[:60]}", "is not a known field")
        if value is None:
            continue
        event[name] = check(f"{where}.{name}", value)
    if "event_type" not in event:
        raise InvalidInput(f"{where}.event_type", "is required")
    return event


def utc_now_iso(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def anonymize_ip(address: str) -> str:
    """IPv4: zero the last octet; IPv6: zero the last 80 bits (Google Analytics' rule)."""
    try:  # IPv4 in C, as strict as ipaddress (no leading zeros, four parts): 10x cheaper
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, address)[:3] + b"\0")
    except (OSError, ValueError):  # not IPv4 (or NUL inside): IPv6, or nothing
        pass
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def enrich(event: dict, received_at: str, client_ip: str,
           new_id: Callable[[], str] | None = None, in_place: bool = False) -> dict:
    """Add the server's fields without overwriting any client field. new_id: what makes an
    event_id for an event without one (random_uuid; a request's ids come from random_uuids).
    in_place: add them to `event` itself (the collector's own validated copy), `v` last."""
    if in_place:
        enriched = event
        enriched.setdefault("v", SCHEMA_VERSION)
    else:
        enriched = {"v": SCHEMA_VERSION, **event}
    if "event_id" not in enriched:
        enriched["event_id"] = (new_id or random_uuid)()
    enriched["received_at"] = received_at
    if client_ip:
        enriched["client_ip"] = client_ip
    return enriched


def random_uuid() -> str:
    """A version 4 UUID as uuid.uuid4() writes it, without building a UUID object."""
    return random_uuids(1)[0]


def random_uuids(count: int) -> list[str]:
    """`count` version 4 UUIDs, from one os.urandom call (a system call each costs ~0.7 µs)."""
    raw = bytearray(os.urandom(16 * count))
    ids = []
    for start in range(0, 16 * count, 16):
        raw[start + 6] = raw[start + 6] & 0x0F | 0x40  # version 4
        raw[start + 8] = raw[start + 8] & 0x3F | 0x80  # RFC 4122 variant
        h = raw[start:start + 16].hex()
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def received_date(event: dict) -> str:
    """The lake partition (UTC date) of an enriched event; ValueError if it has none."""
    received_at = event.get("received_at") if isinstance(event, dict) else None
    if not isinstance(received_at, str) or len(received_at) < 10:
        raise ValueError("event has no received_at")
    try:
        return datetime.fromisoformat(received_at).astimezone(UTC).strftime("%Y-%m-%d")
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError(f"received_at {received_at!r} is out of range") from None
