"""Turn a request body into clean, enriched events: the collector's input boundary."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from logdig.errors import InvalidInput
from logdig.events import FIELDS, clean_text, validate

JSON_TYPES = ("application/json", "text/plain", "")
FORM_TYPE = "application/x-www-form-urlencoded"  # what the original clickTracker posted to /
LEGACY_FIELDS = ("timestamp", "token", "user_key", "current_page", "link", "x", "y",
                 "spent_milli_sec", "user_agent", "load_count")
LEGACY_NUMBERS = {"x": float, "y": float, "spent_milli_sec": int, "load_count": int}


def parse_json(body: bytes, content_type: str) -> Any:
    if content_type.split(";")[0].strip().lower() not in JSON_TYPES:
        raise InvalidInput("Content-Type", "must be application/json or text/plain",
                           code="unsupported_media_type", status=415)
    try:  # msgspec decodes in C, ~3x faster; what it refuses (NaN, 1e400, a lone surrogate
        return msgspec.json.decode(body)  # escape, bad input) json decides and words, as before
    except (msgspec.MsgspecError, ValueError, RecursionError):
        pass
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("body", "must be UTF-8", code="invalid_json") from None
    except RecursionError:
        raise InvalidInput("body", "JSON nests too deeply", code="invalid_json") from None
    except ValueError as exc:
        raise InvalidInput("body", f"is not valid JSON: {exc}", code="invalid_json") from None


def event_list(document: Any, max_events: int) -> list[tuple[str, Any]]:
    """(where, raw event) pairs from one event, an array, or {"events": [...]}."""
    if isinstance(document, dict) and "events" in document:
        if set(document) != {"events"}:
            raise InvalidInput("body", "an {\"events\": [...]} body may hold nothing else")
        document, prefix = document["events"], "events"
        if not isinstance(document, list):
            raise InvalidInput("events", "must be an array")
    elif isinstance(document, list):
        prefix = "events"
    elif isinstance(document, dict):
        return [("event", document)]
    else:
        raise InvalidInput("body", "must be an event object, an array of events or {\"events\": [...]}")
    if not document:
        raise InvalidInput(prefix, "holds no events")
    if len(document) > max_events:
        raise InvalidInput(prefix, f"holds {len(document)} events; at most {max_events} per request",
                           code="too_many_events", status=413)
    return [(f"{prefix}[{i}]", raw) for i, raw in enumerate(document)]


def validate_all(pairs: list[tuple[str, Any]]) -> list[dict]:
    """All events valid, or InvalidInput for the first bad one: a request is all or nothing."""
    return [validate(raw, where) for where, raw in pairs]


def legacy_event(form: dict[str, str]) -> dict:
    """An event from the original clickTracker's form post.

    Old pages must keep working, so a value that fails today's stricter rules is kept as text in
    props.legacy_<field> rather than refused.
    """
    event: dict[str, Any] = {}
    props: dict[str, str] = {}
    for name in LEGACY_FIELDS:
        raw = form.get(name)
        if raw in (None, ""):
            continue
        try:
            value = LEGACY_NUMBERS[name](raw) if name in LEGACY_NUMBERS else raw
            event[name] = FIELDS[name](f"event.{name}", value)
        except (ValueError, InvalidInput):
            props[f"legacy_{name}"] = clean_text(raw)[:512]
    event["event_type"] = "page_view" if _is_load_post(event) else "click"
    if props:
        event["props"] = props
    return event


def _is_load_post(event: dict) -> bool:
    """The original tracker posted on page load with x = y = 0 and link = the current page (or
    with nothing clicked at all): that is a page view, not a click."""
    at_origin = not event.get("x") and not event.get("y")
    link = event.get("link")
    return at_origin and (not link or link == event.get("current_page"))
