"""The collector's JSON errors: every failure a client can cause or see, answered one way."""

from __future__ import annotations

import logging

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from app import metrics
from logdig.errors import InvalidInput, QueueUnavailable
from logdig.logs import emit

log = logging.getLogger("logdig.collector")
RETRY_AFTER_SECONDS = 5


def retry_later(body: dict) -> Response:
    """503 with Retry-After: the queue is unreachable, so the tracker keeps its events for later."""
    response = jsonify(body)
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def error_response(exc: Exception) -> Response:
    """The project's JSON error for every failure a client can cause or see."""
    if isinstance(exc, QueueUnavailable):
        metrics.count_rejected("queue_unavailable")
        emit(log, "queue_unavailable", error=str(exc))
        return retry_later({"error": {"code": "queue_unavailable", "field": None, "message":
                                      "the queue is unreachable; nothing was accepted, retry later"}})
    if isinstance(exc, InvalidInput):
        body, status = exc.to_json(), exc.status
        metrics.count_rejected(exc.code)
    else:
        status = exc.code if isinstance(exc, HTTPException) else 500
        body = {"error": {"code": "http_" + str(status), "field": None,
                          "message": getattr(exc, "description", "internal error")}}
        if status == 413:
            body["error"]["field"] = "body"
            metrics.count_rejected("body_too_large")
    response = jsonify(body)
    response.status_code = status
    return response
