"""Audience fields of an event: `country` from the client IP, and `browser`, `os`, `device`,
`is_bot` from the user agent (see the README's Audience section).

Both lookups are offline, maintained data shipped in packages: iptocc (the regional internet
registries' delegations, no network at run time) and ua-parser with its builtin rules plus
crawlerdetect's crawler list. A user agent is parsed once per process (an LRU cache keyed by the
string): real traffic repeats a few thousand strings, and an uncached parse costs a few hundred
microseconds (bench/audience.py).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from functools import lru_cache

AGENT_CACHE_SIZE = 8192
# Registry codes that are not countries: EU and AP (regional blocks), ZZ (unknown).
_NOT_COUNTRIES = {"EU", "AP", "ZZ"}
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
# Operating systems ua-parser names that run on desktop and laptop computers.
_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Debian", "Chrome OS",
               "FreeBSD", "OpenBSD", "NetBSD", "Red Hat", "SUSE", "Mint", "Arch Linux",
               "Gentoo", "Solaris", "Kubuntu", "Xubuntu", "CentOS", "Mageia", "elementary OS"}
_TABLET_RE = re.compile(r"iPad|Tablet|Kindle|Silk/|PlayBook|Nexus (7|9|10)\b", re.IGNORECASE)
# MDN's advice for telling a phone: "Mobi" anywhere in the user agent.
_MOBILE_RE = re.compile(r"Mobi|iPhone|iPod|Windows Phone|Opera Mini", re.IGNORECASE)


@dataclass(frozen=True)
class Agent:
    browser: str
    os: str
    device: str
    is_bot: bool


@lru_cache(maxsize=AGENT_CACHE_SIZE)  # every event of a request, and a visitor's requests
def country(ip: str) -> str | None:
    """ISO 3166 alpha-2 code of a full (not yet anonymized) IP; None for private, reserved or
    unknown addresses and for anything that is not an IP, never a guess."""
    if not ip:
        return None
    import iptocc

    try:
        code = iptocc.country_code(ip)
    except (ValueError, TypeError):
        return None
    if not isinstance(code, str) or not _COUNTRY_RE.match(code) or code in _NOT_COUNTRIES:
        return None
    return code


@lru_cache(maxsize=1)
def _crawlers():
    from crawlerdetect import CrawlerDetect

    return CrawlerDetect()


@lru_cache(maxsize=1)
def _ua_parser():
    """ua-parser on its re2 resolver (google-re2), built on first use. Its Rust resolver
    (ua-parser-rs) parses a new agent in ~7 µs instead of ~40-60 but holds ~25 MB per worker, ~37
    after a few hundred agents, against ~7-8 here (bench/audience.py); the same results on the
    test corpus and fake-useragent's list. Each agent is parsed once per process (agent's cache),
    so the parse time is paid per new agent, not per event."""
    from ua_parser import Parser, load_lazy_builtins
    from ua_parser.re2 import Resolver

    return Parser(Resolver(load_lazy_builtins()))


@lru_cache(maxsize=AGENT_CACHE_SIZE)
def agent(user_agent: str) -> Agent:
    """Browser and OS family names (ua-parser's; `Other` when unknown), device class and
    whether a crawler list knows the agent. Never raises: garbage parses as `other`."""
    parsed = _ua_parser().parse(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else "Other"
    os_name = parsed.os.family if parsed.os else "Other"
    spider = parsed.device is not None and parsed.device.family == "Spider"
    is_bot = spider or _crawlers().is_crawler(user_agent)
    return Agent(browser, os_name, _device(user_agent, os_name, browser, is_bot), is_bot)


def _device(user_agent: str, os_name: str, browser: str, is_bot: bool) -> str:
    if is_bot:
        return "bot"
    # Android tablets leave "Mobile" out of their user agent (Google's own advice to sites).
    if _TABLET_RE.search(user_agent) or (os_name == "Android" and "Mobile" not in user_agent):
        return "tablet"
    if _MOBILE_RE.search(user_agent) or os_name in ("iOS", "Android"):
        return "mobile"
    if os_name in _DESKTOP_OS and browser != "Other":
        return "desktop"
    return "other"


def enrich(event: dict, ip: str, header_agent: str = "", user_id_secret: str = "") -> dict:
    """The event with its audience fields added in place (a client's `is_bot: true`, sent by a
    tracker under automation, is kept: a bot either way). ip: the full client IP; header_agent:
    the request's User-Agent, used when the event carries none; user_id_secret: when set, the
    member id is replaced by its HMAC."""
    if user_id_secret and "user_id" in event:
        event["user_id"] = hash_user_id(event["user_id"], user_id_secret)
    code = country(ip)
    if code:
        event["country"] = code
    user_agent = event.get("user_agent") or header_agent
    found = agent(user_agent[:512]) if user_agent else Agent("Other", "Other", "other", False)
    event["browser"], event["os"] = found.browser, found.os
    event["is_bot"] = found.is_bot or event.get("is_bot") is True
    event["device"] = "bot" if event["is_bot"] else found.device
    return event


def hash_user_id(user_id: str, secret: str) -> str:
    """What the lake keeps of a member id when a secret is configured: HMAC-SHA256, hex (64
    chars, inside user_id's 128), so one member is still one visitor but the id is not kept."""
    return hmac.new(secret.encode(), user_id.encode(), "sha256").hexdigest()
