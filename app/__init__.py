"""The LogDig collector: a Flask + Flask-RESTful app built by create_app()."""

from __future__ import annotations

import functools
import importlib.util
import logging
import time

from flask import Flask, g, jsonify, request
from flask_cors import CORS
from flask_restful import Api
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from app import metrics
from config import Settings, load_settings
from logdig import logs
from logdig.errors import InvalidInput, LogDigError, QueueUnavailable
from logdig.logs import emit
from logdig.message_queue import Queue
from logdig.queues import make_queue

log = logging.getLogger("logdig.collector")
RETRY_AFTER_SECONDS = 5


def error_response(exc: Exception):
    """The project's JSON error for every failure a client can cause or see."""
    if isinstance(exc, InvalidInput):
        body, status = exc.to_json(), exc.status
        metrics.REJECTED.labels(exc.code).inc()
    elif isinstance(exc, QueueUnavailable):
        body = {"error": {"code": "queue_unavailable", "field": None,
                          "message": "the queue is unreachable; nothing was accepted, retry later"}}
        status = 503
        metrics.REJECTED.labels("queue_unavailable").inc()
        emit(log, "queue_unavailable", error=str(exc))
    else:
        code = exc.code if isinstance(exc, HTTPException) else 500
        body = {"error": {"code": "http_" + str(code), "field": None,
                          "message": getattr(exc, "description", "internal error")}}
        status = code
        if code == 413:
            body["error"]["field"] = "body"
            metrics.REJECTED.labels("body_too_large").inc()
    response = jsonify(body)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class LogDigApi(Api):
    def handle_error(self, e):
        if isinstance(e, LogDigError | HTTPException):
            return error_response(e)
        raise e


def create_app(settings: Settings | None = None, queue: Queue | None = None) -> Flask:
    settings = settings or load_settings()
    if not logging.getLogger().handlers:  # under gunicorn: JSON lines on stderr
        logs.setup()
    app = Flask(__name__, static_folder=None)
    app.config["LOGDIG"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if settings.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)
    _wire_queue(app, settings, queue)
    _wire_cors(app, settings)
    _wire_routes(app)
    _wire_dashboard(app, settings)
    _wire_request_log(app)
    return app


def _wire_dashboard(app: Flask, settings: Settings) -> None:
    # Local mode only: the AWS collector (SQS) is send-only and its bundle has no dashboard/;
    # nor without the analysis requirements (DuckDB), which the reports need.
    if not settings.local_queue or importlib.util.find_spec("duckdb") is None:
        return
    import dashboard

    dashboard.register(app, settings, queue_path=settings.queue_path)


def _wire_queue(app: Flask, settings: Settings, queue: Queue | None) -> None:
    # Built lazily, once per worker process, on the first request that needs it.
    @functools.cache
    def get_queue() -> Queue:
        return queue or make_queue(settings)

    @functools.cache
    def get_committer():
        from app.group_commit import GroupCommitter

        return GroupCommitter(get_queue(), settings.max_message_bytes, settings.flush_wait_ms,
                              settings.queue_retry_seconds)

    app.extensions["logdig_queue"] = get_queue
    app.extensions["logdig_committer"] = get_committer


def _wire_cors(app: Flask, settings: Settings) -> None:
    origins = list(settings.allowed_origins)
    if "*" not in origins:
        origins += [o for allowed in settings.tokens.values() for o in allowed]
    CORS(app, resources={r"/v1/*": {"origins": origins}, r"/": {"origins": origins}},
         methods=["GET", "POST", "OPTIONS"], allow_headers=["Content-Type"], max_age=86400)


def _wire_routes(app: Flask) -> None:
    from app.ingest import Logs, Root
    from app.ops import bp

    api = LogDigApi(app)
    api.add_resource(Logs, "/v1/logs")
    api.add_resource(Root, "/")
    app.register_blueprint(bp)
    for code in (400, 404, 405, 413, 500):
        app.register_error_handler(code, error_response)


def _wire_request_log(app: Flask) -> None:
    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response):
        if request.path not in ("/healthz", "/metrics"):
            emit(log, "request", method=request.method, path=request.path,
                 status=response.status_code, events=request.environ.get("logdig.events", 0),
                 ms=round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2))
        return response

