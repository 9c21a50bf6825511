"""The LogDig collector: a Flask + Flask-RESTful app built by create_app()."""

from __future__ import annotations

import importlib.util
import logging
import time

import orjson
from flask import Flask, Response, request
from flask_cors import CORS
from flask_restful import Api
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wsgi import get_path_info

from app import services
from app.errors import error_response
from app.group_commit import deferring_wakes
from config import Settings, load_settings
from logdig import logs
from logdig.errors import LogDigError
from logdig.logs import emit
from logdig.message_queue import Queue

log = logging.getLogger("logdig.collector")


def output_json(data, code: int, headers=None) -> Response:
    """Flask-RESTful's JSON representation, written by orjson: ~40 µs less a request than its
    own (json.dumps with the app's settings, then make_response)."""
    return Response(orjson.dumps(data) + b"\n", code, headers, mimetype="application/json")


class LogDigApi(Api):
    def handle_error(self, e):
        if isinstance(e, LogDigError | HTTPException):
            return error_response(e)
        raise e


def create_app(settings: Settings | None = None, queue: Queue | None = None) -> Flask:
    settings = settings or load_settings()
    if not logging.getLogger().handlers:  # under the server: JSON lines on stderr, off the request
        logs.setup(background=True)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if settings.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)
    services.init_app(app, settings, queue)
    _wire_cors(app, settings)
    _wire_routes(app)
    _wire_dashboard(app, settings)
    app.wsgi_app = RequestLog(app.wsgi_app)
    return app


def _wire_dashboard(app: Flask, settings: Settings) -> None:
    # Local mode only: the AWS collector (SQS) is send-only and its bundle has no dashboard/;
    # nor without the analysis requirements (DuckDB), which the reports need.
    if not settings.local_queue or None in (importlib.util.find_spec("duckdb"),
                                            importlib.util.find_spec("dashboard")):
        return
    import dashboard

    # The store `python -m analysis` keeps for the configured lake (analysis.store.default_path).
    dashboard.register(app, settings, queue_path=settings.queue_path,
                       store=settings.data_dir / "store.duckdb")


def cors_origins(settings: Settings) -> list[str]:
    """Origins CORS preflight grants. When every configured token names its sites, only those
    (and an explicit LOGDIG_ALLOWED_ORIGINS list): the default `*` would let any page ask. A token
    usable from anywhere keeps LOGDIG_ALLOWED_ORIGINS as it is."""
    token_origins = [o for allowed in settings.tokens.values() for o in allowed]
    explicit = [o for o in settings.allowed_origins if o != "*"]
    if settings.tokens and all(settings.tokens.values()):
        return explicit + token_origins
    if "*" in settings.allowed_origins:
        return ["*"]
    return explicit + token_origins


def _wire_cors(app: Flask, settings: Settings) -> None:
    origins = cors_origins(settings)
    CORS(app, resources={r"/v1/*": {"origins": origins}, r"/": {"origins": origins}},
         methods=["GET", "POST", "OPTIONS"], allow_headers=["Content-Type"], max_age=86400)
    hooks = app.after_request_funcs[None]
    hooks[-1] = RememberedCors(hooks[-1])  # the function flask-cors registered


class RememberedCors:
    """flask-cors's after_request function, its headers remembered per path, Origin and
    private-network header for any request but a preflight: its answer depends on nothing else
    then. It costs ~20 µs a request (resource patterns matched, a MultiDict of options built
    and formatted for a debug log), a remembered answer ~4. At most MAX_KNOWN answers are kept
    (Origin is the client's to choose)."""

    MAX_KNOWN = 1024

    def __init__(self, after):
        self.after = after
        self.known: dict[tuple, list[tuple[str, str]]] = {}

    def __call__(self, response: Response) -> Response:
        environ = request.environ  # read directly: each read of `request` goes through a proxy
        # Looked for by hand: `name in headers` raises and catches a BadRequestKeyError (an
        # HTTPException built each time) when the name is missing, as it is on nearly every answer.
        if environ["REQUEST_METHOD"] == "OPTIONS" or any(
                name.lower() == "access-control-allow-origin" for name, _ in response.headers):
            return self.after(response)  # a preflight, or headers a view set: flask-cors decides
        key = (environ.get("PATH_INFO"), environ.get("HTTP_ORIGIN"),
               environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"))
        added = self.known.get(key)
        if added is None:
            count = len(response.headers)
            response = self.after(response)
            added = list(response.headers.items())[count:]  # flask-cors only adds headers
            if len(self.known) >= self.MAX_KNOWN:
                self.known.clear()
            self.known[key] = added
        else:
            for name, value in added:
                response.headers.add(name, value)
        return response


def _wire_routes(app: Flask) -> None:
    from app.ingest import Logs, Root
    from app.ops import bp

    api = LogDigApi(app)
    api.representation("application/json")(output_json)
    api.add_resource(Logs, "/v1/logs")
    api.add_resource(Root, "/")
    app.register_blueprint(bp)
    for code in (400, 404, 405, 413, 500):
        app.register_error_handler(code, error_response)


EVENTS_KEY = "logdig.events"  # set in the WSGI environ by the handler: the events a request carried
QUIET_PATHS = ("/healthz", "/metrics")  # polled: no log line
BUFFERED_BYTES = 64 * 1024  # answers up to this size are handed to the server in one piece


class RequestLog:
    """WSGI middleware around the whole app: every answer gets `X-Content-Type-Options: nosniff`
    (error bodies echo client input: no browser may sniff any answer into HTML or script), and
    each request but the polled ones one JSON log line (method, path, status, events, ms). An
    answer of known length up to BUFFERED_BYTES goes to the server as one bytes object.

    As Flask hooks (a before_request timer, two after_request functions) the same work cost
    ~10 µs more a request (in-process, 1 event per request): Flask wraps every hook call in
    ensure_sync, and each read of `request` or `g` goes through a context-local proxy."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        status, length = "", None

        def start(status_line, headers, exc_info=None):
            nonlocal status, length
            status = status_line
            nosniff = True
            for name, value in headers:
                lowered = name.lower()
                if lowered == "x-content-type-options":
                    nosniff = False
                elif lowered == "content-length" and value.isdigit():
                    length = int(value)
            if nosniff:
                headers.append(("X-Content-Type-Options", "nosniff"))
            return start_response(status_line, headers, exc_info)

        # Each request woken from a group-commit flush wakes the next one only once its answer
        # is written, so that one finds the GIL free (app.group_commit).
        body = deferring_wakes(lambda: self.app(environ, start))
        if length is not None and length <= BUFFERED_BYTES:
            # A small answer as one bytes in a list: the server sends it as it is, instead of
            # iterating Flask's response from another thread (granian: response_bytes).
            answer = body
            try:
                body = [b"".join(answer)]
            finally:
                if hasattr(answer, "close"):
                    answer.close()
        path = "/" + get_path_info(environ).lstrip("/")  # what request.path gives
        if path not in QUIET_PATHS:
            emit(log, "request", method=environ.get("REQUEST_METHOD", "").upper(), path=path,
                 status=int(status[:3]) if status[:3].isdigit() else 0,
                 events=environ.get(EVENTS_KEY, 0),
                 ms=round((time.perf_counter() - started) * 1000, 2))
        return body
