"""The dashboard in real headless Chromium, against local mode (`python -m app`) on a seeded lake.

Every number is checked against the CLI (`python -m analysis report ... --format json`, run
in-process through its main()) for the same lake and options, never against a hand-typed value.
One local-mode server and one browser serve the whole module (~40 s in all).
"""

import csv
import io
import json
import re
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from analysis.__main__ import main as cli
from tests.browser.chromium import launch
from tests.lakegen import generate, write_events
from tests.localserver import LocalServer

pytestmark = [pytest.mark.browser, pytest.mark.process]
sync_api = pytest.importorskip("playwright.sync_api")

FIRST, LAST = "2026-11-20", "2026-11-22"
DESKTOP = {"width": 1440, "height": 900}
REALTIME_DEADLINE_MS = 15_000  # issue 11: "an accepted event appears there within 15 s"
PWN = "window.__pwned = (window.__pwned || 0) + 1"
HOSTILE_PAGE = f"https://evil.test/<img src=x onerror=\"{PWN}\">"
HOSTILE_SCRIPT = "</script><script>" + PWN + "</script>"
JS_URL = "javascript:" + PWN
BROWSER_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/128.0.0.0 Safari/537.36")
HOSTILE_HOST = "<img src=x onerror=" + PWN + ">"


def hostile_events() -> list[dict]:
    """Strangers' strings in every field the dashboard shows: page URLs, a javascript: URL,
    referrer host, UTM values, an event name, element texts and the visitor key."""
    at = "2026-11-21T10:0{}:00.000Z"
    base = {"v": 1, "user_key": HOSTILE_SCRIPT}
    return [
        {**base, "event_id": "x1", "event_type": "page_view", "current_page": HOSTILE_PAGE,
         "referrer": f"https://{HOSTILE_HOST}/path", "utm_source": HOSTILE_SCRIPT,
         "utm_medium": HOSTILE_PAGE, "utm_campaign": JS_URL, "received_at": at.format(1)},
        {**base, "event_id": "x2", "event_type": "click", "current_page": HOSTILE_PAGE,
         "x": 10, "y": 10, "document_width": 100, "target_tag": HOSTILE_HOST,
         "target_text": HOSTILE_SCRIPT, "target_id": JS_URL, "received_at": at.format(2)},
        {**base, "event_id": "x3", "event_type": "page_view", "current_page": JS_URL,
         "received_at": at.format(3)},
        {**base, "event_id": "x4", "event_type": "<b>pwn</b>" + HOSTILE_SCRIPT,
         "current_page": JS_URL, "received_at": at.format(4)},
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("dash") / "data"
    generate(data / "lake", events=3000, seed=5, start=FIRST, days=3)
    write_events(data / "lake", hostile_events())
    server = LocalServer(data).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as driver:
        chromium = launch(driver)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def cli_rows(capsys, server, name, **options):
    capsys.readouterr()
    argv = ["report", name, "--lake", server.lake_dir.as_uri(), "--format", "json"]
    for key, value in options.items():
        flag = f"--{key.replace('_', '-')}"
        argv += [flag] if value is True else [flag, str(value)]  # True: a flag without a value
    cli(argv)
    return json.loads(capsys.readouterr().out)


def open_dashboard(page, server, **state):
    query = urlencode({"range": "custom", "from": FIRST, "to": LAST, **state})
    page.goto(f"{server.url}/dashboard?{query}")
    page.wait_for_selector("body[data-loaded]", timeout=30_000)


def tiles(page) -> dict:
    return page.eval_on_selector_all(
        ".tile", "ts => Object.fromEntries(ts.map(t => [t.dataset.key, "
        "t.querySelector('.tile-value').dataset.value]))")


def assert_tiles_equal(page, row):
    shown = tiles(page)
    for key, value in row.items():
        # JSON numbers as the page got them (JavaScript writes 0.0 as "0")
        assert (None if shown[key] == "" else float(shown[key])) == value, key


def table_rows(page, card):
    return page.eval_on_selector_all(
        f"#card-{card} tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))")


def test_tiles_and_pages_table_equal_the_cli(page, server, capsys):
    open_dashboard(page, server)

    assert_tiles_equal(page, cli_rows(capsys, server, "summary", **{"from": FIRST, "to": LAST})[0])
    pages = cli_rows(capsys, server, "pages", **{"from": FIRST, "to": LAST})
    shown = table_rows(page, "pages")
    assert len(shown) == min(10, len(pages)) > 5
    for row, cells in zip(pages, shown, strict=False):
        assert cells[0].rstrip("↗") == row["page"]
        assert [c.replace(",", "") for c in cells[1:3]] == [str(row["visitors"]),
                                                          str(row["page_views"])]
    assert page.errors == []


def test_date_range_site_and_page_filters_change_tiles_as_the_cli_does(page, server, capsys):
    open_dashboard(page, server, **{"from": "2026-11-21", "to": "2026-11-21"})
    day = {"from": "2026-11-21", "to": "2026-11-21"}
    assert_tiles_equal(page, cli_rows(capsys, server, "summary", **day)[0])

    page.select_option("#site", "shop.example.com")
    page.wait_for_url(re.compile(r"site=shop\.example\.com"))
    page.wait_for_function("() => Number(document.body.dataset.loaded) > 1")
    assert_tiles_equal(page, cli_rows(capsys, server, "summary", site="shop.example.com", **day)[0])

    # Clicking a page in the table filters the whole dashboard by it.
    target = cli_rows(capsys, server, "pages", site="shop.example.com", **day)[1]["page"]
    loaded = page.evaluate("document.body.dataset.loaded")
    label = page.locator(".bar-label", has_text=re.compile("^" + re.escape(target) + "$"))
    page.locator("#card-pages tbody tr").filter(has=label).click()
    page.wait_for_function(f"() => Number(document.body.dataset.loaded) > {loaded}")
    assert "page=" in page.url
    assert page.locator(".chip-value").inner_text() == target
    assert_tiles_equal(page, cli_rows(capsys, server, "summary", site="shop.example.com",
                                      page=target, **day)[0])
    assert [c[0].rstrip("↗") for c in table_rows(page, "pages")] == [target]


def test_include_bots_lives_in_the_url_and_reaches_every_report_call(page, server, capsys):
    # GIVEN the dashboard without bots (the default), as the CLI counts without --include-bots
    open_dashboard(page, server)
    day = {"from": FIRST, "to": LAST}
    assert_tiles_equal(page, cli_rows(capsys, server, "summary", **day)[0])
    assert not page.is_checked("#bots")
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    # WHEN the owner ticks "Include bots"
    page.check("#bots")
    page.wait_for_url(re.compile(r"include_bots=1"))
    page.wait_for_function("() => Number(document.body.dataset.loaded) > 1")
    # THEN the tiles are the CLI's with --include-bots, and every call of a report asked for them
    with_bots = cli_rows(capsys, server, "summary", include_bots=True, **day)[0]
    assert with_bots["visitors"] > cli_rows(capsys, server, "summary", **day)[0]["visitors"]
    assert_tiles_equal(page, with_bots)
    reports = [u for u in asked if re.search(r"/api/(reports|summary|realtime)", u)]
    assert len(reports) >= 15  # summary, traffic, sites, realtime and the 11 tables' reports
    assert [u for u in reports if "include_bots=1" not in u] == []
    assert "bot" in [c[0] for c in table_rows(page, "devices")]
    # AND the state is in the URL: a reload (a shared link) opens with the box ticked
    page.reload()
    page.wait_for_selector("body[data-loaded]")
    assert page.is_checked("#bots")
    assert_tiles_equal(page, with_bots)
    assert page.errors == []


def test_csv_download_equals_the_api_rows(page, server):
    open_dashboard(page, server)
    href = page.get_attribute("#csv-referrers", "href")
    api_rows = page.request.get(server.url + href.replace("format=csv", "format=json")).json()
    with page.expect_download() as download:
        page.click("#csv-referrers")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == len(api_rows) > 3
    for got, want in zip(parsed, api_rows, strict=True):
        assert got == {k: "" if v is None else str(v) for k, v in want.items()}


def test_hostile_strings_run_nothing_and_show_literally(page, server):
    page.add_init_script("document.addEventListener('securitypolicyviolation', "
                         "e => (window.__violations = (window.__violations || 0) + 1))")
    open_dashboard(page, server, heatmap=HOSTILE_PAGE)
    text = page.inner_text("body")
    for literal in (HOSTILE_PAGE, HOSTILE_SCRIPT, JS_URL, HOSTILE_HOST, "<b>pwn</b>"):
        assert literal in text, literal
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__violations") is None  # nothing even tried to run
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 2  # Chart.js and dashboard.js
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")]
    response = page.request.get(server.url + "/dashboard")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_a_just_posted_event_shows_in_the_realtime_panel(page, server):
    # GIVEN the dashboard open (the drain is idle: the event stays in the durable queue)
    open_dashboard(page, server)
    user = "R" + uuid.uuid4().hex[:19]
    url = f"https://live.test/now-{user}"
    # WHEN a visitor's page view is accepted
    # (a browser's user agent: the reports leave out what the collector marks as a bot)
    reply = server.post({"event_type": "page_view", "current_page": url, "user_key": user},
                        headers={"User-Agent": BROWSER_UA})
    assert reply.status_code == 202
    # THEN the realtime panel lists the session at a refresh (every 10 s), "data as of" now.
    # Issue 11's functional deadline: an accepted event appears there within 15 s (the panel
    # refreshes every 10 s). How fast it is in practice is bench/realtime.py's business.
    page.locator("#active tbody tr", has_text=user).wait_for(timeout=REALTIME_DEADLINE_MS)
    row = page.locator("#active tbody tr", has_text=user).inner_text()
    assert url in row
    assert page.inner_text("#rt-asof").startswith("Data as of ")
    assert int(page.inner_text("#rt-visitors")) >= 1
    assert server.lake_events() and not [e for e in server.lake_events() if e.get("user_key") == user]
