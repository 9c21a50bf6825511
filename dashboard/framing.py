"""Whether a page may be shown in the dashboard's heatmap iframe, read from its response headers."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlparse

TIMEOUT_SECONDS = 3


def _origin(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_by(headers, page: str, dashboard_url: str) -> bool:
    """The framing rules of a response: CSP frame-ancestors wins over X-Frame-Options."""
    same_origin = _origin(page) == _origin(dashboard_url)
    for policy in headers.get_all("Content-Security-Policy") or []:
        for directive in policy.split(";"):
            name, _, sources = directive.strip().partition(" ")
            if name.lower() == "frame-ancestors":
                values = sources.split()
                return "*" in values or _origin(dashboard_url) in values or (
                    "'self'" in values and same_origin)
    option = (headers.get("X-Frame-Options") or "").strip().upper()
    if option == "DENY":
        return False
    if option == "SAMEORIGIN":
        return same_origin
    return True


def allowed(page: str, dashboard_url: str) -> bool:
    request = urllib.request.Request(page, method="GET", headers={"User-Agent": "LogDig-dashboard"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return allowed_by(response.headers, page, dashboard_url)
    except (urllib.error.URLError, ValueError, OSError):
        return False
