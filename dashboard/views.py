"""The dashboard page and its JSON API (the page fetches the same API a script would).

  GET /dashboard                       the page (static HTML + dashboard.js; no inline script)
  GET /api/range?range=7d&tz=...       a date preset as from/to/bucket and the previous period
  GET /api/reports/<name>?from=&to=... the rows of `python -m analysis report <name> --format json`
                                       (format=csv: the same rows as CSV)
  GET /api/summary?from=&to=           the tiles, with `previous`
  GET /api/realtime                    current visitors, events per minute, active sessions
  GET /api/sessions/active             LiveInsight's active sessions
  GET /api/statistics/hourly|pages|referrers   LiveInsight's statistics (default: last 24 h)
  GET /api/status                      whether the lake has any event yet, and the tracker tag
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from werkzeug.exceptions import HTTPException

from dashboard import framing, ranges
from dashboard.auth import COOKIE, SESSION_SECONDS, Gate, is_loopback
from dashboard.data import REPORT_PARAMS, Source, iso
from logdig.errors import InvalidInput, LakeError

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
ASSETS = {"dashboard.js", "dashboard.css", "vendor/chart.umd.min.js"}
# No inline script or style may run; the heatmap frames the site's own pages (sandboxed).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; frame-src http: https:; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
STATISTICS = {"hourly": ("traffic", {"bucket": "hour"}), "pages": ("pages", {}),
              "referrers": ("referrers", {})}

bp = Blueprint("dashboard", __name__, template_folder="templates")


def _source() -> Source:
    return current_app.extensions["logdig_dashboard"]["source"]


def _gate() -> Gate:
    return current_app.extensions["logdig_dashboard"]["gate"]


def _now() -> datetime:
    return current_app.extensions["logdig_dashboard"]["clock"]()


def error(exc: Exception) -> Response:
    if isinstance(exc, InvalidInput):
        body, status = exc.to_json(), exc.status
    elif isinstance(exc, LakeError):
        body = {"error": {"code": "lake_unavailable", "field": None, "message": str(exc)}}
        status = 503
    else:
        status = exc.code if isinstance(exc, HTTPException) else 500
        body = {"error": {"code": f"http_{status}", "field": None,
                          "message": getattr(exc, "description", "internal error")}}
    response = jsonify(body)
    response.status_code = status
    return response


@bp.errorhandler(InvalidInput)
@bp.errorhandler(LakeError)
def _handled(exc):
    return error(exc)


@bp.before_request
def _require_sign_in():
    gate = _gate()
    if gate.open and not is_loopback(urlsplit("//" + request.host).hostname or ""):
        # Open on loopback, but only to pages of a loopback origin: a site whose name is
        # re-pointed at 127.0.0.1 (DNS rebinding) must not read this API from a browser.
        raise InvalidInput("Host", f"{request.host!r} is not a loopback address: open the "
                           "dashboard at 127.0.0.1 or localhost", code="forbidden", status=403)
    if request.endpoint in ("dashboard.signin", "dashboard.asset"):
        return None
    if gate.signed_in(request.cookies.get(COOKIE)):
        return None
    if request.path.startswith("/api/"):
        return error(InvalidInput(None, "sign in at /dashboard/signin first", code="unauthorized",
                                  status=401))
    return redirect(url_for("dashboard.signin"))


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.path.startswith("/api/") or request.path == "/dashboard":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/dashboard")
def page():
    settings = current_app.config["LOGDIG"]
    return render_template("dashboard.html", default_tz=settings.dashboard_tz,
                           signed=not _gate().open)


@bp.route("/dashboard/signin", methods=["GET", "POST"])
def signin():
    gate = _gate()
    failed = False
    if request.method == "POST":
        client = request.remote_addr or "?"
        if gate.attempt(client, request.form.get("password", "")):
            response = redirect(url_for("dashboard.page"))
            response.set_cookie(COOKIE, gate.cookie_value(), max_age=SESSION_SECONDS,
                                httponly=True, samesite="Strict", secure=request.is_secure,
                                path="/")
            return response
        failed = True
    response = Response(render_template("signin.html", failed=failed),
                        status=401 if failed else 200)
    return response


@bp.post("/dashboard/signout")
def signout():
    response = redirect(url_for("dashboard.signin"))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict",
                           secure=request.is_secure)
    return response


@bp.get("/dashboard/assets/<path:name>")
def asset(name: str):
    if name not in ASSETS:
        return error(InvalidInput("name", f"{name!r} is not a dashboard asset", status=404))
    return send_from_directory(STATIC_DIR, name, max_age=300)


def _args(allowed: tuple[str, ...]) -> dict:
    """The query parameters, refusing any the endpoint does not know (named in the 400)."""
    for key in request.args:
        if key not in allowed:
            raise InvalidInput(key, f"unknown parameter; expected one of {', '.join(allowed)}")
    return {k: request.args.get(k) for k in allowed if request.args.get(k) not in (None, "")}


@bp.get("/api/range")
def range_():
    raw = _args(("range", "tz", "from", "to"))
    tz = raw.get("tz") or current_app.config["LOGDIG"].dashboard_tz
    return jsonify(ranges.resolve(raw.get("range", "7d"), tz, _now(), raw.get("from"),
                                  raw.get("to")))


@bp.get("/api/reports/<name>")
def report(name: str):
    raw = _args(REPORT_PARAMS + ("format",))
    fmt = raw.pop("format", "json")
    if fmt not in ("json", "csv"):
        raise InvalidInput("format", f"{fmt!r} must be json or csv")
    for needed in ("from", "to"):
        if needed not in raw:
            raise InvalidInput(needed, "is required (a date YYYY-MM-DD or an ISO datetime)")
    rows = _source().run(name, raw)
    return _csv(name, rows) if fmt == "csv" else jsonify(rows)


def _csv(name: str, rows: list[dict]) -> Response:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="logdig-{name}.csv"'
    return response


@bp.get("/api/summary")
def summary():
    raw = _args(("from", "to", "tz", "site", "page", "referrer", "include_bots"))
    return jsonify(_source().summary(raw, _now()))


REALTIME_PARAMS = ("site", "page", "referrer", "include_bots")


@bp.get("/api/realtime")
def realtime():
    return jsonify(_source().realtime(_args(REALTIME_PARAMS), _now()))


@bp.get("/api/sessions/active")
def sessions_active():
    live = _source().realtime(_args(REALTIME_PARAMS), _now())
    return jsonify({k: live[k] for k in ("as_of", "current_visitors", "sessions")})


@bp.get("/api/statistics/<kind>")
def statistics(kind: str):
    if kind not in STATISTICS:
        raise InvalidInput("kind", f"{kind!r} must be one of {', '.join(STATISTICS)}", status=404)
    name, fixed = STATISTICS[kind]
    raw = _args(("from", "to", "tz", "site", "page", "referrer"))
    if "from" not in raw and "to" not in raw:
        upto = _now().astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        raw.update({"from": iso(upto - timedelta(days=1)), "to": iso(upto)})
    return jsonify(_source().run(name, {**raw, **fixed}))


@bp.get("/api/status")
def status():
    settings = current_app.config["LOGDIG"]
    token = next(iter(settings.tokens), "my-site")
    return jsonify({"has_events": _source().has_events(),
                    "tracker_url": request.host_url + "clickTracker.js", "token": token})


@bp.get("/api/frameable")
def frameable():
    """Whether the page lets this dashboard frame it (X-Frame-Options, CSP frame-ancestors), so
    the heatmap draws over the page itself; otherwise over a blank page-sized canvas. Only
    http(s) URLs are fetched, headers only, with a short timeout."""
    page = _args(("page",)).get("page", "")
    if not page.lower().startswith(("http://", "https://")):
        raise InvalidInput("page", f"{page!r} must be an http(s) URL")
    return jsonify({"page": page, "frameable": framing.allowed(page, request.host_url)})
