"""Who may see the dashboard.

Listening on loopback, only this machine can reach it: open. Listening on any other address,
the dashboard and its API answer only after sign-in with LOGDIG_DASHBOARD_PASSWORD (or its
hash); with neither configured they are not served at all (the caller logs why). The session is
a signed cookie: HttpOnly, SameSite=Strict, Secure when the request came over TLS. Failed
attempts are slowed down per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
import time
from collections.abc import Callable

from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.security import check_password_hash

from config import Settings

COOKIE = "logdig_dashboard"
SESSION_SECONDS = 12 * 3600
MAX_DELAY_SECONDS = 8.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def has_password(settings: Settings) -> bool:
    return bool(settings.dashboard_password or settings.dashboard_password_hash)


class Gate:
    """Sign-in for one app; open=True when listening on loopback."""

    def __init__(self, settings: Settings, sleep: Callable[[float], None] = time.sleep):
        self.open = is_loopback(settings.host)
        self.settings = settings
        self.sleep = sleep
        self.failures: dict[str, int] = {}
        self.lock = threading.Lock()
        # The signing key follows the password: changing it signs everybody out. Every worker
        # derives the same key, so any worker accepts the cookie.
        secret = settings.dashboard_password_hash or settings.dashboard_password
        key = hashlib.sha256(b"logdig-dashboard-session\0" + secret.encode()).digest()
        self.signer = URLSafeTimedSerializer(key, salt="dashboard-session")

    def password_ok(self, given: str) -> bool:
        if self.settings.dashboard_password_hash:
            return check_password_hash(self.settings.dashboard_password_hash, given)
        return hmac.compare_digest(given.encode(), self.settings.dashboard_password.encode())

    def attempt(self, client: str, given: str) -> bool:
        """Check a password; each failure from `client` waits longer (0.5 s, 1 s, 2 s ... 8 s)."""
        if self.password_ok(given):
            with self.lock:
                self.failures.pop(client, None)
            return True
        with self.lock:
            count = self.failures[client] = self.failures.get(client, 0) + 1
            if len(self.failures) > 10_000:  # bounded memory under a spray of addresses
                self.failures.clear()
        self.sleep(min(0.5 * 2 ** (count - 1), MAX_DELAY_SECONDS))
        return False

    def cookie_value(self) -> str:
        return self.signer.dumps({"signed_in": True})

    def signed_in(self, cookie: str | None) -> bool:
        if self.open:
            return True
        if not cookie:
            return False
        try:
            return bool(self.signer.loads(cookie, max_age=SESSION_SECONDS).get("signed_in"))
        except BadSignature:
            return False
