"""Who gets the dashboard, its JSON API against the CLI, and the empty state.

The apps here run in-process (Flask's test client, or werkzeug on a free loopback port for
Chromium); "listening off loopback" is the configured LOGDIG_HOST the app decides by, while the
test server itself listens on 127.0.0.1 only.
"""

import json
import logging
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from analysis.__main__ import main as cli
from app import create_app as collector_app
from app.__main__ import banner
from config import load_settings
from dashboard.auth import Gate
from dashboard.standalone import create_app
from tests.lakegen import generate
from tests.localserver import read_lake_events

FIRST, LAST = "2026-11-20", "2026-11-22"
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    generate(root, events=2000, seed=9, start=FIRST, days=3)
    return root


def client_for(lake, **settings):
    app = create_app(load_settings({}, **settings), lake.as_uri(), clock=lambda: NOW)
    return app.test_client()


@contextmanager
def serving(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def cli_rows(capsys, lake, name, **options):
    capsys.readouterr()
    argv = ["report", name, "--lake", lake.as_uri(), "--format", "json"]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    cli(argv)
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("name", "options"), [
    ("pages", {}),
    ("traffic", {"bucket": "day", "tz": "Europe/Berlin"}),
    ("heatmap", {"page": "https://shop.example.com/cart", "columns": 5}),
    ("funnel", {"steps": "/products,/cart,conversion"}),
    ("referrers", {"site": "shop.example.com"}),
    ("summary", {"from": "2026-11-21T06:00:00Z", "to": "2026-11-21T18:00:00Z"}),
    ("countries", {}),
    ("devices", {"site": "shop.example.com"}),
    ("scroll", {}),
    ("members", {}),
])
def test_api_reports_answer_exactly_the_cli_rows(lake, capsys, name, options):
    options = {"from": FIRST, "to": LAST, **options}
    got = client_for(lake).get(f"/api/reports/{name}", query_string=options)
    assert got.status_code == 200
    assert got.json == cli_rows(capsys, lake, name, **options)


def test_api_summary_has_the_tiles_and_the_previous_period(lake, capsys):
    got = client_for(lake).get("/api/summary", query_string={"from": "2026-11-21",
                                                            "to": "2026-11-22"}).json
    keys = {"visitors", "visits", "page_views", "views_per_visit", "bounce_rate",
            "avg_visit_seconds", "conversions", "conversion_rate", "current_visitors"}
    assert keys <= set(got) and keys == set(got["previous"])
    now = cli_rows(capsys, lake, "summary", **{"from": "2026-11-21", "to": "2026-11-22"})[0]
    before = cli_rows(capsys, lake, "summary", **{"from": "2026-11-19", "to": "2026-11-20"})[0]
    assert {k: got[k] for k in now} == now
    assert {k: got["previous"][k] for k in before} == before
    active = cli_rows(capsys, lake, "active_sessions", **{"from": "2026-11-22T08:00:00Z",
                                                         "to": "2026-11-22T14:00:01Z"})
    assert got["current_visitors"] == len(active)


def test_api_include_bots_keeps_them_as_the_cli_flag_does(lake, capsys):
    client = client_for(lake)
    day = {"from": FIRST, "to": LAST}
    kept = client.get("/api/reports/devices", query_string={**day, "include_bots": "1"}).json
    capsys.readouterr()
    cli(["report", "devices", "--lake", lake.as_uri(), "--format", "json", "--include-bots",
         "--from", FIRST, "--to", LAST])
    assert kept == json.loads(capsys.readouterr().out)
    assert "bot" in {r["device"] for r in kept}
    assert "bot" not in {r["device"] for r in client.get("/api/reports/devices", query_string=day).json}
    tiles = client.get("/api/summary", query_string={**day, "include_bots": "1"}).json
    assert tiles["visitors"] > client.get("/api/summary", query_string=day).json["visitors"]


def test_realtime_counts_bots_only_with_include_bots(lake):
    # "now" is a minute after a bot's last event (the generated lake has crawler visitors)
    bots = [e for e in read_lake_events(lake / "events") if e.get("is_bot")]
    last = max(bots, key=lambda e: e["received_at"])
    now = datetime.fromisoformat(last["received_at"]) + timedelta(minutes=1)
    client = create_app(load_settings({}), lake.as_uri(), clock=lambda: now).test_client()
    for path in ("/api/realtime", "/api/sessions/active"):
        people = {s["visitor"] for s in client.get(path).json["sessions"]}
        everyone = client.get(path, query_string={"include_bots": "1"}).json
        assert last["user_key"] in {s["visitor"] for s in everyone["sessions"]} - people
        assert everyone["current_visitors"] == len(everyone["sessions"])
    assert client.get("/api/realtime?include_bots=maybe").json["error"]["field"] == "include_bots"


@pytest.mark.parametrize(("path", "field"), [
    ("/api/reports/pages?from=2026-11-20&to=2026-11-22&include_bots=maybe", "include_bots"),
    ("/api/reports/traffic?from=2026-11-20&to=2026-11-22&bucket=week", "bucket"),
    ("/api/reports/pages?from=2026-11-20&to=2026-11-22&color=red", "color"),
    ("/api/reports/pages?from=2026-13-01&to=2026-11-22", "from"),
    ("/api/reports/pages?to=2026-11-22", "from"),
    ("/api/reports/pages?from=2026-11-20&to=2026-11-22&tz=Mars/Base", "tz"),
    ("/api/reports/nope?from=2026-11-20&to=2026-11-22", "name"),
    ("/api/summary?from=2026-11-20&to=2026-11-22&site=a%20b", "site"),
    ("/api/range?range=forever", "range"),
])
def test_a_bad_parameter_answers_400_naming_it(lake, path, field):
    reply = client_for(lake).get(path)
    assert reply.status_code == 400
    assert reply.json["error"]["field"] == field


