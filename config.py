"""Every LogDig setting, read from LOGDIG_* environment variables.

Defaults make local mode work untouched. An invalid value stops the program at start
with a ConfigError naming the variable and the value it got. No credentials live here:
boto3's own credential chain and AWS_ENDPOINT_URL[_SQS|_S3] select the account and endpoint.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PREFIX = "LOGDIG_"
SERVICE_NAME_RE = re.compile(r"^[a-z0-9-]{1,40}$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_.~-]{1,128}$")
ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


class ConfigError(ValueError):
    """A setting has a value LogDig cannot use."""


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value

    return parse


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _service_name(raw: str) -> str:
    if not SERVICE_NAME_RE.match(raw):
        raise ValueError("must be 1-40 lowercase letters, digits or '-'")
    return raw


def _prefix(raw: str) -> str:
    if raw.startswith("/") or ".." in raw.split("/"):
        raise ValueError("must be a relative key prefix such as 'events/'")
    return raw if not raw or raw.endswith("/") else raw + "/"


def _origin(raw: str) -> str:
    if not ORIGIN_RE.match(raw):
        raise ValueError(f"origin {raw!r} must look like https://example.com[:port]")
    return raw


def _origins(raw: str) -> tuple[str, ...]:
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if items == ["*"]:
        return ("*",)
    return tuple(_origin(item) for item in items)


def _tokens(raw: str) -> dict[str, tuple[str, ...]]:
    """`tok1,tok2=https://a.com|https://b.com` -> {token: allowed origins (empty = any)}."""
    tokens: dict[str, tuple[str, ...]] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        token, _, origins = item.partition("=")
        if not TOKEN_RE.match(token):
            raise ValueError(f"token {token!r} must be 1-128 of [A-Za-z0-9_.~-]")
        tokens[token] = tuple(_origin(o.strip()) for o in origins.split("|") if o.strip())
    return tokens


def _password_hash(raw: str) -> str:
    # werkzeug's format: method$salt$hash (pbkdf2:sha256:..., scrypt:...)
    if raw and raw.count("$") != 2:
        raise ValueError("must be a hash from `python -m dashboard hash-password`")
    return raw


def _time_zone(raw: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be a time zone name such as UTC or Europe/Berlin") from None
    return raw


def _setting(default: Any, parse: Callable[[str], Any] = str, doc: str = "") -> Any:
    meta = {"parse": parse, "doc": doc, "default": default}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    service_name: str = _setting("logdig", _service_name, "Names the AWS resources")
    host: str = _setting("127.0.0.1", str, "Local server address")
    port: int = _setting(8000, _int(0, 65535), "Local server port")
    workers: int = _setting(1, _int(1, 64), "Collector worker processes (app/server.py, granian)")
    threads: int = _setting(32, _int(1, 256), "Threads per collector worker")
    data_dir: Path = _setting(Path("./data"), Path, "Local mode: queue and lake live here")
    queue_url: str = _setting("", str, "SQS queue URL; set it to use SQS instead of the local queue")
    bucket: str = _setting("", str, "S3 bucket; set it to use S3 instead of the local lake")
    lake_prefix: str = _setting("events/", _prefix, "Key prefix of event objects in the lake")
    bad_prefix: str = _setting("bad/", _prefix, "Key prefix for messages that cannot be parsed")
    min_messages: int = _setting(100, _int(1, 10_000_000), "Drain once this many messages wait")
    max_wait_seconds: int = _setting(
        60, _int(0, 86_400), "...or once the oldest message waited this long"
    )
    drain_interval_seconds: float = _setting(5.0, float, "Local mode: seconds between drain checks")
    drain_budget_seconds: float = _setting(
        120.0, float, "Local mode: a drain run stops receiving after this long (Lambda: its timeout)"
    )
    drain_margin_seconds: float = _setting(
        10.0, float, "Seconds a drain keeps to store and delete before its budget or the first "
        "message's visibility timeout ends"
    )
    visibility_timeout_seconds: int = _setting(
        300, _int(1, 43_200), "How long a received message stays hidden before redelivery"
    )
    max_object_bytes: int = _setting(
        64 * 1024 * 1024, _int(1024, 2**31), "Uncompressed bytes per lake object at most"
    )
    tokens: dict = _setting({}, _tokens, "Accepted tokens: `tok` or `tok=https://origin|...`")
    allowed_origins: tuple = _setting(("*",), _origins, "CORS origins granted, or *")
    trusted_proxy_hops: int = _setting(
        0, _int(0, 10), "X-Forwarded-For hops to trust (1 behind one proxy)"
    )
    anonymize_ip: bool = _setting(True, _bool, "Zero the IPv4 last octet / IPv6 last 80 bits")
    user_id_secret: str = _setting(
        "", str, "When set, member ids (`user_id`) are stored as their HMAC-SHA256 with it")
    max_body_bytes: int = _setting(256 * 1024, _int(1024, 16 * 1024 * 1024), "Request body cap")
    max_events_per_request: int = _setting(500, _int(1, 10_000), "Events per request at most")
    flush_wait_ms: int = _setting(10, _int(0, 1000), "Group commit: ms to gather requests")
    max_message_bytes: int = _setting(
        262_144, _int(1024, 1_048_576), "The queue's maximum message size"
    )
    queue_retry_seconds: float = _setting(3.0, float, "Give up on the queue after this long: 503")
    aws_region: str = _setting("us-east-1", str, "AWS region when none is configured")
    dashboard_password: str = _setting(
        "", str, "Dashboard sign-in password, required when listening off loopback")
    dashboard_password_hash: str = _setting(
        "", _password_hash, "...or its hash (python -m dashboard hash-password)")
    dashboard_tz: str = _setting("UTC", _time_zone, "Dashboard's default time zone (IANA name)")
    dashboard_reports: int = _setting(
        0, _int(0, 64), "Dashboard reports computed at once per process (0: one per CPU core)")

    @property
    def local_queue(self) -> bool:
        return not self.queue_url

    @property
    def local_lake(self) -> bool:
        return not self.bucket

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.sqlite3"


def env_name(name: str) -> str:
    return PREFIX + name.upper()


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from `env` (default os.environ); keyword overrides win and are not parsed."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for spec in fields(Settings):
        raw = env.get(env_name(spec.name))
        if raw is None or spec.name in overrides:
            continue
        try:
            values[spec.name] = spec.metadata["parse"](raw)
        except ValueError as exc:
            raise ConfigError(f"{env_name(spec.name)}={raw!r}: {exc}") from None
    values.update(overrides)
    return Settings(**values)


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) rows for the README's configuration table."""
    rows = []
    for spec in fields(Settings):
        default = spec.metadata["default"]
        if isinstance(default, tuple):
            default = ",".join(default)
        rows.append((env_name(spec.name), str(default) or "(empty)", spec.metadata["doc"]))
    return rows
