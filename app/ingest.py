"""The collector's endpoints: POST /v1/logs, and the original LogDig root endpoint."""

from __future__ import annotations

from flask import current_app, request
from flask_restful import Resource

from app import metrics
from app.payload import event_list, legacy_event, parse_json, validate_all
from logdig.errors import InvalidInput
from logdig.events import anonymize_ip, enrich, utc_now_iso
from logdig.packing import dumps, fits


def accept(events: list[dict], wheres: list[str]) -> tuple[dict, int]:
    """Check tokens, enrich, and return 202 only after the queue holds every event."""
    settings = current_app.config["LOGDIG"]
    _check_tokens(events, wheres, settings)
    received_at = utc_now_iso()
    ip = request.remote_addr or ""
    ip = anonymize_ip(ip) if settings.anonymize_ip else ip
    enriched = [enrich(event, received_at, ip) for event in events]
    committer = current_app.extensions["logdig_committer"]()
    lines = [dumps(e) for e in enriched]
    for line, where in zip(lines, wheres, strict=True):
        if not fits(line, committer.cap):  # escaped non-ASCII can grow a valid event 12-fold
            raise InvalidInput(where, f"is {len(line)} bytes as JSON, too large for one queue message",
                               code="event_too_large", status=413)
    committer.submit(lines)
    metrics.ACCEPTED.inc(len(enriched))
    request.environ["logdig.events"] = len(enriched)
    return {"accepted": len(enriched), "event_ids": [e["event_id"] for e in enriched]}, 202


def _check_tokens(events: list[dict], wheres: list[str], settings) -> None:
    if not settings.tokens:
        return
    origin = request.headers.get("Origin")
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


class Logs(Resource):
    def post(self):
        settings = current_app.config["LOGDIG"]
        document = parse_json(request.get_data(cache=False), request.content_type or "")
        pairs = event_list(document, settings.max_events_per_request)
        return accept(validate_all(pairs), [where for where, _ in pairs])


class Root(Resource):
    """GET / as the original answered it; POST / takes the original tracker's form posts."""

    def get(self):
        return {"RESTful Server": "Success"}

    def post(self):
        if request.mimetype in ("application/json", "text/plain"):
            return Logs().post()
        return accept([legacy_event(request.form.to_dict())], ["event"])