def test_liveinsight_endpoints(lake):
    # "now" is a minute after the last event before 14:00, so someone is on the site
    last = max(e["received_at"] for e in read_lake_events(lake / "events")
               if e["received_at"] < "2026-11-22T14:00")
    now = datetime.fromisoformat(last) + timedelta(minutes=1)
    client = create_app(load_settings({}), lake.as_uri(), clock=lambda: now).test_client()
    active = client.get("/api/sessions/active").json
    assert set(active) == {"as_of", "current_visitors", "sessions"}
    assert active["current_visitors"] == len(active["sessions"]) > 0
    assert active["as_of"] == last[:19] + "Z"  # the lake alone: as fresh as its newest event
    hourly = client.get("/api/statistics/hourly").json
    upto = now.replace(second=0, microsecond=0) + timedelta(minutes=1)  # the last 24 hours
    assert hourly[0]["bucket_start"] == (upto - timedelta(days=1)).strftime("%Y-%m-%dT%H:00:00Z")
    assert hourly[-1]["bucket_start"] == now.strftime("%Y-%m-%dT%H:00:00Z")
    pages = client.get("/api/statistics/pages?from=2026-11-21&to=2026-11-21").json
    assert pages == client.get("/api/reports/pages?from=2026-11-21&to=2026-11-21").json


def test_open_on_loopback_only_to_a_loopback_host_name(lake):
    client = client_for(lake)
    assert client.get("/api/status", base_url="http://[::1]:8000").status_code == 200
    # A site re-pointed at 127.0.0.1 (DNS rebinding) gets nothing.
    reply = client.get("/api/status", base_url="http://evil.test:8000")
    assert reply.status_code == 403 and reply.json["error"]["field"] == "Host"


def test_off_loopback_without_a_password_the_dashboard_is_not_served(lake, caplog):
    with caplog.at_level(logging.WARNING, logger="logdig.dashboard"):
        client = client_for(lake, host="0.0.0.0")
    assert client.get("/dashboard").status_code == 404
    assert client.get("/api/summary?from=2026-11-20&to=2026-11-22").status_code == 404
    assert "LOGDIG_DASHBOARD_PASSWORD" in caplog.text and "not served" in caplog.text


def test_the_aws_collector_serves_no_dashboard():
    settings = load_settings({}, queue_url="https://sqs.us-east-1.amazonaws.com/1/logdig")
    client = collector_app(settings).test_client()
    assert client.get("/dashboard").status_code == 404
    assert client.get("/api/reports/pages").status_code == 404


def test_local_mode_links_the_dashboard(tmp_path):
    settings = load_settings({}, data_dir=tmp_path)
    assert f"http://127.0.0.1:{settings.port}/dashboard" in banner(settings)
    client = collector_app(settings).test_client()
    assert b'href="/dashboard"' in client.get("/demo").data
    assert client.get("/dashboard").status_code == 200


def test_failed_sign_ins_are_slowed_down():
    waits = []
    gate = Gate(load_settings({}, host="0.0.0.0", dashboard_password="right"), sleep=waits.append)
    assert [gate.attempt("10.0.0.1", "wrong") for _ in range(5)] == [False] * 5
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert gate.attempt("10.0.0.1", "right") and gate.failures == {}


def test_a_password_hash_works_and_the_cookie_is_secure_behind_tls(lake):
    client = client_for(lake, host="0.0.0.0",
                        dashboard_password_hash=generate_password_hash("hunter2"))
    client.application.extensions["logdig_dashboard"]["gate"].sleep = lambda _: None
    assert client.post("/dashboard/signin", data={"password": "nope"},
                       base_url="https://dash.test").status_code == 401
    reply = client.post("/dashboard/signin", data={"password": "hunter2"},
                        base_url="https://dash.test")
    assert reply.status_code == 302
    cookie = reply.headers["Set-Cookie"]
    assert all(flag in cookie for flag in ("HttpOnly", "SameSite=Strict", "Secure"))


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.browser.chromium import launch

    with sync_api.sync_playwright() as driver:
        chromium = launch(driver)
        yield chromium
        chromium.close()


@pytest.mark.browser
def test_sign_in_is_required_off_loopback(lake, browser):
    settings = load_settings({}, host="0.0.0.0", dashboard_password="correct horse")
    app = create_app(settings, lake.as_uri(), clock=lambda: NOW)
    with serving(app) as url:
        page = browser.new_page()
        page.goto(url + "/dashboard")
        assert page.url == url + "/dashboard/signin"
        assert page.request.get(url + "/api/status").status == 401
        page.fill("#password", "battery staple")
        page.click("button[type=submit]")
        assert "not right" in page.inner_text("body")
        page.fill("#password", "correct horse")
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-loaded]", timeout=30_000)
        assert page.url.startswith(url + "/dashboard")
        [cookie] = page.context.cookies()
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (True, "Strict", False)
        assert page.request.get(url + "/api/status").json()["has_events"] is True
        page.close()


@pytest.mark.browser
def test_an_empty_lake_shows_how_to_install_the_tracker(tmp_path, browser):
    app = create_app(load_settings({}), tmp_path.as_uri(), clock=lambda: NOW)
    with serving(app) as url:
        page = browser.new_page()
        page.goto(url + "/dashboard")
        page.wait_for_selector("#empty:not([hidden])")
        snippet = page.inner_text("#snippet")
        assert snippet == f'<script async src="{url}/clickTracker.js" data-token="my-site"></script>'
        assert page.locator("#content").is_hidden()
        page.close()
