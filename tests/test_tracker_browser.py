"""clickTracker.js in real headless Chromium against the collector in local mode.

Every assertion reads the lake (drain, then the gzip NDJSON objects), never a mock. The demo sites
under tests/browser_site are served from a second loopback origin, as a customer's site would be.
"""

import re
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.browser.chromium import VIEWPORT, launch, of_type, wait_for_lake
from tests.browser.site import SiteServer
from tests.localserver import LocalServer

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

FAST = {"batch-ms": "100", "heartbeat": "0"}


@pytest.fixture(scope="module")
def playwright():
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright):
    chromium = launch(playwright)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One local mode for the module; each test's events carry its own token."""
    server = LocalServer(tmp_path_factory.mktemp("lake") / "data").start()
    yield server
    server.stop()


@pytest.fixture
def stops_collector():
    """Requested by tests that stop and restart the collector: they get a private one."""


@pytest.fixture
def local_server(request, shared_server, tmp_path):
    if "stops_collector" not in request.fixturenames:
        yield shared_server
        return
    server = LocalServer(tmp_path / "data").start()
    yield server
    server.stop()


@pytest.fixture
def token():
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture
def site(local_server, token):
    with SiteServer(local_server.url, {"token": token, **FAST}) as server:
        yield server


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    context.close()
    assert errors == [], "the tracker must never throw into the host page"


def open_page(page, url):
    page.goto(url)
    page.wait_for_function("window.logdig && window.logdig.l === 1")


