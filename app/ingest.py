"""The collector's endpoints: POST /v1/logs, and the original LogDig root endpoint.

A request is accepted in three steps: authorize (token and origin), enrich (server time, the
client IP anonymized, and the audience fields of logdig.audience), commit (each line fits a
queue message; 202 only once the queue holds them all). Any step refuses the whole request:
nothing of it reaches the queue.
"""

from __future__ import annotations

from flask import request
from flask_restful import Resource
from werkzeug.wsgi import get_content_length

from app import EVENTS_KEY, output_json
from app.payload import (
    FORM_TYPE,
    JSON_TYPES,
    LEGACY_FIELDS,
    check_json_type,
    decode_valid,
    event_list,
    legacy_event,
    parse_json,
    validate_all,
)
from app.services import get_committer, get_settings
from config import Settings
from logdig import audience
from logdig.errors import InvalidInput
from logdig.events import anonymize_ip, enrich, random_uuids, utc_now_iso
from logdig.packing import dumps, fits


def accept(events: list[dict], wheres: list[str]) -> tuple[dict, int]:
    """Authorize, enrich and commit `events` (a list the caller gives away: its events are
    enriched in place and the list emptied)."""
    settings = get_settings()
    authorize(events, wheres, settings, request.headers.get("Origin"))
    enriched = enrich_all(events, request.remote_addr or "", settings)
    lines, event_ids = [dumps(event) for event in enriched], [e["event_id"] for e in enriched]
    # While the queue takes the lines, the request holds only them: ~30 concurrent requests of
    # 20 events would otherwise keep ~4 MB of event dicts alive in a worker.
    events.clear()
    del enriched
    commit(lines, wheres)  # counted as accepted by the flush (metrics.count_accepted)
    request.environ[EVENTS_KEY] = len(lines)  # for the request log line (app.RequestLog)
    return {"accepted": len(lines), "event_ids": event_ids}, 202


def authorize(events: list[dict], wheres: list[str], settings: Settings,
              origin: str | None) -> None:
    """Every event carries a configured token, allowed from the page's origin (when tokens are
    configured at all); InvalidInput 403 naming the first that does not."""
    if not settings.tokens:
        return
    for event, where in zip(events, wheres, strict=True):
        token = event.get("token")
        field = f"{where}.token"
        if token not in settings.tokens:
            raise InvalidInput(field, "is missing or not a configured token",
                               code="unknown_token", status=403)
        allowed = settings.tokens[token]
        # Browsers always send Origin on these requests; a page on another site may not use ours.
        if allowed and origin and origin not in allowed:
            raise InvalidInput(field, f"is not allowed from origin {origin}",
                               code="origin_not_allowed", status=403)


def enrich_all(events: list[dict], full_ip: str, settings: Settings) -> list[dict]:
    """The events with the server's fields; one received_at for the whole request. The audience
    fields are added here rather than in the batcher: the country needs the IP before it is
    anonymized, and they cost about 1% of the request path (bench/audience.py)."""
    received_at = utc_now_iso()
    ip = anonymize_ip(full_ip) if settings.anonymize_ip else full_ip
    agent = request.headers.get("User-Agent", "")
    new_ids = iter(random_uuids(sum("event_id" not in event for event in events))).__next__
    # In place: the validated events are the request's own copies.
    return [audience.enrich(enrich(event, received_at, ip, new_ids, in_place=True), full_ip,
                            agent, settings.user_id_secret) for event in events]


def commit(lines: list[str], wheres: list[str]) -> None:
    """Hand the lines to the queue; return once it holds every one (QueueUnavailable if not)."""
    committer = get_committer()
    for line, where in zip(lines, wheres, strict=True):
        if not fits(line, committer.cap):  # escaped non-ASCII can grow a valid event 12-fold
            raise InvalidInput(where, f"is {len(line)} bytes as JSON, too large for one queue message",
                               code="event_too_large", status=413)
    committer.submit(lines)


def accept_json() -> tuple[dict, int]:
    """A JSON body of one event, an array of events or {"events": [...]}."""
    settings = get_settings()
    body, max_events = request_body(settings.max_body_bytes), settings.max_events_per_request
    check_json_type(request.content_type or "")
    valid = decode_valid(body, max_events)
    if valid is None:
        pairs = event_list(parse_json(body, request.content_type or ""), max_events)
        valid = validate_all(pairs), [where for where, _ in pairs]
        del pairs
    del body  # not kept while the queue takes the events
    return accept(*valid)


def request_body(limit: int) -> bytes:
    """The body, read as werkzeug's get_data reads it (413 past `limit`, the app's
    MAX_CONTENT_LENGTH; a client that sends less than it announced gives what it sent). With a
    Content-Length within the limit it is read in one call: get_data reads in 64 KiB chunks
    through a LimitedStream until the server says the body ended, two reads into the server and
    ~10 µs a request more."""
    environ = request.environ
    length = get_content_length(environ)
    if length is None or length > limit:
        return request.get_data(cache=False)
    stream, chunks = environ["wsgi.input"], []
    while length > 0 and (chunk := stream.read(length)):
        chunks.append(chunk)
        length -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class Logs(Resource):
    def post(self):
        # A Response, which Flask-RESTful passes through: its content negotiation (the Accept
        # header parsed twice a request, ~10 µs) would pick the same JSON representation.
        return output_json(*accept_json())


class Root(Resource):
    """GET / as the original answered it; POST / takes the original tracker's form posts."""

    def get(self):
        return {"RESTful Server": "Success"}

    def post(self):
        if request.mimetype in JSON_TYPES:
            return output_json(*accept_json())
        return output_json(*accept([legacy_event(legacy_form())], ["event"]))


def legacy_form() -> dict[str, str]:
    """The original tracker's form post, or InvalidInput: any other body (binary, multipart, a
    form without one of its fields) is refused, not turned into an empty page view."""
    if request.mimetype != FORM_TYPE:
        raise InvalidInput("Content-Type", f"must be {FORM_TYPE} (the original tracker's form), "
                           "application/json or text/plain", code="unsupported_media_type",
                           status=415)
    form = request.form.to_dict()
    if not form.keys() & set(LEGACY_FIELDS):
        raise InvalidInput("body", "holds none of the original tracker's fields: "
                           + ", ".join(LEGACY_FIELDS))
    return form
