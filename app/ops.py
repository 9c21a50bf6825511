"""Liveness, readiness and metrics endpoints, and the static tracker and demo page."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, send_from_directory

from app import metrics
from app.errors import retry_later
from app.services import get_queue
from logdig.errors import QueueUnavailable

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="alive")


@bp.get("/readyz")
def readyz():
    try:
        get_queue().ping()
    except QueueUnavailable as exc:
        return retry_later({"status": "queue unavailable", "error": str(exc)})
    return jsonify(status="ready")


@bp.get("/metrics")
def metrics_endpoint():
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


@bp.get("/clickTracker.js")
def tracker():
    # An hour's cache: pages pick up a new tracker within the hour, and the collector is not hit
    # for the script on every page view.
    # The minified build (checked against the source by the tracker's tests) is what pages load.
    response = send_from_directory(STATIC_DIR, "clickTracker.min.js", max_age=3600,
                                   mimetype="text/javascript")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/demo")
def demo():
    return send_from_directory(STATIC_DIR, "demo.html", max_age=0)