def click_at(page, selector, dx=5, dy=5):
    """Click at whole-pixel viewport coordinates; returns the expected page coordinates."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    x, y = int(box["x"]) + dx, int(box["y"]) + dy
    scroll = page.evaluate("[scrollX, scrollY]")
    page.mouse.click(x, y)
    return x + scroll[0], y + scroll[1]


def stored_queue(page):
    return page.evaluate("JSON.parse(localStorage.getItem('logdig_queue') || '[]').length")


def by_target(events):
    return Counter(e.get("target_id") for e in of_type(events, "click"))


def test_page_view_and_clicks_with_coordinates_land_in_the_lake(page, site, local_server, token):
    site.attrs["selector"] = ".track-me"
    open_page(page, site.url + "/mpa/index.html?utm_source=news&utm_campaign=fall")
    buy = click_at(page, "#buy")
    for target in ("#plain", "#react", "#custom", "#email", "#send", "#outbound"):
        click_at(page, target)
    bottom = click_at(page, "#bottom")
    click_at(page, "#about-span")  # a span inside a link: one click, one event
    page.wait_for_url("**/about.html")

    events = wait_for_lake(page, local_server, token, lambda ev: len(of_type(ev, "click")) >= 8
                           and len(of_type(ev, "page_view")) >= 2)

    clicks = {e["target_id"]: e for e in of_type(events, "click")}
    assert by_target(events) == {t: 1 for t in
                                 ("buy", "react", "custom", "email", "send", "outbound", "bottom",
                                  "about-span")}
    assert (clicks["buy"]["x"], clicks["buy"]["y"]) == buy
    assert (clicks["bottom"]["x"], clicks["bottom"]["y"]) == bottom
    assert clicks["bottom"]["y"] > 2400  # page coordinates, not viewport ones
    assert clicks["buy"]["target_text"] == "Buy now"
    assert clicks["buy"]["target_classes"] == "btn primary"
    assert clicks["buy"]["target_tag"] == "button"
    assert "target_text" not in clicks["email"], "input values are never captured"
    assert clicks["send"]["target_text"] == "Send form"
    assert clicks["outbound"]["outbound"] is True
    assert clicks["outbound"]["link"] == "https://partner.example.org/offer?id=7"
    assert clicks["about-span"]["outbound"] is False
    assert clicks["about-span"]["link"] == site.url + "/mpa/about.html"
    for click in clicks.values():
        assert (click["viewport_width"], click["viewport_height"]) == (1000, 700)
        assert click["document_height"] > 2400
    views = sorted(of_type(events, "page_view"), key=lambda e: e["load_count"])
    assert [v["current_page"].split("/")[-1] for v in views] == [
        "index.html?utm_source=news&utm_campaign=fall", "about.html"]
    assert (views[0]["utm_source"], views[0]["utm_campaign"]) == ("news", "fall")
    assert "utm_source" not in views[1]
    assert views[1]["referrer"] == views[0]["current_page"]
    assert [v["load_count"] for v in views] == [1, 2]
    first = events[0]
    assert re.fullmatch(r"[A-Za-z0-9]{20}", first["user_key"])
    assert {e["user_key"] for e in events} == {first["user_key"]}
    assert {e["session_id"] for e in events} == {first["session_id"]}
    assert all(e["v"] == 1 and e["received_at"].endswith("Z") for e in events)
    assert len({e["event_id"] for e in events}) == len(events)


def test_single_page_app_navigation_and_back_button_count_each_view_once(
        page, site, local_server, token):
    open_page(page, site.url + "/spa/")
    page.click("#nav-products")  # pushState
    page.click("#nav-p42")  # pushState
    page.click("#sort")  # replaceState keeping the path: not a view
    page.click("#rename")  # replaceState to a new path: a view
    page.click("#nav-reviews")  # hash change (fires hashchange and popstate)
    page.go_back()  # back to /spa/catalog: popstate + hashchange
    page.go_back()  # back to /spa/products
    page.go_forward()  # forward to /spa/catalog
    page.wait_for_function("document.getElementById('view').textContent === 'Route /spa/catalog'")

    expected = ["/spa/", "/spa/products", "/spa/products/42", "/spa/catalog",
                "/spa/catalog#reviews", "/spa/catalog", "/spa/products", "/spa/catalog"]
    events = wait_for_lake(page, local_server, token,
                           lambda ev: len(of_type(ev, "page_view")) >= len(expected)
                           and len(of_type(ev, "click")) >= 5)
    page.evaluate("logdig('flush')")
    events = wait_for_lake(page, local_server, token, lambda ev: stored_queue(page) == 0)

    views = sorted(of_type(events, "page_view"), key=lambda e: e["spent_milli_sec"])
    assert [v["current_page"].removeprefix(site.url) for v in views] == expected
    assert views[1]["referrer"] == site.url + "/spa/"
    assert views[3]["referrer"] == site.url + "/spa/products/42?sort=price"
    assert by_target(events) == {t: 1 for t in
                                 ("nav-products", "nav-p42", "sort", "rename", "nav-reviews")}
    assert {v["load_count"] for v in views} == {1}, "SPA navigation is not a page load"


def set_visibility(page, state):
    """Headless tabs stay visible; this flips what the page sees and fires the real event."""
    page.evaluate("""state => {
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => state});
        document.dispatchEvent(new Event('visibilitychange'));
    }""", state)


def test_heartbeat_only_while_visible_and_page_leave_with_engaged_time(
        page, site, local_server, token):
    site.attrs["heartbeat"] = "0.2"
    open_page(page, site.url + "/mpa/about.html")
    first = wait_for_lake(page, local_server, token, lambda ev: len(of_type(ev, "heartbeat")) >= 3)
    assert len(of_type(first, "heartbeat")) >= 3

    set_visibility(page, "hidden")
    hidden_at = page.evaluate("performance.now()")
    page.wait_for_timeout(1000)  # five intervals while hidden: none may produce a heartbeat
    shown_at = page.evaluate("performance.now()")
    set_visibility(page, "visible")
    events = wait_for_lake(page, local_server, token, lambda ev: any(
        e["spent_milli_sec"] > shown_at for e in of_type(ev, "heartbeat")))

    beats = [e["spent_milli_sec"] for e in of_type(events, "heartbeat")]
    assert not [b for b in beats if hidden_at < b < shown_at]
    assert any(b > shown_at for b in beats), "heartbeats resume when the tab is visible again"
    (leave,) = of_type(events, "page_leave")
    assert 500 <= leave["engaged_milli_sec"] <= hidden_at + 50
    assert leave["spent_milli_sec"] <= hidden_at + 50


def test_conversion_api_and_calls_queued_before_the_script_loaded(page, site, local_server, token):
    open_page(page, site.url + "/mpa/checkout.html")
    page.click("#pay")
    page.evaluate("""() => {
        logdig('track', 'Bad Name', {a: 1});          // not an event name: ignored, no throw
        logdig('track', 'signup', {ok: 1, 'bad-key': 2, nested: {a: 1}, note: 'x'.repeat(600),
                                   huge: 1e16});  // past the collector's number range
        logdig('nonsense');
    }""")
    events = wait_for_lake(page, local_server, token, lambda ev: len(of_type(ev, "conversion")) >= 2
                           and of_type(ev, "signup"))

    conversions = sorted(of_type(events, "conversion"), key=lambda e: e["spent_milli_sec"])
    assert [c["props"] for c in conversions] == [
        {"plan": "pro", "amount": 49.5, "trial": False},  # queued by the snippet before load
        {"plan": "pro", "step": "paid"},
    ]
    (signup,) = of_type(events, "signup")
    assert signup["props"] == {"ok": 1, "note": "x" * 512}
    assert by_target(events) == {"pay": 1}
    assert {e["event_type"] for e in events} == {"page_view", "conversion", "click", "signup"}


def test_events_left_at_unload_go_out_with_send_beacon(page, site, local_server, token):
    site.attrs["batch-ms"] = "600000"  # nothing is sent by the timer: only the unload path remains
    posts = []
    page.on("request", lambda r: posts.append(r) if r.url.endswith("/v1/logs") else None)
    open_page(page, site.url + "/mpa/index.html")
    click_at(page, "#buy")
    click_at(page, "#react")
    assert posts == [] and stored_queue(page) == 3, "all three events still wait in the queue"
    page.goto("about:blank")

    events = wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "page_leave")
                           and len(of_type(ev, "click")) >= 2)
    assert Counter(e["event_type"] for e in events) == {"page_view": 1, "click": 2, "page_leave": 1}


def test_offline_collector_every_event_lands_exactly_once(page, site, local_server, token,
                                                          stops_collector):
    open_page(page, site.url + "/mpa/index.html")
    wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "page_view"))

    local_server.stop()
    click_at(page, "#buy")
    click_at(page, "#react")
    page.click("#to-about")
    page.wait_for_url("**/about.html")
    click_at(page, "#like")
    page.click("#to-checkout")
    page.wait_for_url("**/checkout.html")
    page.click("#pay")
    page.click("#to-home")
    page.wait_for_url("**/index.html")
    click_at(page, "#buy")
    page.wait_for_function("window.logdig && window.logdig.l === 1")
    assert stored_queue(page) > 0, "events wait in localStorage while the collector is down"

    local_server.start()  # same port, same data dir
    events = wait_for_lake(page, local_server, token, lambda ev: stored_queue(page) == 0
                           and len(of_type(ev, "page_view")) >= 4, timeout=60)

    assert [n for n in Counter(e["event_id"] for e in events).values() if n > 1] == []
    assert by_target(events) == {"buy": 2, "react": 1, "to-about": 1, "like": 1,
                                 "to-checkout": 1, "pay": 1, "to-home": 1}
    assert [v["current_page"].split("/")[-1] for v in
            sorted(of_type(events, "page_view"), key=lambda e: e["load_count"])] == [
        "index.html", "about.html", "checkout.html", "index.html"]
    assert len(of_type(events, "conversion")) == 2  # the snippet's and the Pay button's
    assert len(of_type(events, "page_leave")) == 3


@pytest.mark.parametrize(("status", "retried"), [(503, True), (429, True), (408, True),
                                                 (400, False), (413, False)])
def test_retries_on_5xx_408_429_only(page, site, local_server, token, status, retried):
    attempts = []

    def answer(route):
        attempts.append(route.request.post_data)
        if len(attempts) == 1:
            route.fulfill(status=status, body="{}", headers={"Access-Control-Allow-Origin": "*"})
        else:
            route.continue_()

    page.route(local_server.url + "/v1/logs", answer)
    open_page(page, site.url + "/mpa/about.html")
    page.wait_for_function("() => !JSON.parse(localStorage.getItem('logdig_queue') || '[]')"
                           ".some(r => r.e.event_type === 'page_view')", timeout=10000)
    click_at(page, "#like")
    events = wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "click"))

    assert by_target(events) == {"like": 1}
    assert len(of_type(events, "page_view")) == (1 if retried else 0)
    assert sum("page_view" in body for body in attempts) == (2 if retried else 1)


def test_storage_disabled_still_delivers_from_memory(page, site, local_server, token):
    page.add_init_script("""Object.defineProperty(window, 'localStorage', {
        get() { throw new DOMException('storage is disabled', 'SecurityError'); }})""")
    open_page(page, site.url + "/mpa/index.html")
    click_at(page, "#buy")
    events = wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "click"))
    assert Counter(e["event_type"] for e in events) == {"page_view": 1, "click": 1}
    assert re.fullmatch(r"[A-Za-z0-9]{20}", events[0]["user_key"])


def test_global_privacy_control_and_opt_out_send_nothing(browser, site, local_server, token):
    site.attrs["respect-dnt"] = ""
    gpc = browser.new_context(viewport=VIEWPORT)
    gpc.add_init_script("Object.defineProperty(navigator, 'globalPrivacyControl', {get: () => true})")
    quiet = gpc.new_page()
    open_page(quiet, site.url + "/mpa/index.html?who=gpc")
    click_at(quiet, "#buy")
    quiet.evaluate("logdig('track', 'conversion', {plan: 'pro'})")

    normal = browser.new_context(viewport=VIEWPORT).new_page()
    other_tab = normal.context.new_page()
    open_page(normal, site.url + "/mpa/index.html?who=optout")
    open_page(other_tab, site.url + "/mpa/about.html?who=optout")
    normal.evaluate("logdig('optout')")
    normal.reload()  # the opt-out persists across page loads
    normal.wait_for_function("window.logdig && window.logdig.l === 1")
    click_at(normal, "#buy")
    click_at(other_tab, "#like")  # and holds in every tab
    normal.evaluate("logdig('optin')")
    click_at(normal, "#react")  # the positive control: after opting in, events flow again

    events = wait_for_lake(normal, local_server, token, lambda ev: by_target(ev)["react"])
    assert by_target(events) == {"react": 1}
    assert not [e for e in events if "who=gpc" in e["current_page"]]
    assert quiet.evaluate("Object.keys(localStorage)") == [], "nothing stored under GPC"
    gpc.close()
    normal.context.close()


def test_script_included_twice_still_gives_one_event_per_click(page, site, local_server, token):
    open_page(page, site.url + "/mpa/twice.html")
    page.wait_for_load_state("load")  # both copies have run
    click_at(page, "#stop")  # stopPropagation in the page cannot hide the click
    events = wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "click"))
    page.evaluate("logdig('flush')")
    events = wait_for_lake(page, local_server, token, lambda ev: stored_queue(page) == 0)
    assert Counter(e["event_type"] for e in events) == {"page_view": 1, "click": 1}


def test_one_tag_page_served_by_local_mode_lands_in_the_lake(page, local_server):
    open_page(page, local_server.url + "/demo")
    click_at(page, "#like")
    events = wait_for_lake(page, local_server, "demo", lambda ev: of_type(ev, "click"))
    assert by_target(events) == {"like": 1}
    (view,) = of_type(events, "page_view")
    assert view["current_page"] == local_server.url + "/demo"


def test_back_and_forward_between_pages_count_one_view_each(page, site, local_server, token):
    open_page(page, site.url + "/mpa/index.html")
    page.click("#to-about")
    page.wait_for_url("**/about.html")
    page.go_back()  # a back/forward-cache restore or a reload: one view either way
    page.wait_for_url("**/index.html")
    page.go_forward()
    page.wait_for_url("**/about.html")
    events = wait_for_lake(page, local_server, token, lambda ev: len(of_type(ev, "page_view")) >= 4)
    page.evaluate("logdig('flush')")
    events = wait_for_lake(page, local_server, token, lambda ev: stored_queue(page) == 0)
    pages = Counter(v["current_page"].split("/")[-1] for v in of_type(events, "page_view"))
    assert pages == {"index.html": 2, "about.html": 2}
    assert len({e["event_id"] for e in events}) == len(events), "no event was sent twice"


def test_queue_is_bounded_and_counts_what_it_dropped(page, site, local_server, token,
                                                     stops_collector):
    site.attrs["max-queue"] = "3"
    open_page(page, site.url + "/mpa/index.html")
    wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "page_view"))
    local_server.stop()
    for target in ("#buy", "#react", "#send", "#bottom", "#outbound"):
        click_at(page, target)
    assert stored_queue(page) == 3
    local_server.start()
    events = wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "tracker_dropped")
                           and stored_queue(page) == 0, timeout=60)
    assert by_target(events) == {"send": 1, "bottom": 1, "outbound": 1}, "the oldest were dropped"
    (dropped,) = of_type(events, "tracker_dropped")
    assert dropped["props"] == {"count": 2}


def test_batches_stay_under_the_64_kib_keepalive_limit(page, site, local_server, token):
    bodies = []
    page.on("request", lambda r: bodies.append(len(r.post_data_buffer))
            if r.url.endswith("/v1/logs") else None)
    open_page(page, site.url + "/mpa/about.html")
    # 150 events of ~1.5 KB of UTF-8 each (é is two bytes): about 225 KB to deliver.
    page.evaluate("for (let i = 0; i < 150; i++) logdig('track', 'bulk', {i, text: 'é'.repeat(500)})")
    events = wait_for_lake(page, local_server, token, lambda ev: len(of_type(ev, "bulk")) >= 150
                           and stored_queue(page) == 0, timeout=60)
    assert sorted(e["props"]["i"] for e in of_type(events, "bulk")) == list(range(150))
    assert len(bodies) >= 4
    assert max(bodies) < 65536


def test_session_rolls_over_after_30_minutes_without_activity(page, site, local_server, token):
    open_page(page, site.url + "/mpa/about.html")
    page.evaluate("logdig('track', 'before')")
    page.evaluate("""() => {
        const s = JSON.parse(localStorage.getItem('logdig_session'));
        s.t -= 31 * 60 * 1000;  // the last activity, 31 minutes ago
        localStorage.setItem('logdig_session', JSON.stringify(s));
        logdig('track', 'after');
        logdig('track', 'again');
    }""")
    events = wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "again"))
    session = {e["event_type"]: e["session_id"] for e in events}
    assert session["before"] == session["page_view"]
    assert session["after"] != session["before"]
    assert session["again"] == session["after"]
    assert len({e["user_key"] for e in events}) == 1, "the user key outlives sessions"


def test_back_forward_cache_restores_count_as_views(playwright, site, local_server, token):
    chromium = launch(playwright, bfcache=True)
    page = chromium.new_context(viewport=VIEWPORT).new_page()
    open_page(page, site.url + "/mpa/index.html")
    page.evaluate("window.restoredMarker = 1")
    page.click("#to-about")
    page.wait_for_url("**/about.html")
    page.go_back(wait_until="commit")  # a restore fires pageshow, not load
    page.wait_for_function("window.restoredMarker === 1")  # the same document came back
    events = wait_for_lake(page, local_server, token, lambda ev: len(of_type(ev, "page_view")) >= 3)
    page.evaluate("logdig('flush')")
    events = wait_for_lake(page, local_server, token, lambda ev: stored_queue(page) == 0)
    chromium.close()
    views = sorted(of_type(events, "page_view"), key=lambda e: e["timestamp"])
    assert [v["current_page"].split("/")[-1] for v in views] == ["index.html", "about.html",
                                                                 "index.html"]
    assert views[2]["load_count"] == 1, "a restore is not a new page load"
    assert len(of_type(events, "page_leave")) == 2


def test_minified_build_behaves_like_the_source(page, site, local_server, token):
    minified = Path(__file__).resolve().parent.parent / "static" / "clickTracker.min.js"
    page.route(local_server.url + "/clickTracker.js", lambda route: route.fulfill(
        body=minified.read_text(), content_type="application/javascript",
        headers={"Access-Control-Allow-Origin": "*"}))
    open_page(page, site.url + "/spa/")
    page.click("#nav-products")
    page.click("#sort")
    page.evaluate("logdig('track', 'conversion', {plan: 'pro'})")
    events = wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "conversion")
                           and len(of_type(ev, "page_view")) >= 2 and len(of_type(ev, "click")) >= 2)
    assert by_target(events) == {"nav-products": 1, "sort": 1}
    assert [v["current_page"].removeprefix(site.url) for v in
            sorted(of_type(events, "page_view"), key=lambda e: e["spent_milli_sec"])] == [
        "/spa/", "/spa/products"]
    assert of_type(events, "conversion")[0]["props"] == {"plan": "pro"}


def test_foreign_values_in_storage_do_not_poison_a_batch(page, site, local_server, token):
    page.add_init_script("""if (!sessionStorage.getItem('seeded')) {
        sessionStorage.setItem('seeded', '1');
        localStorage.setItem('logdig_queue', '{"not": "a list"}');
        localStorage.setItem('logdig_load_count', '"many"');
        localStorage.setItem('logdig_session', '{"i": "not a session id!", "t": 1}');
        localStorage.setItem('logdig_user_key', '"short"');
    }""")
    open_page(page, site.url + "/mpa/index.html")
    click_at(page, "#buy")
    events = wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "click"))
    assert Counter(e["event_type"] for e in events) == {"page_view": 1, "click": 1}
    assert {e["load_count"] for e in events} == {1}
    assert re.fullmatch(r"[A-Za-z0-9]{16}", events[0]["session_id"])
    assert re.fullmatch(r"[A-Za-z0-9]{20}", events[0]["user_key"])


def test_two_tabs_sharing_the_queue_deliver_each_event_once(browser, site, local_server, token):
    context = browser.new_context(viewport=VIEWPORT)
    tabs = [context.new_page(), context.new_page()]
    for tab in tabs:
        open_page(tab, site.url + "/mpa/index.html")
    for _ in range(3):
        for tab in tabs:
            click_at(tab, "#buy")
            click_at(tab, "#react")
    tabs[0].click("#to-about")
    tabs[0].wait_for_url("**/about.html")
    click_at(tabs[0], "#like")
    click_at(tabs[1], "#send")
    events = wait_for_lake(tabs[0], local_server, token, lambda ev: len(of_type(ev, "click")) >= 15
                           and stored_queue(tabs[0]) == 0)
    context.close()
    assert [n for n in Counter(e["event_id"] for e in events).values() if n > 1] == []
    assert by_target(events) == {"buy": 6, "react": 6, "to-about": 1, "like": 1, "send": 1}
    assert len(of_type(events, "page_view")) == 3


def test_a_taken_global_name_is_left_alone(page, site, local_server, token):
    page.add_init_script("window.logdig = {owner: 'another library'}")
    page.goto(site.url + "/mpa/index.html")
    events = wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "page_view"))
    assert len(of_type(events, "page_view")) == 1, "tracking works without the global"
    assert page.evaluate("window.logdig") == {"owner": "another library"}


def test_closing_the_tab_delivers_what_was_queued(browser, site, local_server, token):
    site.attrs["batch-ms"] = "600000"  # only the unload path can deliver
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    open_page(page, site.url + "/mpa/index.html")
    click_at(page, "#buy")
    assert stored_queue(page) == 2
    page.close(run_before_unload=True)
    witness = context.new_page()
    events = wait_for_lake(witness, local_server, token, lambda ev: of_type(ev, "page_leave"))
    context.close()
    assert Counter(e["event_type"] for e in events) == {"page_view": 1, "click": 1, "page_leave": 1}


def test_identify_reset_scroll_depth_and_automation_reach_the_lake(page, site, local_server, token):
    # GIVEN a visitor who signs in, clicks, scrolls to the bottom, signs out, clicks, leaves
    open_page(page, site.url + "/mpa/index.html")
    page.evaluate("""() => {
        logdig('identify', 'x'.repeat(129));   // too long: ignored
        logdig('identify', 'bad\\u0007id');     // a control character: ignored
        logdig('identify', 'member-7');
    }""")
    click_at(page, "#buy")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.evaluate("logdig('reset')")
    click_at(page, "#bottom")
    page.evaluate("window.scrollTo(0, 0)")  # back at the top: the deepest point still counts
    set_visibility(page, "hidden")
    events = wait_for_lake(page, local_server, token, lambda ev: of_type(ev, "page_leave")
                           and len(of_type(ev, "click")) >= 2)

    # THEN only the events between identify and reset carry the member id
    ids = {e.get("target_id") or e["event_type"]: e.get("user_id") for e in events}
    assert ids == {"page_view": None, "buy": "member-7", "bottom": None, "page_leave": None}
    # the page_leave says the bottom was reached
    (leave,) = of_type(events, "page_leave")
    assert leave["scroll_depth"] == 100
    # a browser under automation (navigator.webdriver) marks its events, and the collector
    # added the audience fields from its user agent
    assert page.evaluate("navigator.webdriver") is True
    assert {(e["is_bot"], e["device"], e["browser"]) for e in events} == {
        (True, "bot", "HeadlessChrome" if "Headless" in events[0]["user_agent"] else "Chrome")}
