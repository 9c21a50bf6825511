"""Audience fields added on arrival: country from the IP, browser/os/device/is_bot from the user
agent, member ids (limits, HMAC), scroll depth limits, and the original tracker's load post."""

import gzip
import json

import pytest

from app import create_app
from app.payload import legacy_event
from config import load_settings
from logdig import audience
from logdig.drain import DrainOptions, drain
from logdig.lake import DirLake
from logdig.local_queue import LocalQueue

# Real user agents of the browsers, crawlers and tools the issue names -> expected fields.
CORPUS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", "Chrome", "Windows", "desktop", False),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome Mobile", "Android", "mobile", False),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", "Chrome", "Android", "tablet", False),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
     "Firefox", "Ubuntu", "desktop", False),
    ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
     "Firefox Mobile", "Android", "mobile", False),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15", "Safari", "Mac OS X", "desktop", False),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS", "mobile", False),
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.0 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS", "tablet", False),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", "Edge", "Windows", "desktop", False),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Mobile Safari/537.36 EdgA/131.0.2903.87", "Edge Mobile", "Android", "mobile", False),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     "Googlebot", "Other", "bot", True),
    ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
     "+http://www.google.com/bot.html)", "Googlebot", "Android", "bot", True),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
     "bingbot", "Other", "bot", True),
    ("curl/8.5.0", "curl", "Other", "bot", True),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/131.0.0.0 Safari/537.36", "HeadlessChrome", "Linux", "bot", True),
]
IPHONE = CORPUS[6][0]


@pytest.mark.parametrize(("user_agent", "browser", "os_name", "device", "is_bot"), CORPUS,
                         ids=[f"{row[1]}-{row[3]}" for row in CORPUS])
def test_user_agent_corpus_gives_the_expected_fields(user_agent, browser, os_name, device, is_bot):
    assert audience.agent(user_agent) == audience.Agent(browser, os_name, device, is_bot)


@pytest.mark.parametrize("garbage", ["x" * 512, "\u00e9\u00a7" * 256, "\ufffd" * 512, "((;;))" * 85,
                                     "Mozilla/5.0 (" * 39])
def test_garbage_user_agents_parse_as_other_never_raise(garbage):
    assert audience.agent(garbage) == audience.Agent("Other", "Other", "other", False)


@pytest.mark.parametrize(("ip", "country"), [
    ("8.8.8.8", "US"), ("81.2.69.160", "GB"), ("1.1.1.1", "AU"),
    ("2001:4860:4860::8888", "US"), ("2a00:1450:4001::1", "IE"),
])
def test_public_ipv4_and_ipv6_give_their_country(ip, country):
    assert audience.country(ip) == country


@pytest.mark.parametrize("ip", ["10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "100.64.0.1",
                                "169.254.1.1", "::1", "fe80::1", "fc00::1", "0.0.0.0", "",
                                "not an ip", "999.1.1.1"])
def test_private_reserved_and_non_ips_give_no_country(ip):
    assert audience.country(ip) is None


def test_the_cache_parses_a_user_agent_once():
    audience.agent.cache_clear()
    for _ in range(3):
        audience.agent(IPHONE)
    info = audience.agent.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_a_tracker_under_automation_is_a_bot_whatever_its_user_agent():
    event = audience.enrich({"user_agent": IPHONE, "is_bot": True}, "8.8.8.8")
    assert (event["is_bot"], event["device"], event["browser"]) == (True, "bot", "Mobile Safari")
    human = audience.enrich({"user_agent": IPHONE, "is_bot": False}, "8.8.8.8")
    assert (human["is_bot"], human["device"], human["country"]) == (False, "mobile", "US")


def test_an_event_without_user_agent_uses_the_request_header():
    event = audience.enrich({}, "", header_agent="curl/8.5.0")
    assert (event["browser"], event["is_bot"], "country" in event) == ("curl", True, False)
    nothing = audience.enrich({}, "")
    assert (nothing["browser"], nothing["os"], nothing["device"], nothing["is_bot"]) == \
        ("Other", "Other", "other", False)


def test_the_original_trackers_load_post_is_a_page_view_and_its_clicks_stay_clicks():
    page = "https://old.example/a"
    load = legacy_event({"current_page": page, "link": page, "x": "0", "y": "0"})
    assert load["event_type"] == "page_view"
    click = legacy_event({"current_page": page, "link": "https://old.example/b", "x": "0", "y": "0"})
    assert click["event_type"] == "click"
    at = legacy_event({"current_page": page, "link": page, "x": "12", "y": "40"})
    assert at["event_type"] == "click"


# --------------------------------------------------------------------- through the collector


@pytest.fixture()
def collector(tmp_path):
    def make(**overrides):
        queue = LocalQueue(tmp_path / "queue.sqlite3")
        settings = load_settings({}, data_dir=tmp_path, flush_wait_ms=0, **overrides)
        return create_app(settings, queue).test_client(), queue

    return make


def _lake_events(queue, tmp_path) -> list[dict]:
    lake = tmp_path / "lake"
    drain(queue, DirLake(lake), DrainOptions(min_messages=1, max_wait_seconds=0, wait_seconds=0))
    return [json.loads(line) for path in sorted(lake.rglob("*.jsonl.gz"))
            for line in gzip.decompress(path.read_bytes()).splitlines()]


def test_the_collector_adds_audience_fields_from_the_full_ip_and_keeps_only_the_anonymized_one(
        collector, tmp_path):
    client, queue = collector()
    reply = client.post("/v1/logs", json={"events": [
        {"event_type": "page_view", "user_agent": IPHONE, "user_id": "member-123"},
        {"event_type": "page_leave", "scroll_depth": 75},
    ]}, environ_base={"REMOTE_ADDR": "81.2.69.160"}, headers={"User-Agent": "curl/8.5.0"})
    assert reply.status_code == 202, reply.json
    first, second = sorted(_lake_events(queue, tmp_path), key=lambda e: e["event_type"])
    assert first["event_type"] == "page_leave" and first["scroll_depth"] == 75
    assert (first["browser"], first["is_bot"], first["country"]) == ("curl", True, "GB")
    assert {k: second[k] for k in ("country", "browser", "os", "device", "is_bot", "user_id",
                                   "client_ip")} == {
        "country": "GB", "browser": "Mobile Safari", "os": "iOS", "device": "mobile",
        "is_bot": False, "user_id": "member-123", "client_ip": "81.2.69.0"}


def test_with_a_secret_member_ids_are_stored_as_their_hmac(collector, tmp_path):
    client, queue = collector(user_id_secret="s3cret")
    assert client.post("/v1/logs", json={"event_type": "page_view", "user_id": "member-123"}
                       ).status_code == 202
    (stored,) = _lake_events(queue, tmp_path)
    assert stored["user_id"] == audience.hash_user_id("member-123", "s3cret")
    assert stored["user_id"] != audience.hash_user_id("member-123", "other")
    assert len(stored["user_id"]) == 64 and "member-123" not in json.dumps(stored)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("user_id", "m" * 129, "must be 1 to 128 characters, got 129"),
    ("user_id", "", "must be 1 to 128 characters, got 0"),
    ("user_id", "member\x07", "must not contain control characters"),
    ("user_id", "member\u0085", "must not contain control characters"),
    ("user_id", 123, "must be a string"),
    ("scroll_depth", 101, "must be between 0 and 100"),
    ("scroll_depth", -1, "must be between 0 and 100"),
    ("scroll_depth", 50.5, "must be a whole number"),
    ("is_bot", "yes", "must be true or false"),
])
def test_bad_audience_fields_get_a_400_naming_the_field(collector, field, value, message):
    client, queue = collector()
    reply = client.post("/v1/logs", json={"events": [{"event_type": "page_view"},
                                                     {"event_type": "page_leave", field: value}]})
    assert reply.status_code == 400
    assert reply.json["error"] == {"code": "invalid_field", "field": f"events[1].{field}",
                                   "message": message}
    assert queue.depth() == 0


def test_edge_values_are_accepted(collector, tmp_path):
    client, queue = collector()
    reply = client.post("/v1/logs", json={"events": [
        {"event_type": "page_leave", "scroll_depth": 0, "user_id": "m" * 128},
        {"event_type": "page_leave", "scroll_depth": 100, "user_id": "é\tü 会員"}]})
    assert reply.status_code == 202, reply.json
    assert sorted(e["scroll_depth"] for e in _lake_events(queue, tmp_path)) == [0, 100]
